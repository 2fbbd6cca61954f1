"""Fetch: download (yt-dlp) or pick up (folder) one input, check it, normalize it under OUT.

The first stage, and the one that meets the outside world, so it is defensive: URLs and
every redirect hop are checked before the request is sent, and connections go to the
address that was checked (`fetching.safety`, `fetching.pinning`), downloads are capped in duration and
size and retried only when the failure is transient (`fetching.download`), and a per-host
slot limit keeps many workers from hammering one site. Every failure becomes a `Reject`
with a short reason; the stage never raises for one bad input.

After download the file is probed, its packets demuxed once (truncation, keyframe gaps)
and its last second decoded (`fetching.inspect`), then normalized
(`fetching.normalize`) to OUT/media/<video_id>.mp4 with its info JSON and subtitles kept
next to it (`fetching.sidecars`). The temporary folder OUT/.tmp/<input_id>/ is removed in
every case.
"""

from __future__ import annotations

import json
import shutil
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from longvid_pipeline.fetching.config import FetchConfig
from longvid_pipeline.fetching.coordination import (
    CLAIMS_DIR,
    ActorClaims,
    ActorHostSlots,
    HostSlots,
    VideoClaims,
)
from longvid_pipeline.fetching.download import (
    Fetched,
    chapters_from_info,
    download_once,
    with_retries,
)
from longvid_pipeline.fetching.inspect import inspect_media, sha256_file
from longvid_pipeline.fetching.licences import (
    allowed_ids,
    check_licence,
    declared_licence,
    licence_id,
)
from longvid_pipeline.fetching.normalize import normalize
from longvid_pipeline.fetching.pinning import PinnedResolver
from longvid_pipeline.fetching.safety import UnsafeURL, safe_child
from longvid_pipeline.fetching.sidecars import keep_info_json, keep_subtitles, read_annotations
from longvid_pipeline.fetching.subtitles import subtitle_sidecars
from longvid_pipeline.ids import video_id_for
from longvid_pipeline.item import WorkItem, utc_now
from longvid_pipeline.media.ffmpeg import ffmpeg_binary
from longvid_pipeline.media.probe import probe
from longvid_pipeline.stage import Reject, Stage


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def attribution(source: dict[str, Any], info: dict[str, Any]) -> dict[str, str | None]:
    """Licence (as an id and as written), uploader and page of a video: the manifest's
    columns first (the user's word), then the site's metadata."""
    text = declared_licence(source) or _text_or_none(info.get("license"))
    return {
        "license": licence_id(text),
        "license_text": text,
        "uploader": _text_or_none(
            source.get("uploader") or info.get("uploader") or info.get("channel")
        ),
        "page_url": _text_or_none(source.get("page_url") or info.get("webpage_url")),
    }


