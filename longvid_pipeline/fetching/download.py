"""Downloading one URL: yt-dlp behind an address guard, retries, and failure reasons.

Every request yt-dlp makes goes through `GuardedYoutubeDL` (`fetching.guarded_ydl`):
each URL and redirect hop is checked before it is sent, and connections go to the
address the input's `PinnedResolver` checked. Transient failures (5xx, 408, 429, timeouts,
dropped connections) are retried with exponential backoff while permanent ones (other
4xx, unsupported pages) are not. Every failure becomes a `Reject` with a short reason.
"""

from __future__ import annotations

import errno
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yt_dlp

from longvid_pipeline.errors import DiskFullError, exception_chain, is_disk_full
from longvid_pipeline.fetching.guarded_ydl import FFMPEG_INPUT_ARGS, GuardedYoutubeDL
from longvid_pipeline.fetching.pinning import PinnedResolver
from longvid_pipeline.fetching.safety import UnsafeURL
from longvid_pipeline.stage import Reject

T = TypeVar("T")
RETRIABLE_HTTP = frozenset({408, 429})
GENERIC_EXTRACTORS = frozenset({"generic", "html5mediaembed"})
EMPTY_BODY = "did not get any data blocks"  # yt-dlp's HTTP downloader on a zero-byte body


@dataclass
class Fetched:
    """A file on local disk, ready to probe, and what its origin told about it."""

    path: Path
    canonical: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    subtitle_files: list[Path] = field(default_factory=list)


class TransientReject(Reject):
    """A failure worth retrying (server error, timeout); becomes a plain reject at the end."""


# ---------------------------------------------------------------------------- errors


def classify_download_error(exc: BaseException) -> Reject:
    """Map a yt-dlp / urllib failure to a reject; transient ones come back as TransientReject.

    A full disk is no reject (the input is fine): it is raised, unretried, to stop the run."""
    if is_disk_full(exc):
        raise DiskFullError(
            errno.ENOSPC, f"no space left on device while downloading: {exc}"
        ) from exc
    detail = str(exc)[:2000]
    for link in exception_chain(exc):
        if isinstance(link, UnsafeURL):
            return Reject(link.reason, link.detail)
        status = getattr(link, "status", None) or getattr(link, "code", None)
        if isinstance(status, int) and 400 <= status < 600:
            kind = TransientReject if status >= 500 or status in RETRIABLE_HTTP else Reject
            return kind(f"http_{status}", detail)
    for link in exception_chain(exc):
        if isinstance(link, TimeoutError) or "timed out" in str(link).lower():
            return TransientReject("timeout", detail)
    if "unsupported url" in detail.lower():
        return Reject("not_a_video", detail)
    if EMPTY_BODY in detail.lower():  # a 200 with no bytes: the server has nothing to give
        return Reject("empty_download", detail)
    if isinstance(exc, (yt_dlp.utils.DownloadError, urllib.error.URLError, OSError)):
        return TransientReject("download_error", detail)
    return Reject("download_error", detail)


def with_retries(attempt: Callable[[], T], retries: int, backoff_s: float) -> T:
    """Run `attempt`, retrying TransientReject with exponential backoff; 4xx never retried."""
    for number in range(retries + 1):
        try:
            return attempt()
        except TransientReject as failure:
            if number == retries:
                raise Reject(
                    failure.reason, f"after {retries + 1} attempts: {failure.detail}"
                ) from failure
            time.sleep(backoff_s * 2**number)
    raise AssertionError("unreachable")


