"""Normalize fetched media into the one shape later stages rely on, and check it is whole.

Every later stage seeks by timestamp in the normalized file, so it must be H.264 yuv420p
MP4 no taller than `max_height` with keyframes at most `max_keyframe_gap_s` apart (a
seek then decodes at most that much). A file that already conforms is stream-copied
(seconds for an hour of video); anything else is re-encoded once, with a keyframe every
`keyframe_interval_s`, by libx264 or, on a machine with an NVIDIA GPU, h264_nvenc.

Why the gap rule is a recipe key: real videos mostly have keyframes 4-10 s apart
(x264's default keyint is 250 frames), and re-encoding them only for that costs several
times the segment stage's decode; keeping them makes each sparse seek decode up to the
gap instead (benchmarks/normalize.py measures both).

`scan_packets` demuxes every packet without decoding: one cheap pass gives both the
keyframe gaps (for `needs_reencode`) and where the data really ends (for truncation).
`check_decodable` decodes only the last second (or the last frame, when frames are further
apart), where a truncated or damaged file fails. Streams that are attached pictures (cover
art) are never the video: the graphs map `V:0` and `main_video_stream` skips them.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av

from longvid_pipeline.files import atomic_path
from longvid_pipeline.media.ffmpeg import (
    ffmpeg_binary,
    normalize_copy,
    normalize_reencode,
    run_ffmpeg,
)
from longvid_pipeline.media.probe import MediaInfo, main_video_stream

# Audio codecs the MP4 muxer takes as they are; others are re-encoded to AAC.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "alac", "flac"})
# Packets may end this much before the container duration without the file being truncated.
TRUNCATION_SLACK_S = 1.0
TRUNCATION_SLACK_FRACTION = 0.05
# The end of a file decoded to prove it whole (widened to the last frame's start).
TAIL_S = 1.0


class NormalizeSettings(Protocol):
    """The part of the fetch config normalization reads."""

    max_height: int
    keyframe_interval_s: float
    max_keyframe_gap_s: float
    video_crf: int
    video_preset: str
    encoder: str


class MediaDamaged(Exception):
    """The file is truncated or cannot be decoded (reason `corrupt`)."""


@dataclass(frozen=True)
class PacketScan:
    """What demuxing every video packet (no decoding) tells about a file."""

    packets: int
    keyframes: int
    end_s: float
    max_keyframe_gap_s: float
    pix_fmt: str | None
    last_frame_s: float = 0.0  # presentation time of the last frame (the latest packet start)


def scan_packets(path: str | Path) -> PacketScan:
    """Demux every video packet once; raises MediaDamaged when demuxing fails."""
    try:
        with av.open(str(path)) as container:
            stream = main_video_stream(container)
            if stream is None:
                raise MediaDamaged("no video stream")
            pix_fmt = stream.codec_context.format.name if stream.codec_context.format else None
            return _scan(container, stream, pix_fmt)
    except av.error.FFmpegError as exc:
        raise MediaDamaged(f"demux failed: {exc}") from exc


def _scan(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, pix_fmt: str | None
) -> PacketScan:
    packets = keyframes = 0
    end_s = last_frame_s = 0.0
    last_key_s: float | None = None
    max_gap = 0.0
    for packet in container.demux(stream):
        if packet.size == 0 or packet.pts is None:
            continue
        packets += 1
        start_s = float(packet.pts * packet.time_base)
        last_frame_s = max(last_frame_s, start_s)
        end_s = max(end_s, start_s + float((packet.duration or 0) * packet.time_base))
        if packet.is_keyframe:
            keyframes += 1
            if last_key_s is not None:
                max_gap = max(max_gap, start_s - last_key_s)
            last_key_s = start_s
    if last_key_s is not None:
        max_gap = max(max_gap, end_s - last_key_s)
    return PacketScan(packets, keyframes, end_s, max_gap, pix_fmt, last_frame_s)


def check_complete(scan: PacketScan, info: MediaInfo) -> None:
    """Raise MediaDamaged when the packets end far before the duration the container claims."""
    if scan.packets == 0 or scan.keyframes == 0:
        raise MediaDamaged(f"no decodable video packets ({scan.packets} packets)")
    slack = max(TRUNCATION_SLACK_S, TRUNCATION_SLACK_FRACTION * info.duration_s)
    if scan.end_s < info.duration_s - slack:
        raise MediaDamaged(
            f"truncated: video packets end at {scan.end_s:.2f}s of {info.duration_s:.2f}s"
        )


@dataclass(frozen=True)
class TailDecode:
    """What decoding the last second found: how many frames, and their display rotation."""

    frames: int
    rotation: int


def check_decodable(path: str | Path, scan: PacketScan, tail_s: float = TAIL_S) -> TailDecode:
    """Decode the end of the file, where truncation and damage show.

    The window is the last `tail_s` seconds, widened to reach the last frame's start:
    a video with a frame every 2 s (a slideshow, a timelapse) has no frame starting in
    its last second, and is whole all the same. The decoded frames also carry the
    display rotation, which PyAV exposes on frames (from the container's display
    matrix) but not on the stream, so `probe` can miss it.

    Raises:
        MediaDamaged: a decode error, or no frame at all in that window.
    """
    target_s = max(0.0, min(scan.end_s - tail_s, scan.last_frame_s))
    window = f"the last {scan.end_s - target_s:.2f}s before {scan.end_s:.2f}s"
    frames, rotation = 0, 0
    try:
        with av.open(str(path)) as container:
            stream = main_video_stream(container)
            if stream is None or stream.time_base is None:
                raise MediaDamaged("no video stream with a time base")
            time_base = stream.time_base
            stream.thread_type = "AUTO"
            container.seek(int(target_s / time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.pts is not None and float(frame.pts * time_base) >= target_s - 1e-3:
                    frames += 1
                    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    except av.error.FFmpegError as exc:
        raise MediaDamaged(f"decode of {window} failed: {exc}") from exc
    if frames == 0:
        raise MediaDamaged(f"no frame decodes in {window}")
    return TailDecode(frames, rotation)


def normalized_size(info: MediaInfo, max_height: int) -> tuple[int, int]:
    """(width, height) the normalized file will have: upright, even, height capped.

    The same arithmetic as `normalize_reencode`'s scale filter (`-2` keeps the aspect and
    rounds the width to an even number), so a size check can run before encoding.
    """
    width, height = info.width, info.height
    if info.rotation in (90, 270):
        width, height = height, width
    if width <= 0 or height <= 0:
        return max(width, 0), max(height, 0)
    out_height = min(height, max_height) // 2 * 2
    out_width = max(2, int(round(width * out_height / height / 2)) * 2) if out_height else 0
    return out_width, out_height


def needs_reencode(
    path: str | Path, info: MediaInfo, config: NormalizeSettings, scan: PacketScan | None = None
) -> str | None:
    """Why `path` must be re-encoded, or None when a stream copy into MP4 conforms.

    The container itself is no reason: a copy remuxes H.264 from MKV, FLV or TS into MP4.
    """
    scan = scan or scan_packets(path)
    if info.video_codec != "h264":
        return f"video codec {info.video_codec}"
    if scan.pix_fmt != "yuv420p":
        return f"pixel format {scan.pix_fmt}"
    if info.height > config.max_height:
        return f"height {info.height} > {config.max_height}"
    if info.width % 2 or info.height % 2:
        return f"odd size {info.width}x{info.height}"
    if info.rotation:
        return f"rotation {info.rotation}"
    if info.audio_codec is not None and info.audio_codec not in MP4_AUDIO_CODECS:
        return f"audio codec {info.audio_codec}"
    frame_s = 1.0 / info.fps if info.fps > 0 else 0.0
    if scan.max_keyframe_gap_s > config.max_keyframe_gap_s + frame_s + 1e-6:
        return f"keyframe gap {scan.max_keyframe_gap_s:.2f}s > {config.max_keyframe_gap_s}s"
    return None


def reencode(src: Path, dst: Path, config: NormalizeSettings, encoder: str = "libx264") -> Any:
    """The re-encode graph with the recipe's height cap, keyframe interval, preset and CRF."""
    return normalize_reencode(
        src,
        dst,
        max_height=config.max_height,
        keyframe_interval_s=config.keyframe_interval_s,
        preset=config.video_preset,
        crf=config.video_crf,
        encoder=encoder,
    )


