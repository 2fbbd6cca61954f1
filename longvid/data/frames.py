"""Pixels for the encoder: video frames at planned timestamps, images, resize, normalize.

Decoding is the pipeline's one timestamp decoder (`longvid_pipeline.api.frames_at`);
this module fits a plan to a schedule stage's frame range, plans videos that come without
one (LLaVA-format data: about 1 fps, VideoChat-Flash's `dynamic_fps1`, through the
pipeline's own planner) and standardizes pixels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from longvid.model.encoder import FrameSpec
from longvid_pipeline.api import SamplingConfig, frames_at, plan_for, probe


@dataclass(frozen=True)
class FrameRange:
    """A stage's frame-count bounds; T is kept a multiple of the compressor's clip size."""

    min_frames: int
    max_frames: int
    multiple: int = 4


def resample_plan(
    timestamps: list[float], prompt: str, min_frames: int, max_frames: int, multiple: int = 4
) -> tuple[list[float], str]:
    """`fit_plan`, and `prompt` with its "<T> frames" rewritten to the new count (for
    callers that carry a prompt of their own; training builds its prompt afresh)."""
    chosen = fit_plan(timestamps, min_frames, max_frames, multiple)
    if len(chosen) == len(timestamps):
        return chosen, prompt
    return chosen, re.sub(rf"\b{len(timestamps)} frames\b", f"{len(chosen)} frames", prompt)


def fit_plan(
    timestamps: list[float], min_frames: int, max_frames: int, multiple: int = 4
) -> list[float]:
    """Fit a sampling plan into a frame range, keeping its span.

    Fewer frames: a uniform subset of the plan. More: uniform over the plan's span.
    """
    count = len(timestamps)
    wanted = min(max(count, min_frames), max_frames)
    wanted = max(multiple, (wanted // multiple) * multiple)
    if wanted == count:
        return list(timestamps)
    if wanted < count:
        return [timestamps[int((index + 0.5) * count / wanted)] for index in range(wanted)]
    half = (timestamps[-1] - timestamps[0]) / max(count - 1, 1) / 2 if count > 1 else 0.5
    start, end = timestamps[0] - half, timestamps[-1] + half
    step = (end - start) / wanted
    return [round(start + (index + 0.5) * step, 4) for index in range(wanted)]


def plan_video(
    path: str | Path, frames: FrameRange, duration_s: float | None = None, start_s: float = 0.0
) -> tuple[list[float], float]:
    """Timestamps at ~1 fps within the range for a video without a plan, and its duration
    (probed unless given, e.g. a clip's)."""
    duration = duration_s if duration_s is not None else probe(path).duration_s
    config = SamplingConfig(
        fps=1.0,
        min_frames=frames.min_frames,
        max_frames=frames.max_frames,
        multiple=frames.multiple,
    )
    return plan_for(duration, config, start_s=start_s).timestamps, duration


def decode_frames(path: str | Path, timestamps: list[float], size: int) -> np.ndarray:
    """(T, size, size, 3) uint8 RGB frames at each timestamp (in order given), squashed to
    the encoder's square input; the pipeline's one timestamp decoder does the work."""
    return frames_at(path, timestamps, width=size, height=size)


def load_image(path: str | Path, size: int) -> np.ndarray:
    """(1, size, size, 3) uint8 RGB, squashed to the encoder's square input like frames."""
    with Image.open(path) as image:
        pixels = image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
        return np.array(pixels)[None]


def normalize(frames: np.ndarray, spec: FrameSpec) -> torch.Tensor:
    """uint8 (T, S, S, 3) -> float (T, 3, S, S) scaled to [0, 1] then standardized."""
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (pixels - mean) / std
