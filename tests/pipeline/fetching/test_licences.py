"""Licences: short ids from what sites and manifests write, and the allow list in fetch.

The allow list is applied as soon as the licence is known: a manifest column before any
request, the site's metadata after extraction and before the media is requested (a refused
video whose media URL is missing still ends as licence_not_allowed, not http_404), a direct
link (no metadata: unknown) likewise, a folder file before it is probed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.network import refuse_beyond_loopback
from support.shards import make_video
from yt_dlp.extractor.common import InfoExtractor

from longvid_pipeline.demo.server import serve_folder
from longvid_pipeline.fetching.guarded_ydl import GuardedYoutubeDL
from longvid_pipeline.fetching.licences import licence_id
from longvid_pipeline.ids import input_id_for
from longvid_pipeline.item import WorkItem
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.fetch import FetchConfig, FetchStage

CONFIG = FetchConfig(retries=0, timeout_s=2.0, allow_loopback=True, keep_subtitles=False)
YOUTUBE_CC = "Creative Commons Attribution license (reuse allowed)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (YOUTUBE_CC, "cc-by"),
        ("https://creativecommons.org/licenses/by-sa/4.0/", "cc-by-sa"),
        ("http://creativecommons.org/licenses/by-nc-nd/3.0/", "cc-by-nc-nd"),
        ("https://creativecommons.org/publicdomain/zero/1.0/", "cc0"),
        ("https://creativecommons.org/publicdomain/mark/1.0/", "public-domain"),
        ("CC BY-NC 4.0", "cc-by-nc"),
        ("Attribution-NonCommercial-ShareAlike 4.0 International", "cc-by-nc-sa"),
        ("by-sa", "cc-by-sa"),  # Vimeo's and SoundCloud's form
        ("CC0 1.0 Universal", "cc0"),
        ("Public Domain", "public-domain"),
        ("Standard YouTube License", "standard-youtube-license"),
        ("Apache-2.0", "apache-2.0"),
        ("", "unknown"),
        ("None", "unknown"),
        (None, "unknown"),
    ],
)
def test_licence_texts_become_short_ids(text: str | None, expected: str) -> None:
    assert licence_id(text) == expected


class _LoopSiteIE(InfoExtractor):
    """A 'site' on the loopback server: /site/<id> pages whose metadata carry a licence."""

    _VALID_URL = r"http://127\.0\.0\.1:\d+/site/(?P<id>\w+)"
    LICENCES = {"open": YOUTUBE_CC, "closed": "Standard YouTube License"}

    def _real_extract(self, url: str) -> dict[str, Any]:
        video_id = self._match_id(url)
        base = url.split("/site/")[0]
        media = "good.mp4" if video_id == "open" else "missing.mp4"  # closed: never requested
        return {
            "id": video_id,
            "title": f"site video {video_id}",
            "url": f"{base}/{media}",
            "ext": "mp4",
            "license": self.LICENCES[video_id],
            "uploader": "Ann Example",
            "webpage_url": url,
        }


@pytest.fixture()
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Base URL of a loopback server with good.mp4, its pages known to yt-dlp as a site."""
    refuse_beyond_loopback(monkeypatch)
    served = tmp_path / "served"
    make_video(served / "good.mp4", seconds=2.0)
    original = GuardedYoutubeDL.__init__

    def with_site(self: GuardedYoutubeDL, params: dict[str, Any], resolver: Any) -> None:
        original(self, params, resolver)
        self.add_info_extractor(_LoopSiteIE())
        self._ies = {"_LoopSite": self._ies.pop("_LoopSite"), **self._ies}  # before generic

    monkeypatch.setattr(GuardedYoutubeDL, "__init__", with_site)
    with serve_folder(served) as base:
        yield base


def _fetch(out: Path, row: dict[str, Any], allowed: list[str], kind: str = "manifest") -> WorkItem:
    config = replace(CONFIG, allowed_licences=allowed)
    item = WorkItem(input_id=input_id_for(row["url"]), source=row, source_kind=kind)
    return FetchStage(config, RunContext(out_dir=str(out))).run_item(item)


def _reject_reason(item: WorkItem) -> str:
    assert item.video is None and len(item.rejects) == 1, item.video
    return str(item.rejects[0]["reason"])


def test_site_metadata_decides_before_the_media_is_requested(tmp_path: Path, site: str) -> None:
    kept = _fetch(tmp_path, {"url": f"{site}site/open"}, ["CC BY", "cc0"])
    assert kept.video is not None, kept.rejects
    assert {
        key: kept.video[key] for key in ("license", "license_text", "uploader", "page_url")
    } == {
        "license": "cc-by",
        "license_text": YOUTUBE_CC,
        "uploader": "Ann Example",
        "page_url": f"{site}site/open",
    }
    refused = _fetch(tmp_path, {"url": f"{site}site/closed"}, ["cc-by", "cc0"])
    assert _reject_reason(refused) == "licence_not_allowed"  # not http_404: no media request
    assert "standard-youtube-license" in refused.rejects[0]["detail"]
    anything = _fetch(tmp_path, {"url": f"{site}site/closed"}, [])  # empty list: keep all
    assert _reject_reason(anything) == "http_404"  # it got as far as the media


def test_manifest_columns_win_and_decide_before_any_request(tmp_path: Path, site: str) -> None:
    row = {
        "url": f"{site}good.mp4",  # a direct link: yt-dlp's generic path, no site metadata
        "licence": "https://creativecommons.org/licenses/by-sa/4.0/",
        "uploader": "Bo",
        "page_url": "https://example.org/page",
    }
    video = _fetch(tmp_path, row, ["cc-by-sa"]).video
    assert video is not None
    assert (video["license"], video["uploader"], video["page_url"]) == (
        "cc-by-sa",
        "Bo",
        "https://example.org/page",
    )
    assert json.loads(video["metadata"])["licence"] == row["licence"]
    nowhere = {"url": "http://127.0.0.1:9/none.mp4", "license": "CC BY-NC 4.0"}  # port 9: closed
    assert _reject_reason(_fetch(tmp_path, nowhere, ["cc-by"])) == "licence_not_allowed"


def test_direct_link_and_folder_file_without_a_licence_are_unknown(
    tmp_path: Path, site: str
) -> None:
    url = f"{site}good.mp4"
    assert _reject_reason(_fetch(tmp_path / "a", {"url": url}, ["cc-by"])) == "licence_not_allowed"
    video = _fetch(tmp_path / "b", {"url": url}, ["cc-by", "unknown"]).video
    assert video is not None
    assert (video["license"], video["license_text"], video["page_url"]) == ("unknown", None, url)
    local = make_video(tmp_path / "folder" / "clip.mp4", seconds=2.0)
    folder_row = {"url": str(local)}
    assert _reject_reason(_fetch(tmp_path / "c", folder_row, ["cc0"], "folder")) == (
        "licence_not_allowed"
    )
    kept = _fetch(tmp_path / "d", folder_row, [], "folder").video
    assert kept is not None
    assert (kept["license"], kept["license_text"], kept["uploader"], kept["page_url"]) == (
        "unknown",
        None,
        None,
        None,
    )