class FetchStage(Stage):
    """Download or pick up one input, check it, and write its normalized media under OUT."""

    name: ClassVar[str] = "fetch"
    uses_actor: ClassVar[bool] = False
    Config: ClassVar[type] = FetchConfig

    def setup(self) -> None:
        """Resolve the ffmpeg binary once per worker (imageio-ffmpeg may unpack it)."""
        self.ffmpeg = ffmpeg_binary()
        limit, coordinator = self.config.per_host_concurrency, self.context.coordinator
        self.slots: HostSlots | ActorHostSlots = (
            ActorHostSlots(coordinator, limit)
            if coordinator
            else HostSlots(self.context.out / ".locks", limit)
        )
        self.claims: VideoClaims | ActorClaims = (
            ActorClaims(coordinator) if coordinator else VideoClaims(self.context.out / CLAIMS_DIR)
        )
        self.allowed_licences = allowed_ids(self.config.allowed_licences)

    def process(self, item: WorkItem) -> WorkItem:
        tmp = safe_child(self.context.out / ".tmp", item.input_id)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            return self._fetch(item, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _fetch(self, item: WorkItem, tmp: Path) -> WorkItem:
        url = item.source.get("url")
        if not isinstance(url, str) or not url.strip():
            raise Reject("malformed_url", f"no url in the input row: {url!r}")

        declared = declared_licence(item.source)
        if declared is not None or item.source_kind == "folder":  # known before any request
            check_licence(declared, self.allowed_licences, "the input row")

        def vet(site_info: dict[str, Any]) -> None:  # the site's metadata, before any media byte
            if declared is None:
                check_licence(site_info.get("license"), self.allowed_licences, "the site")

        def claim(canonical: str) -> None:
            self._claim(item, video_id_for(canonical))

        # One resolver per input: its media URL, every redirect hop and its annotations
        # are checked once per host and connected to at the checked address.
        resolver = PinnedResolver(self.config.allow_loopback, self.config.allow_private)
        if item.source_kind == "folder":
            fetched = self._local(url)
        else:
            fetched = self._remote(url, tmp, claim, resolver, vet)
            vet(fetched.info)  # a page that resolved to its video only while downloading
        info, scan = inspect_media(fetched.path, self.config)
        video_id = video_id_for(fetched.canonical or "sha256:" + sha256_file(fetched.path))
        self._claim(item, video_id)
        media_dir = self.context.media_dir()
        media = safe_child(media_dir, f"{video_id}.mp4")
        media.parent.mkdir(parents=True, exist_ok=True)
        normalized_by = normalize(fetched.path, media, info, self.config, scan)
        config = self.config
        item.annotations = read_annotations(
            item.source, resolver, config.timeout_s, config.retries, config.backoff_s
        )
        if config.keep_subtitles:
            item.subtitles = keep_subtitles(
                fetched, list(config.subtitle_langs), media_dir, video_id
            )
        item.chapters = chapters_from_info(fetched.info)
        keep_info_json(fetched, media_dir, video_id)
        item.media_path = str(media)
        item.video = self._video_row(item, fetched, video_id, media, normalized_by)
        if self.context.store_url:  # later stages may run on another machine
            from longvid_pipeline.store import StoreOut

            StoreOut(self.context.store_url).upload_media(self.context.out, video_id)
        return item

    def _local(self, path_text: str) -> Fetched:
        """A folder-source file: must be an existing regular file; no network involved."""
        path = Path(path_text)
        if not path.is_absolute():
            raise Reject("malformed_url", f"folder inputs are absolute paths, got {path_text!r}")
        if not path.exists():
            raise Reject("missing_file", f"{path_text} does not exist")
        if not path.is_file():
            raise Reject("not_a_video", f"{path_text} is not a regular file")
        return Fetched(path=path, info={"title": path.stem}, subtitle_files=subtitle_sidecars(path))

    def _claim(self, item: WorkItem, video_id: str) -> None:
        """Dedup: the same video reached through another input is processed once.

        The item records what it owns (released if it is rejected later) or whom it
        duplicates (the driver holds it until that owner's fate is known)."""
        owner = self.claims.claim(video_id, item.input_id)
        if owner is not None:
            item.duplicate_of = owner
            raise Reject(
                "duplicate_video", f"video {video_id} is already processed for input {owner}"
            )
        if video_id not in item.claimed:
            item.claimed.append(video_id)

    def _remote(
        self,
        url: str,
        tmp: Path,
        claim: Callable[[str], None],
        resolver: PinnedResolver,
        vet: Callable[[dict[str, Any]], None],
    ) -> Fetched:
        try:  # an unsafe URL rejects the input before any slot is taken
            resolver.check_url(url)
        except UnsafeURL as unsafe:
            raise Reject(unsafe.reason, unsafe.detail) from unsafe
        host = urllib.parse.urlsplit(url).hostname or ""

        def attempt() -> Fetched:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            with self.slots.hold(host):
                return download_once(url, tmp, self.config, self.ffmpeg, resolver, claim, vet)

        return with_retries(attempt, self.config.retries, self.config.backoff_s)

    def _video_row(
        self, item: WorkItem, fetched: Fetched, video_id: str, media: Path, normalized_by: str
    ) -> dict[str, Any]:
        """The `videos` row, typed exactly as schemas/videos.sql says."""
        final = probe(media)
        source, info = item.source, fetched.info
        metadata = {key: value for key, value in source.items() if key != "url"}
        return {
            "video_id": video_id,
            "input_id": item.input_id,
            "source": item.source_kind,
            "url": str(source["url"]),
            "uri": media.relative_to(self.context.out.resolve()).as_posix(),
            "title": _text_or_none(source.get("title") or info.get("title") or fetched.path.stem),
            "duration_s": float(final.duration_s),
            "fps": float(final.fps),
            "width": int(final.width),
            "height": int(final.height),
            "video_codec": final.video_codec,
            "audio_codec": final.audio_codec,
            "bytes": int(media.stat().st_size),
            "sha256": sha256_file(media),
            "normalized_by": normalized_by,
            **attribution(source, info),
            "has_subtitles": bool(item.subtitles),
            "has_chapters": bool(item.chapters),
            "has_annotations": item.annotations is not None,
            "metadata": json.dumps(metadata, sort_keys=True, default=str),
            "sample_frames": None,
            "sample_fps": None,
            "sample_timestamps": None,
            "timestamp_prompt": None,
            "fetched_at": utc_now(),
        }
