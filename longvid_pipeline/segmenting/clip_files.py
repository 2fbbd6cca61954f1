"""Clip files (recipe switch `clip_files.write`): each clip as its own mp4.

Cut with stream copy when the clip starts on a keyframe (exact by construction:
boundaries sit on frame starts) and re-encoded otherwise, with ffmpeg's accurate seek,
so either way the file holds the clip's frames to within one frame.
"""

from __future__ import annotations

from pathlib import Path

from longvid_pipeline.files import atomic_path
from longvid_pipeline.media.ffmpeg import cut_clip, run_ffmpeg
from longvid_pipeline.segmenting.assembly import ClipSpan


def starts_on_keyframe(start_s: float, keyframe_times: list[float], tolerance_s: float) -> bool:
    """True when a stream copy starting at `start_s` begins exactly on a keyframe."""
    return any(abs(start_s - k) <= tolerance_s for k in keyframe_times)


def cut_clip_file(
    source: Path,
    target: Path,
    span: ClipSpan,
    *,
    copy: bool,
    crf: int,
    preset: str,
) -> str:
    """Write the span as its own mp4 (atomically); returns 'copy' or 'reencode'.

    Stream copy needs the span to start on a keyframe; otherwise the video is re-encoded
    after an accurate seek. Either way the end is cut by duration on frame starts.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target, suffix=".mp4") as partial:
        run_ffmpeg(
            cut_clip(source, partial, start_s=span.start_s, duration_s=span.duration_s,
                     copy=copy, crf=crf, preset=preset)
        )  # fmt: skip
    return "copy" if copy else "reencode"
