"""Clip assembly: shots become clip spans, spans get filter scores, optional clip files.

Spans cover a decodable stretch of video without gaps or overlaps: shots shorter than
`min_clip_s` merge into their shorter neighbour, spans longer than `max_clip_s` split
evenly (on frame starts), and optionally adjacent shots whose sampled frames look alike
(colour-histogram intersection) merge first. Each transformation is one small function
`(spans) -> spans`, so each is testable on its own.

Clip files (recipe switch `write_clip_files`) are cut with stream copy when the clip
starts on a keyframe (exact by construction: boundaries sit on frame starts) and
re-encoded otherwise, with ffmpeg's accurate seek, so either way the file holds the
clip's frames to within one frame.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from longvid_pipeline.frames import FrameStats
from longvid_pipeline.media import run_ffmpeg


@dataclass
class ClipSpan:
    """[start_s, end_s) of one clip and the shot cuts strictly inside it."""

    start_s: float
    end_s: float
    shot_boundaries_s: list[float] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def join(left: ClipSpan, right: ClipSpan) -> ClipSpan:
    """One span from two adjacent ones; the seam becomes an inner shot boundary."""
    inner = [*left.shot_boundaries_s, right.start_s, *right.shot_boundaries_s]
    return ClipSpan(left.start_s, right.end_s, inner)


def shots_to_spans(start_s: float, end_s: float, cuts: list[float]) -> list[ClipSpan]:
    """One span per shot of [start_s, end_s), cut at every cut strictly inside."""
    edges = [start_s, *[c for c in sorted(cuts) if start_s < c < end_s], end_s]
    return [ClipSpan(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def merge_similar(
    spans: list[ClipSpan],
    similarity: Callable[[ClipSpan, ClipSpan], float | None],
    threshold: float,
    max_clip_s: float,
) -> list[ClipSpan]:
    """Merge neighbours whose similarity >= threshold while the result fits max_clip_s."""
    merged: list[ClipSpan] = []
    for span in spans:
        if merged:
            score = similarity(merged[-1], span)
            fits = span.end_s - merged[-1].start_s <= max_clip_s
            if score is not None and score >= threshold and fits:
                merged[-1] = join(merged[-1], span)
                continue
        merged.append(span)
    return merged


def merge_short(spans: list[ClipSpan], min_clip_s: float) -> list[ClipSpan]:
    """Merge the shortest too-short span into its shorter neighbour until none is left.

    A stretch shorter than `min_clip_s` as a whole stays one (short) span.
    """
    spans = list(spans)
    while len(spans) > 1:
        index = min(range(len(spans)), key=lambda i: spans[i].duration_s)
        if spans[index].duration_s >= min_clip_s:
            break
        left = spans[index - 1].duration_s if index > 0 else math.inf
        right = spans[index + 1].duration_s if index + 1 < len(spans) else math.inf
        partner = index - 1 if left <= right else index + 1
        low, high = sorted((index, partner))
        spans[low : high + 1] = [join(spans[low], spans[high])]
    return spans


def split_long(spans: list[ClipSpan], max_clip_s: float, frame_times: np.ndarray) -> list[ClipSpan]:
    """Split each span longer than max_clip_s into equal parts starting on frame times."""
    result: list[ClipSpan] = []
    for span in spans:
        parts = math.ceil(span.duration_s / max_clip_s - 1e-9)
        if parts <= 1:
            result.append(span)
            continue
        marks = [span.start_s + k * span.duration_s / parts for k in range(1, parts)]
        edges = [span.start_s, *_nearest_frames(marks, frame_times), span.end_s]
        for a, b in zip(edges, edges[1:], strict=False):
            if b > a:
                inner = [c for c in span.shot_boundaries_s if a < c < b]
                result.append(ClipSpan(a, b, inner))
    return result


def _nearest_frames(marks: list[float], frame_times: np.ndarray) -> list[float]:
    if len(frame_times) == 0:
        return marks
    positions = np.clip(np.searchsorted(frame_times, marks), 1, len(frame_times) - 1)
    snapped = []
    for mark, pos in zip(marks, positions, strict=True):
        left, right = frame_times[pos - 1], frame_times[pos]
        snapped.append(float(left if mark - left <= right - mark else right))
    return snapped


@dataclass(frozen=True)
class AssemblySettings:
    """Clip length bounds and the optional similarity merge."""

    min_clip_s: float
    max_clip_s: float
    merge_similar: bool
    similarity_threshold: float


def assemble_spans(
    start_s: float,
    end_s: float,
    cuts: list[float],
    settings: AssemblySettings,
    frame_times: np.ndarray,
    stats: FrameStats | None = None,
) -> list[ClipSpan]:
    """Shots of one decodable stretch -> clip spans within [min_clip_s, max_clip_s]."""
    spans = shots_to_spans(start_s, end_s, cuts)
    if settings.merge_similar and stats is not None:
        spans = merge_similar(
            spans, histogram_similarity(stats), settings.similarity_threshold, settings.max_clip_s
        )
    spans = merge_short(spans, settings.min_clip_s)
    return split_long(spans, settings.max_clip_s, frame_times)


def histogram_similarity(stats: FrameStats) -> Callable[[ClipSpan, ClipSpan], float | None]:
    """Similarity of two spans: intersection of their mean colour histograms (0..1)."""

    def similarity(left: ClipSpan, right: ClipSpan) -> float | None:
        a = stats.mean_histogram(left.start_s, left.end_s)
        b = stats.mean_histogram(right.start_s, right.end_s)
        if a is None or b is None:
            return None
        return float(np.minimum(a, b).sum())

    return similarity


@dataclass(frozen=True)
class ScoreSettings:
    """What counts as black/blank, how motion and sharpness map to 0..1."""

    black_luma: float
    black_pixel_share: float
    blank_std: float
    static_motion_scale: float
    quality_half_sharpness: float


def clip_scores(stats: FrameStats, span: ClipSpan, settings: ScoreSettings) -> dict[str, float]:
    """black_score, static_score, quality_score (floats 0..1) from the span's samples.

    A sampled frame is black when nearly all of it (`black_pixel_share`, like ffmpeg's
    blackdetect) is darker than `black_luma`, blank when its luma barely varies; so a
    small bright object on a black background is neither.
    """
    picked = _span_samples(stats, span)
    thumbs = [stats.thumbs[i] for i in picked]
    dark_share = np.array([(thumb < settings.black_luma).mean() for thumb in thumbs])
    stds = np.asarray(stats.luma_std)[picked]
    black = float(np.mean((dark_share >= settings.black_pixel_share) | (stds < settings.blank_std)))
    motion = (
        float(np.mean([np.abs(a - b).mean() for a, b in zip(thumbs, thumbs[1:], strict=False)]))
        if len(thumbs) > 1
        else 0.0
    )
    sharpness = float(np.median(np.asarray(stats.sharpness)[picked]))
    return {
        "black_score": black,
        "static_score": float(max(0.0, 1.0 - motion / settings.static_motion_scale)),
        "quality_score": sharpness / (sharpness + settings.quality_half_sharpness),
    }


def _span_samples(stats: FrameStats, span: ClipSpan) -> np.ndarray:
    """Sampled frames inside the span; the nearest one when the span caught none."""
    picked = stats.indices(span.start_s, span.end_s)
    if len(picked) == 0:
        middle = (span.start_s + span.end_s) / 2
        picked = np.array([int(np.argmin(np.abs(np.asarray(stats.times) - middle)))])
    return picked


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
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial.mp4")
    codec = ["-c", "copy"] if copy else [
        "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p", "-c:a", "aac",
    ]  # fmt: skip
    args = [
        "-ss", f"{span.start_s:.6f}", "-i", str(source), "-t", f"{span.duration_s:.6f}",
        "-map", "0:v:0", "-map", "0:a:0?", *codec, "-avoid_negative_ts", "make_zero",
        "-movflags", "+faststart", str(partial),
    ]  # fmt: skip
    try:
        run_ffmpeg(args)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return "copy" if copy else "reencode"
