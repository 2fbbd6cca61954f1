"""The fetch stage's parameters (recipe key `stages.fetch`) and default resources.

Kept apart from the stage so that validating a recipe (`run --check`) imports only this
light module, never yt-dlp, PyAV or ffmpeg.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from longvid_pipeline.config import param
from longvid_pipeline.stage import Resources


@dataclass
class FetchConfig:
    """Parameters of the fetch stage (recipe section `fetch`)."""

    default_resources: ClassVar[Resources] = Resources()

    max_duration_s: float = param(3600.0, "reject videos longer than this (seconds)", min=1.0)
    max_filesize_mb: float = param(2048.0, "reject downloads larger than this (MiB)", min=0.001)
    min_duration_s: float = param(1.0, "reject videos shorter than this (seconds)", min=0.0)
    min_frames: int = param(
        4, "reject videos with fewer frames (one HiCo clip is 4 frames; 1 is a still)", min=1
    )
    min_side: int = param(
        32, "reject videos whose normalized width or height would be below this (pixels)", min=2
    )
    max_height: int = param(720, "normalized video height cap (pixels)", min=16)
    keyframe_interval_s: float = param(
        2.0, "seconds between keyframes of a re-encoded video", min=0.1
    )
    # 10 s keeps uploads made with x264's default keyframe rule (keyint 250: 8.3 s at 30
    # fps, 10 s at 25) as they came: re-encoding them cost 6.5x the segment stage's CPU
    # (benchmarks/normalize.py, docs/sizing.md), seeking in them ~4x a 2 s-keyframe file.
    max_keyframe_gap_s: float = param(
        10.0,
        "a video whose keyframes lie further apart than this is re-encoded; below, it is"
        " kept as it came and readers decode from the keyframe before each timestamp (2.0:"
        " re-encode nearly every real video)",
        min=0.1,
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
    allowed_licences: list[str] = param(
        [],
        "keep only these licences (cc-by, cc-by-sa, cc0, public-domain, unknown, ...: ids as"
        " in videos.license); the rest are rejects licence_not_allowed; empty: keep all",
    )
    keep_subtitles: bool = param(True, "download subtitles / automatic captions when offered")
    subtitle_langs: list[str] = param(["en"], "subtitle languages, in order of preference")
    video_crf: int = param(23, "x264 CRF when re-encoding", min=0, max=51)
    video_preset: str = param(
        "veryfast",
        "x264 preset when re-encoding",
        choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"),
    )
    keep_rejected_media: bool = param(
        False, "debug: keep the normalized media of inputs rejected after fetch (else deleted)"
    )
    encoder: str = param(
        "libx264",
        "H.264 encoder of re-encodes: libx264 (CPU); h264_nvenc (an NVIDIA GPU with an NVENC"
        " engine: not A100/H100/H200); auto: h264_nvenc when a trial encode with it works"
        " here, else libx264",
        choices=("libx264", "h264_nvenc", "auto"),
    )