class _YdlLog:
    """Collects yt-dlp's messages (quiet runs) so a skipped download can say why."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, message: str) -> None:
        self.lines.append(message)

    info = warning = error = debug


class MatchFilter:
    """yt-dlp match_filter: refuses playlists and, when the extractor knows them, long or big videos."""

    def __init__(self, max_duration_s: float, max_bytes: int) -> None:
        self.max_duration_s = max_duration_s
        self.max_bytes = max_bytes
        self.rejection: Reject | None = None

    def __call__(self, info: dict[str, Any], *, incomplete: bool = False) -> str | None:
        if info.get("_type") == "playlist":
            self.rejection = Reject(
                "playlist", "the URL is a playlist: list its videos in a manifest"
            )
        elif (info.get("duration") or 0) > self.max_duration_s:
            self.rejection = Reject(
                "too_long", f"duration {info['duration']}s > {self.max_duration_s}s"
            )
        elif (info.get("filesize") or info.get("filesize_approx") or 0) > self.max_bytes:
            size = info.get("filesize") or info.get("filesize_approx")
            self.rejection = Reject("too_large", f"{size} bytes > {self.max_bytes}")
        else:
            return None
        return self.rejection.detail


def _format_selector(max_height: int) -> str:
    """Prefer MP4/M4A at or below the height cap (often a stream copy later), else anything."""
    h = max_height
    return (
        f"bv*[height<=?{h}][ext=mp4]+ba[ext=m4a]/b[height<=?{h}][ext=mp4]"
        f"/bv*[height<=?{h}]+ba/b[height<=?{h}]/b"
    )


def _downloaded_media(info: dict[str, Any], tmp: Path) -> Path | None:
    for download in info.get("requested_downloads") or []:
        path = Path(download.get("filepath") or "")
        if path.is_file():
            return path
    candidates = [
        p for p in tmp.glob("media.*") if p.suffix not in (".json", ".vtt", ".part", ".ytdl")
    ]
    return candidates[0] if len(candidates) == 1 else None


def canonical_source(info: dict[str, Any]) -> str | None:
    """`extractor:id` for real sites; None for generic/direct links (content hash instead)."""
    extractor = str(info.get("extractor_key") or info.get("extractor") or "").lower()
    if not extractor or extractor in GENERIC_EXTRACTORS or not info.get("id"):
        return None
    return f"{extractor}:{info['id']}"


def chapters_from_info(info: dict[str, Any]) -> list[dict[str, Any]]:
    """Chapters of the site info JSON as [{start_s, end_s, title}] (floats, strings)."""
    chapters = []
    for chapter in info.get("chapters") or []:
        try:
            start, end = float(chapter["start_time"]), float(chapter["end_time"])
        except (KeyError, TypeError, ValueError):
            continue
        chapters.append({"start_s": start, "end_s": end, "title": str(chapter.get("title") or "")})
    return chapters


class DownloadSettings(Protocol):
    """The fetch config fields a download reads."""

    max_duration_s: float
    max_filesize_mb: float
    max_height: int
    timeout_s: float
    cookies_file: str | None
    keep_subtitles: bool
    subtitle_langs: list[str]


def ydl_params(
    tmp: Path, settings: DownloadSettings, ffmpeg: str, log: _YdlLog, match: MatchFilter
) -> dict[str, Any]:
    """yt-dlp options: one attempt (retries are ours), quiet, capped, into `tmp`."""
    params: dict[str, Any] = {
        "outtmpl": {"default": "media.%(ext)s"},
        "paths": {"home": str(tmp), "temp": str(tmp)},
        "format": _format_selector(settings.max_height),
        "merge_output_format": "mp4",
        "writeinfojson": True,
        "writesubtitles": settings.keep_subtitles,
        "writeautomaticsub": settings.keep_subtitles,
        "subtitleslangs": list(settings.subtitle_langs),
        "subtitlesformat": "vtt",
        "socket_timeout": settings.timeout_s,
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "file_access_retries": 0,
        "match_filter": match,
        "max_filesize": int(settings.max_filesize_mb * 1024 * 1024),
        "ffmpeg_location": ffmpeg,
        "noplaylist": True,
        "quiet": True,
        "no_warnings": True,
        "noprogress": True,
        "logger": log,
        "overwrites": True,
        "cachedir": False,
        "external_downloader": {"default": "native"},
        "external_downloader_args": {"ffmpeg_i": FFMPEG_INPUT_ARGS},
    }
    if settings.cookies_file:
        params["cookiefile"] = settings.cookies_file
    return params


def download_once(
    url: str,
    tmp: Path,
    settings: DownloadSettings,
    ffmpeg: str,
    resolver: PinnedResolver,
    claim: Callable[[str], None],
    vet: Callable[[dict[str, Any]], None] | None = None,
) -> Fetched:
    """One yt-dlp attempt into `tmp`; raises Reject / TransientReject on failure.

    Extraction and download are two steps so that a video is vetted (`vet` sees the
    site's metadata: its licence) and a site video (extractor:id known before any media
    byte) is claimed first: a refused or duplicate video is never downloaded. Direct
    links are claimed by content hash after the download."""
    log = _YdlLog()
    max_bytes = int(settings.max_filesize_mb * 1024 * 1024)
    match = MatchFilter(settings.max_duration_s, max_bytes)
    try:
        with GuardedYoutubeDL(ydl_params(tmp, settings, ffmpeg, log, match), resolver) as ydl:
            extracted = ydl.extract_info(url, download=False, process=False) or {}
            is_video = extracted.get("_type", "video") == "video"
            if is_video and vet is not None:
                vet(extracted)
            canonical = canonical_source(extracted) if is_video else None
            if canonical:
                claim(canonical)
            info = ydl.sanitize_info(ydl.process_ie_result(extracted, download=True)) or {}
    except (yt_dlp.utils.YoutubeDLError, UnsafeURL, OSError) as exc:
        raise classify_download_error(exc) from exc
    if match.rejection:
        raise match.rejection
    path = _downloaded_media(info, tmp)
    if path is not None and path.stat().st_size == 0:
        raise Reject("empty_download", f"{url} answered with an empty body")
    if path is None:
        if any("larger than max-filesize" in line for line in log.lines):
            raise Reject("too_large", f"download larger than {settings.max_filesize_mb} MiB")
        raise Reject("download_error", "yt-dlp produced no file: " + " | ".join(log.lines[-5:]))
    return Fetched(
        path=path,
        canonical=canonical_source(info),
        info=info,
        subtitle_files=sorted(tmp.glob("media*.vtt")),
    )
