"""What comes with a video: ground-truth annotations, subtitles, the site's info JSON.

Annotations are read from a local path or a URL (under the same address rules as the
media: every hop checked, connections pinned by the input's resolver); subtitles are
parsed into cues and copied next to the normalized media, as is the site's info JSON.
"""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.parse
from pathlib import Path
from typing import Any

from longvid_pipeline.captioning.formats import parse_annotation_text
from longvid_pipeline.fetching.download import Fetched, classify_download_error, with_retries
from longvid_pipeline.fetching.pinning import PinnedResolver, pinned_opener
from longvid_pipeline.fetching.safety import UnsafeURL, safe_child
from longvid_pipeline.fetching.subtitles import parse_vtt
from longvid_pipeline.stage import Reject

MAX_ANNOTATIONS_BYTES = 64 * 1024 * 1024


def read_annotations(
    source: dict[str, Any],
    resolver: PinnedResolver,
    timeout_s: float,
    retries: int,
    backoff_s: float,
) -> dict[str, Any] | None:
    """Annotations from `annotations_url` (same safety rules) or `annotations_path`.

    A JSON object is kept as it is; JSONL (or a JSON list) as {"records": rows}, so the
    caption stage can read any dataset format (`captioning.formats`)."""
    url, path = source.get("annotations_url"), source.get("annotations_path")
    if not url and not path:
        return None
    try:
        if url:
            text = read_url(str(url), resolver, timeout_s, retries, backoff_s)
        else:
            text = Path(str(path)).read_bytes()
        name = urllib.parse.urlsplit(str(url)).path if url else str(path)
        return parse_annotation_text(text.decode("utf-8"), name)
    except Reject as failure:
        raise Reject("bad_annotations", f"{failure.reason}: {failure.detail}") from failure
    except (OSError, ValueError) as exc:
        raise Reject("bad_annotations", f"{type(exc).__name__}: {exc}") from exc


def read_url(
    url: str,
    resolver: PinnedResolver,
    timeout_s: float,
    retries: int,
    backoff_s: float,
    max_bytes: int = MAX_ANNOTATIONS_BYTES,
) -> bytes:
    """The body of `url` (a sidecar, a needle image): the URL and every redirect hop
    checked by `resolver` and connected to at the checked address, transient failures
    retried, at most `max_bytes` (more is a `too_large` Reject)."""
    opener = pinned_opener(resolver)

    def attempt() -> bytes:
        try:
            resolver.check_url(url)
            with opener.open(url, timeout=timeout_s) as response:
                body = response.read(max_bytes + 1)
        except (urllib.error.URLError, OSError, UnsafeURL) as exc:
            raise classify_download_error(exc) from exc
        if len(body) > max_bytes:
            raise Reject("too_large", f"body over {max_bytes} bytes")
        return body

    return with_retries(attempt, retries, backoff_s)


def pick_subtitles(files: list[Path], langs: list[str]) -> Path | None:
    """The subtitle file of the first preferred language present, else the first file."""
    for lang in langs:
        for path in files:
            if path.name.endswith(f".{lang}.vtt") or path.name.endswith(f".{lang}-orig.vtt"):
                return path
    return files[0] if files else None


def keep_subtitles(
    fetched: Fetched, langs: list[str], media_dir: Path, video_id: str
) -> list[dict[str, Any]]:
    """Copy the preferred subtitle file next to the media and return its cues."""
    chosen = pick_subtitles(fetched.subtitle_files, langs)
    if chosen is None:
        return []
    cues = parse_vtt(chosen.read_text(encoding="utf-8", errors="replace"))
    if cues:
        shutil.copyfile(chosen, safe_child(media_dir, f"{video_id}.vtt"))
    return cues


def keep_info_json(fetched: Fetched, media_dir: Path, video_id: str) -> None:
    """The site's info JSON next to the media (nothing for local files and direct links)."""
    if fetched.canonical is None and not fetched.info.get("extractor"):
        return
    target = safe_child(media_dir, f"{video_id}.info.json")
    target.write_text(json.dumps(fetched.info, default=str), encoding="utf-8")
