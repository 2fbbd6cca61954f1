"""Decode health: which stretches of a video have decodable frames, and why the others
have none (a corrupt span, or no video at all: an audio-only lead-in or tail)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from longvid_pipeline.segmenting.decode import DecodeResult


@dataclass(frozen=True)
class TimeSpan:
    """A stretch of the timeline; `reason` says why a missing one has no usable video."""

    start_s: float
    end_s: float
    reason: str = ""
    decode_errors: int = 0


def decodable_stretches(
    result: DecodeResult, duration_s: float, hole_s: float
) -> tuple[list[TimeSpan], list[TimeSpan]]:
    """Split the timeline into stretches with video and missing spans without it.

    A gap between decoded frames longer than max(hole_s, 3 frames) is missing video:
    `corrupt_span` when packets failed to decode in or next to it, `no_video_span`
    otherwise (audio-only lead-in or tail, a stream that starts late). Shorter gaps
    (variable frame rate holding a frame) stay inside their stretch.
    """
    times, interval = result.frame_times, result.frame_interval
    limit = max(hole_s, 3 * interval)
    first = 0.0 if times[0] <= limit else float(times[0])
    last_end = float(times[-1]) + interval
    end = duration_s if abs(duration_s - last_end) <= limit else last_end
    edges = [first]
    missing = [] if first == 0.0 else [_missing(0.0, first, result.error_times, limit)]
    for index in np.nonzero(np.diff(times) > limit)[0]:
        hole = _missing(
            float(times[index]) + interval, float(times[index + 1]), result.error_times, limit
        )
        missing.append(hole)
        edges += [hole.start_s, hole.end_s]
    edges.append(end)
    if duration_s - end > limit:
        missing.append(_missing(end, duration_s, result.error_times, limit))
    stretches = [TimeSpan(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a]
    return stretches, sorted(missing, key=lambda span: span.start_s)


def _missing(start_s: float, end_s: float, error_times: list[float], margin_s: float) -> TimeSpan:
    errors = sum(1 for t in error_times if start_s - margin_s <= t <= end_s + margin_s)
    reason = "corrupt_span" if errors else "no_video_span"
    return TimeSpan(start_s, end_s, reason, errors)
