"""Clip assembly: shots become clip spans that cover a decodable stretch.

Spans cover a decodable stretch of video without gaps or overlaps: shots shorter than
`min_clip_s` merge into their shorter neighbour, spans longer than `max_clip_s` split
evenly (on frame starts), and optionally adjacent shots whose sampled frames look alike
(colour-histogram intersection) merge first. Each transformation is one small function
`(spans) -> spans`, so each is testable on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from longvid_pipeline.segmenting.config import AssemblyConfig
from longvid_pipeline.segmenting.frame_stats import FrameStats


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


# The recipe section `stages.segment.assembly` is the settings; the old name stays importable.
AssemblySettings = AssemblyConfig


def assemble_spans(
    start_s: float,
    end_s: float,
    cuts: list[float],
    settings: AssemblyConfig,
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
