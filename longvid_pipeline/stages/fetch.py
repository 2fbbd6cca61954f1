"""Fetch: download (yt-dlp) or pick up (folder) one input, check it, normalize it under OUT.

The first stage, and the one that meets the outside world, so it is defensive: URLs are
checked before every request yt-dlp makes (`safety.check_url`), downloads are capped in
duration and size, transient failures (5xx, 408, 429, timeouts, dropped connections) are
retried with exponential backoff while permanent ones (other 4xx, unsupported pages) are
not, and a per-host slot limit keeps many workers from hammering one site. Every failure
becomes a `Reject` with a short reason; the stage never raises for one bad input.

After download the file is probed (PyAV), its packets are demuxed once (truncation and
keyframe gaps), its last second is decoded (damage), and it is normalized
(`normalize.normalize`) to OUT/media/<video_id>.mp4 with its info JSON and subtitles
kept next to it. The temporary folder OUT/.tmp/<input_id>/ is removed in every case.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yt_dlp

from longvid_pipeline.config import param
from longvid_pipeline.coordination import HostSlots, VideoClaims
from longvid_pipeline.errors import DiskFullError, exception_chain, is_disk_full
from longvid_pipeline.ids import video_id_for
from longvid_pipeline.item import WorkItem, utc_now
from longvid_pipeline.media import MediaInfo, ProbeError, ffmpeg_binary, probe
from longvid_pipeline.normalize import (
    MediaDamaged,
    PacketScan,
    check_complete,
    check_decodable,
    normalize,
    scan_packets,
)
from longvid_pipeline.safety import UnsafeURL, check_url, safe_child
from longvid_pipeline.sources import parse_vtt, subtitle_sidecars
from longvid_pipeline.stage import Reject, Stage

T = TypeVar("T")
MAX_ANNOTATIONS_BYTES = 64 * 1024 * 1024
RETRIABLE_HTTP = frozenset({408, 429})
GENERIC_EXTRACTORS = frozenset({"generic", "html5mediaembed"})


@dataclass
class FetchConfig:
    """Parameters of the fetch stage (recipe section `fetch`)."""

    max_duration_s: float = param(3600.0, "reject videos longer than this (seconds)", min=1.0)
    max_filesize_mb: float = param(2048.0, "reject downloads larger than this (MiB)", min=0.001)
    max_height: int = param(720, "normalized video height cap (pixels)", min=16)
    keyframe_interval_s: float = param(
        2.0, "max seconds between keyframes after normalizing", min=0.1
    )
    retries: int = param(
        3, "extra attempts after a transient failure (5xx, 408, 429, timeout)", min=0
    )
    backoff_s: float = param(1.0, "first retry delay; doubles each attempt (seconds)", min=0.0)
    timeout_s: float = param(30.0, "socket timeout of every request (seconds)", min=0.1)
    per_host_concurrency: int = param(4, "downloads at once from one host on this machine", min=1)
    cookies_file: str | None = param(None, "Netscape cookies file handed to yt-dlp")
    allow_loopback: bool = param(False, "allow URLs that resolve to loopback addresses")
    allow_private: bool = param(
        False, "allow URLs that resolve to private (RFC 1918 etc.) addresses"
    )
    keep_subtitles: bool = param(True, "download subtitles / automatic captions when offered")
    subtitle_langs: list[str] = param(["en"], "subtitle languages, in order of preference")
    video_crf: int = param(23, "x264 CRF when re-encoding", min=0, max=51)
    video_preset: str = param(
        "veryfast",
        "x264 preset when re-encoding",
        choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"),
    )


class TransientReject(Reject):
    """A failure worth retrying (server error, timeout); becomes a plain reject at the end."""


@dataclass
class Fetched:
    """A file on local disk, ready to probe, and what its origin told about it."""

    path: Path
    canonical: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    subtitle_files: list[Path] = field(default_factory=list)


# ---------------------------------------------------------------------------- errors


def classify_download_error(exc: BaseException) -> Reject:
    """Map a yt-dlp / urllib failure to a reject; transient ones come back as TransientReject.

    A full disk is no reject (the input is fine): it is raised, unretried, to stop the run."""
    if is_disk_full(exc):
        raise DiskFullError(errno.ENOSPC, f"no space left on device while downloading: {exc}") from exc
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


# ---------------------------------------------------------------------------- yt-dlp


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


class GuardedYoutubeDL(yt_dlp.YoutubeDL):
    """YoutubeDL that checks every request URL, and the final URL after redirects.

    The final-URL check refuses a response that redirected into a forbidden range before
    its body is read; the redirected request itself has been sent by then (yt-dlp follows
    redirects inside its HTTP handler, with no per-hop hook).
    """

    def __init__(self, params: dict[str, Any], guard: Callable[[str], None]) -> None:
        super().__init__(params)
        self._guard = guard

    def urlopen(self, req: Any) -> Any:
        self._guard(req if isinstance(req, str) else req.url)
        response = super().urlopen(req)
        try:
            self._guard(response.url)
        except UnsafeURL:
            response.close()
            raise
        return response


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


# ---------------------------------------------------------------------------- helpers


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def _pick_subtitles(files: list[Path], langs: list[str]) -> Path | None:
    """The subtitle file of the first preferred language present, else the first file."""
    for lang in langs:
        for path in files:
            if path.name.endswith(f".{lang}.vtt") or path.name.endswith(f".{lang}-orig.vtt"):
                return path
    return files[0] if files else None


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


# ---------------------------------------------------------------------------- the stage


class FetchStage(Stage):
    """Download or pick up one input, check it, and write its normalized media under OUT."""

    name: ClassVar[str] = "fetch"
    uses_actor: ClassVar[bool] = False
    Config: ClassVar[type] = FetchConfig

    def setup(self) -> None:
        """Resolve the ffmpeg binary once per worker (imageio-ffmpeg may unpack it)."""
        self.ffmpeg = ffmpeg_binary()
        self.slots = HostSlots(self.context.out / ".locks", self.config.per_host_concurrency)
        self.claims = VideoClaims(self.context.out / ".claims")

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
        def claim(canonical: str) -> None:
            self._claim(video_id_for(canonical), item.input_id)

        fetched = self._local(url) if item.source_kind == "folder" else self._remote(url, tmp, claim)
        info, scan = self._inspect(fetched.path)
        video_id = video_id_for(fetched.canonical or "sha256:" + sha256_file(fetched.path))
        self._claim(video_id, item.input_id)
        media = safe_child(self.context.media_dir(), f"{video_id}.mp4")
        media.parent.mkdir(parents=True, exist_ok=True)
        normalized_by = normalize(fetched.path, media, info, self.config, scan)
        item.annotations = self._annotations(item.source)
        item.subtitles = self._keep_subtitles(fetched, video_id)
        item.chapters = chapters_from_info(fetched.info)
        self._keep_info_json(fetched, video_id)
        item.media_path = str(media)
        item.video = self._video_row(item, fetched, video_id, media, normalized_by)
        return item

    # -- getting a local file

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

    def _claim(self, video_id: str, input_id: str) -> None:
        """Dedup: the same video reached through another input is processed once."""
        owner = self.claims.claim(video_id, input_id)
        if owner is not None:
            raise Reject("duplicate_video", f"video {video_id} is already processed for input {owner}")

    def _remote(self, url: str, tmp: Path, claim: Callable[[str], None]) -> Fetched:
        self._check(url)
        host = urllib.parse.urlsplit(url).hostname or ""

        def attempt() -> Fetched:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            with self.slots.hold(host):
                return self._download(url, tmp, claim)

        return with_retries(attempt, self.config.retries, self.config.backoff_s)

    def _check(self, url: str) -> None:
        try:
            check_url(url, self.config.allow_loopback, self.config.allow_private)
        except UnsafeURL as unsafe:
            raise Reject(unsafe.reason, unsafe.detail) from unsafe

    def _ydl_params(self, tmp: Path, log: _YdlLog, match: MatchFilter) -> dict[str, Any]:
        config = self.config
        params: dict[str, Any] = {
            "outtmpl": {"default": "media.%(ext)s"},
            "paths": {"home": str(tmp), "temp": str(tmp)},
            "format": _format_selector(config.max_height),
            "merge_output_format": "mp4",
            "writeinfojson": True,
            "writesubtitles": config.keep_subtitles,
            "writeautomaticsub": config.keep_subtitles,
            "subtitleslangs": list(config.subtitle_langs),
            "subtitlesformat": "vtt",
            "socket_timeout": config.timeout_s,
            "retries": 0,
            "fragment_retries": 0,
            "extractor_retries": 0,
            "file_access_retries": 0,
            "match_filter": match,
            "max_filesize": int(config.max_filesize_mb * 1024 * 1024),
            "ffmpeg_location": self.ffmpeg,
            "noplaylist": True,
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "logger": log,
            "overwrites": True,
            "cachedir": False,
        }
        if config.cookies_file:
            params["cookiefile"] = config.cookies_file
        return params

    def _download(self, url: str, tmp: Path, claim: Callable[[str], None]) -> Fetched:
        """One yt-dlp attempt into `tmp`; raises Reject / TransientReject on failure.

        Extraction and download are two steps so that a site video (extractor:id known
        before any media byte) is claimed first: a duplicate is never downloaded. Direct
        links are claimed by content hash after the download."""
        log = _YdlLog()
        max_bytes = int(self.config.max_filesize_mb * 1024 * 1024)
        match = MatchFilter(self.config.max_duration_s, max_bytes)
        try:
            with GuardedYoutubeDL(self._ydl_params(tmp, log, match), self._check_for_ydl) as ydl:
                extracted = ydl.extract_info(url, download=False, process=False) or {}
                canonical = canonical_source(extracted) if extracted.get("_type", "video") == "video" else None
                if canonical:
                    claim(canonical)
                info = ydl.sanitize_info(ydl.process_ie_result(extracted, download=True)) or {}
        except (yt_dlp.utils.YoutubeDLError, UnsafeURL, OSError) as exc:
            raise classify_download_error(exc) from exc
        if match.rejection:
            raise match.rejection
        path = _downloaded_media(info, tmp)
        if path is None:
            if any("larger than max-filesize" in line for line in log.lines):
                raise Reject("too_large", f"download larger than {self.config.max_filesize_mb} MiB")
            raise Reject("download_error", "yt-dlp produced no file: " + " | ".join(log.lines[-5:]))
        return Fetched(
            path=path,
            canonical=canonical_source(info),
            info=info,
            subtitle_files=sorted(tmp.glob("media*.vtt")),
        )

    def _check_for_ydl(self, url: str) -> None:
        check_url(url, self.config.allow_loopback, self.config.allow_private)

    # -- checking the file

    def _inspect(self, path: Path) -> tuple[MediaInfo, PacketScan]:
        """Probe, cap, and prove the file whole: too_large, too_long, corrupt, not_a_video."""
        size = path.stat().st_size
        if size > self.config.max_filesize_mb * 1024 * 1024:
            raise Reject("too_large", f"{size} bytes > {self.config.max_filesize_mb} MiB")
        try:
            info = probe(path)
        except ProbeError as error:
            raise Reject(self._probe_reason(path, error), error.detail) from error
        if info.duration_s > self.config.max_duration_s:
            raise Reject(
                "too_long", f"duration {info.duration_s:.1f}s > {self.config.max_duration_s}s"
            )
        try:
            scan = scan_packets(path)
            check_complete(scan, info)
            tail = check_decodable(path, scan.end_s)
        except MediaDamaged as damage:
            raise Reject("corrupt", str(damage)) from damage
        if tail.rotation and not info.rotation:
            info = dataclasses.replace(info, rotation=tail.rotation)
        return info, scan

    @staticmethod
    def _probe_reason(path: Path, error: ProbeError) -> str:
        """A file that starts like a media container but will not open is corrupt, not text."""
        if error.reason != "not_a_video":
            return error.reason
        with path.open("rb") as handle:
            head = handle.read(12)
        looks_like_media = (
            head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide")
            or head.startswith((b"\x1aE\xdf\xa3", b"FLV", b"OggS", b"\x00\x00\x01\xba"))
            or (head.startswith(b"RIFF") and head[8:12] == b"AVI ")
        )
        return "corrupt" if looks_like_media else "not_a_video"

    # -- sidecars

    def _annotations(self, source: dict[str, Any]) -> dict[str, Any] | None:
        """Ground truth from `annotations_url` (same safety rules) or `annotations_path`."""
        url, path = source.get("annotations_url"), source.get("annotations_path")
        if not url and not path:
            return None
        try:
            text = self._read_annotations_url(str(url)) if url else Path(str(path)).read_bytes()
            value = json.loads(text)
        except Reject as failure:
            raise Reject("bad_annotations", f"{failure.reason}: {failure.detail}") from failure
        except (OSError, ValueError) as exc:
            raise Reject("bad_annotations", f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(value, dict):
            raise Reject("bad_annotations", f"expected a JSON object, got {type(value).__name__}")
        return value

    def _read_annotations_url(self, url: str) -> bytes:
        self._check(url)
        opener = urllib.request.build_opener(_CheckedRedirects(self._check_for_ydl))

        def attempt() -> bytes:
            try:
                with opener.open(url, timeout=self.config.timeout_s) as response:
                    body = response.read(MAX_ANNOTATIONS_BYTES + 1)
            except (urllib.error.URLError, OSError, UnsafeURL) as exc:
                raise classify_download_error(exc) from exc
            if len(body) > MAX_ANNOTATIONS_BYTES:
                raise Reject("too_large", f"annotations over {MAX_ANNOTATIONS_BYTES} bytes")
            return body

        return with_retries(attempt, self.config.retries, self.config.backoff_s)

    def _keep_subtitles(self, fetched: Fetched, video_id: str) -> list[dict[str, Any]]:
        """Copy the preferred subtitle file next to the media and return its cues."""
        if not self.config.keep_subtitles:
            return []
        chosen = _pick_subtitles(fetched.subtitle_files, list(self.config.subtitle_langs))
        if chosen is None:
            return []
        cues = parse_vtt(chosen.read_text(encoding="utf-8", errors="replace"))
        if cues:
            shutil.copyfile(chosen, safe_child(self.context.media_dir(), f"{video_id}.vtt"))
        return cues

    def _keep_info_json(self, fetched: Fetched, video_id: str) -> None:
        if fetched.canonical is None and not fetched.info.get("extractor"):
            return
        target = safe_child(self.context.media_dir(), f"{video_id}.info.json")
        target.write_text(json.dumps(fetched.info, default=str), encoding="utf-8")

    # -- the row

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
            "license": _text_or_none(source.get("license") or info.get("license")),
            "uploader": _text_or_none(info.get("uploader") or info.get("channel")),
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


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """urllib redirect handler that checks each hop before following it (no request sent)."""

    def __init__(self, guard: Callable[[str], None]) -> None:
        self._guard = guard

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        self._guard(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)
