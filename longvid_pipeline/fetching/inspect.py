"""Checking a fetched file before it is kept: caps, probe, completeness, a decodable tail.

Reasons are short words a user can group by: too_large, too_long, too_short, corrupt,
not_a_video (text, or a still image), no_video_stream (audio, even with cover art),
bad_dimensions (a side the normalized file would make too thin to look at).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Protocol

from longvid_pipeline.fetching.normalize import (
    MediaDamaged,
    PacketScan,
    check_complete,
    check_decodable,
    normalized_size,
    scan_packets,
)
from longvid_pipeline.media.probe import MediaInfo, ProbeError, probe
from longvid_pipeline.stage import Reject

# Codecs whose single frame is a picture file (a PNG renamed .mp4), not a video.
IMAGE_CODECS = frozenset(
    {"png", "apng", "mjpeg", "jpeg2000", "jpegls", "bmp", "tiff", "webp", "gif", "qoi", "pam"}
)


class InspectSettings(Protocol):
    """The fetch config fields inspection reads."""

    max_duration_s: float
    max_filesize_mb: float
    min_duration_s: float
    min_frames: int
    min_side: int
    max_height: int


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_media(path: Path, settings: InspectSettings) -> tuple[MediaInfo, PacketScan]:
    """Probe, cap, and prove the file whole and usable as a video.

    Raises:
        Reject: too_large, too_long, corrupt, not_a_video, no_video_stream, too_short or
            bad_dimensions.
    """
    size = path.stat().st_size
    if size > settings.max_filesize_mb * 1024 * 1024:
        raise Reject("too_large", f"{size} bytes > {settings.max_filesize_mb} MiB")
    try:
        info = probe(path)
    except ProbeError as error:
        raise Reject(probe_reason(path, error), error.detail) from error
    if info.duration_s > settings.max_duration_s:
        raise Reject("too_long", f"duration {info.duration_s:.1f}s > {settings.max_duration_s}s")
    try:
        scan = scan_packets(path)
        check_complete(scan, info)
        check_usable(info, scan, settings)
        tail = check_decodable(path, scan)
    except MediaDamaged as damage:
        raise Reject("corrupt", str(damage)) from damage
    if tail.rotation and not info.rotation:
        info = dataclasses.replace(info, rotation=tail.rotation)
    return info, scan


def check_usable(info: MediaInfo, scan: PacketScan, settings: InspectSettings) -> None:
    """A whole file may still be no video to learn from: a still image, a blink, a sliver.

    Raises:
        Reject: not_a_video (one frame of a picture codec), too_short (under
            `min_duration_s` or `min_frames`), bad_dimensions (a normalized side under
            `min_side`).
    """
    frames = f"{scan.packets} frame{'s' if scan.packets != 1 else ''}"
    if scan.packets <= 1 and (info.video_codec in IMAGE_CODECS or info.container.endswith("_pipe")):
        raise Reject("not_a_video", f"a still image ({info.video_codec} in {info.container})")
    duration_s = info.duration_s if info.duration_s > 0 else scan.end_s
    if scan.packets < settings.min_frames:
        raise Reject(
            "too_short", f"{frames} < min_frames {settings.min_frames} ({duration_s:.2f}s)"
        )
    if duration_s < settings.min_duration_s:
        raise Reject(
            "too_short", f"duration {duration_s:.2f}s < min_duration_s {settings.min_duration_s}"
        )
    width, height = normalized_size(info, settings.max_height)
    if min(width, height) < settings.min_side:
        raise Reject(
            "bad_dimensions",
            f"{info.width}x{info.height} would normalize to {width}x{height};"
            f" min_side is {settings.min_side}",
        )


def probe_reason(path: Path, error: ProbeError) -> str:
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
