"""Filter scores of a clip span from the decode pass's sampled-frame statistics:
black_score, static_score, quality_score (0..1). The segment stage keeps them as columns
(`filters.mode: score`) or drops clips past thresholds (`drop`)."""

from __future__ import annotations

import numpy as np

from longvid_pipeline.segmenting.assembly import ClipSpan
from longvid_pipeline.segmenting.config import FilterConfig
from longvid_pipeline.segmenting.frame_stats import FrameStats

# The recipe section `stages.segment.filters` is the settings; the old name stays importable.
ScoreSettings = FilterConfig


def clip_scores(stats: FrameStats, span: ClipSpan, settings: FilterConfig) -> dict[str, float]:
    """black_score, static_score, quality_score (floats 0..1) from the span's samples.

    A sampled frame is black when nearly all of it (`black_pixel_share`, like ffmpeg's
    blackdetect) is darker than `black_luma`, blank when its luma barely varies; so a
    small bright object on a black background is neither.
    """
    if stats.black_luma != settings.black_luma:
        raise ValueError(
            f"statistics counted dark pixels under {stats.black_luma}, not {settings.black_luma}"
        )
    picked = _span_samples(stats, span)  # consecutive samples
    dark_share = np.asarray(stats.dark_share)[picked]
    stds = np.asarray(stats.luma_std)[picked]
    black = float(np.mean((dark_share >= settings.black_pixel_share) | (stds < settings.blank_std)))
    # Changes between the span's consecutive samples: each one's change from the previous.
    changes = np.asarray(stats.motion)[picked[1:]]
    motion = float(np.mean(changes)) if len(changes) else 0.0
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