def resolve_encoder(name: str, ffmpeg: str) -> str:
    """The encoder `name` stands for on this machine: "auto" is h264_nvenc when it can
    encode here (see `_nvenc_missing`), else libx264.

    Raises:
        EncoderMissing: h264_nvenc is asked for by name and this machine cannot run it.
    """
    if name == "libx264":
        return name
    missing = _nvenc_missing(ffmpeg)
    if name == "auto":
        return "libx264" if missing else "h264_nvenc"
    if missing:
        raise EncoderMissing(f"fetch.encoder {name}: {missing}; use libx264 or auto")
    return name


class EncoderMissing(RuntimeError):
    """The recipe names an encoder this machine does not have."""


@functools.lru_cache(maxsize=4)
def _nvenc_missing(ffmpeg: str) -> str | None:
    """Why h264_nvenc cannot encode on this machine, or None when it can.

    Neither ffmpeg listing the encoder nor a GPU being present is enough: static ffmpeg
    builds list it everywhere, and the data-centre GPUs (A100, H100, H200) have no NVENC
    engine at all, so "auto" on such a node would fail every re-encode. One tiny encode
    settles it, once per process: the answer is cached here, not in `resolve_encoder`,
    whose EncoderMissing (a named h264_nvenc that cannot run) no cache would keep."""
    if not _has_nvenc(ffmpeg):
        return f"ffmpeg {ffmpeg} lacks h264_nvenc"
    if not _gpu_present():
        return "no NVIDIA GPU is present"
    return _nvenc_trial(ffmpeg)


