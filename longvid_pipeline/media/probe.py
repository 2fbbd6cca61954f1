"""Probing media with PyAV: duration, frame rate, size, rotation, codecs.

There is no ffprobe dependency: PyAV reads the container directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.stream import Disposition


class ProbeError(Exception):
    """The file is not a readable video (reason is a short machine-readable word)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class MediaInfo:
    """What a probe learns about a file without decoding it."""

    duration_s: float
    fps: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    frame_count: int | None
    rotation: int
    container: str
    video_bitrate: int | None


def _duration_s(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def _rotation(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> int:
    """Rotation in degrees: the legacy `rotate` tag, else the display matrix that PyAV
    (18+) exposes only on decoded frames, so the first frame is decoded (cheap)."""
    tag = stream.metadata.get("rotate")
    if tag:
        try:
            return int(float(tag)) % 360
        except ValueError:
            return 0
    try:
        for frame in container.decode(stream):
            return int(round(getattr(frame, "rotation", 0) or 0)) % 360
    except av.error.FFmpegError:
        return 0
    return 0


def main_video_stream(
    container: av.container.InputContainer,
) -> av.video.stream.VideoStream | None:
    """The first video stream that is motion video, or None.

    An attached picture (an mp3's or m4a's cover art, a thumbnail in MKV) is a video
    stream in the container's eyes but one still image: it never makes a file a video.
    """
    for stream in container.streams.video:
        if not stream.disposition & (Disposition.attached_pic | Disposition.timed_thumbnails):
            return stream
    return None


def _no_video_detail(container: av.container.InputContainer) -> str:
    kinds = [
        "attached picture" if s.type == "video" and s.disposition & Disposition.attached_pic
        else s.type
        for s in container.streams
    ]  # fmt: skip
    return f"streams: {kinds}"


def probe(path: str | Path) -> MediaInfo:
    """Probe `path` with PyAV; raise ProbeError('not_a_video' | 'no_video_stream', ...)."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise ProbeError("not_a_video", f"{type(exc).__name__}: {exc}") from exc
    with container:
        video = main_video_stream(container)
        if video is None:
            raise ProbeError("no_video_stream", _no_video_detail(container))
        audio = container.streams.audio[0] if container.streams.audio else None
        rate = video.average_rate or video.guessed_rate or video.base_rate or Fraction(0)
        codec = video.codec_context
        duration_s = _duration_s(container, video)
        frame_count = int(video.frames) if video.frames else None
        return MediaInfo(
            duration_s=duration_s,
            fps=float(rate),
            width=int(codec.width or 0),
            height=int(codec.height or 0),
            video_codec=codec.name,
            audio_codec=audio.codec_context.name if audio else None,
            frame_count=frame_count,
            rotation=_rotation(container, video),
            container=container.format.name,
            video_bitrate=int(codec.bit_rate) if codec.bit_rate else None,
        )
