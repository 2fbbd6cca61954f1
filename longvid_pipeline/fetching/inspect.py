"""Checking a fetched file before it is kept: caps, probe, completeness, a decodable tail.

Reasons are short words a user can group by: too_large, too_long, corrupt, not_a_video,
no_video_stream.
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
    scan_packets,
)
from longvid_pipeline.media.probe import MediaInfo, ProbeError, probe
from longvid_pipeline.stage import Reject


class InspectSettings(Protocol):
    """The fetch config fields inspection reads."""

    max_duration_s: float
    max_filesize_mb: float


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inspect_media(path: Path, settings: InspectSettings) -> tuple[MediaInfo, PacketScan]:
    """Probe, cap, and prove the file whole: too_large, too_long, corrupt, not_a_video."""
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
        tail = check_decodable(path, scan.end_s)
    except MediaDamaged as damage:
        raise Reject("corrupt", str(damage)) from damage
    if tail.rotation and not info.rotation:
        info = dataclasses.replace(info, rotation=tail.rotation)
    return info, scan


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