def _has_nvenc(ffmpeg: str) -> bool:
    try:
        listed = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return " h264_nvenc " in listed


def _nvenc_trial(ffmpeg: str) -> str | None:
    """Encode five small test frames with h264_nvenc; None if that worked, else ffmpeg's
    first complaint (e.g. "Cannot load libcuda.so.1", "No capable devices found")."""
    trial = [ffmpeg, "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
             "testsrc2=size=256x256:rate=10", "-frames:v", "5", "-c:v", "h264_nvenc", "-f", "null", "-"]  # fmt: skip
    try:
        done = subprocess.run(trial, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"h264_nvenc could not be tried ({type(exc).__name__})"
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    first = re.sub(r"^\[[^\]]*\]\s*", "", lines[0]) if lines else f"exit {done.returncode}"
    return f"h264_nvenc cannot encode here ({first})"


def _gpu_present() -> bool:
    return Path("/dev/nvidia0").exists() or Path("/dev/nvidiactl").exists()


def normalize(
    src: str | Path,
    dst: str | Path,
    info: MediaInfo,
    config: NormalizeSettings,
    scan: PacketScan | None = None,
) -> str:
    """Write the conforming MP4 of `src` to `dst` atomically; returns "copy" or "reencode".

    Example:
        >>> normalize("in.mkv", "out.mp4", probe("in.mkv"), FetchConfig())  # doctest: +SKIP
        'copy'
    """
    src, dst = Path(src), Path(dst)
    reason = needs_reencode(src, info, config, scan)
    with atomic_path(dst, suffix=".mp4") as partial:
        if reason is None:
            run_ffmpeg(normalize_copy(src, partial))
        else:
            encoder = resolve_encoder(config.encoder, ffmpeg_binary())
            run_ffmpeg(reencode(src, partial, config, encoder))
    return "copy" if reason is None else "reencode"
