"""Frames for the encoder: decode at a row's sampling-plan timestamps, resize, normalize.

Decoding is the pipeline's one timestamp decoder (`longvid_pipeline.api.frames_at`);
this module fits a row's plan to a schedule stage's frame range and standardizes pixels.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from longvid.model.encoder import FrameSpec
from longvid_pipeline.api import frames_at


def resample_plan(
    timestamps: list[float], prompt: str, min_frames: int, max_frames: int, multiple: int = 4
) -> tuple[list[float], str]:
    """Fit a sampling plan into a stage's frame range, keeping its span and fixing the prompt.

    Fewer frames: a uniform subset of the plan. More: uniform over the plan's span.
    The prompt's "<T> frames" is rewritten to the new count.
    """
    count = len(timestamps)
    wanted = min(max(count, min_frames), max_frames)
    wanted = max(multiple, (wanted // multiple) * multiple)
    if wanted == count:
        return list(timestamps), prompt
    if wanted < count:
        chosen = [timestamps[int((index + 0.5) * count / wanted)] for index in range(wanted)]
    else:
        half = (timestamps[-1] - timestamps[0]) / max(count - 1, 1) / 2 if count > 1 else 0.5
        start, end = timestamps[0] - half, timestamps[-1] + half
        step = (end - start) / wanted
        chosen = [round(start + (index + 0.5) * step, 4) for index in range(wanted)]
    return chosen, re.sub(rf"\b{count} frames\b", f"{wanted} frames", prompt)


def decode_frames(path: str | Path, timestamps: list[float], size: int) -> np.ndarray:
    """(T, size, size, 3) uint8 RGB frames at each timestamp (in order given), squashed to
    the encoder's square input; the pipeline's one timestamp decoder does the work."""
    return frames_at(path, timestamps, width=size, height=size)


def normalize(frames: np.ndarray, spec: FrameSpec) -> torch.Tensor:
    """uint8 (T, S, S, 3) -> float (T, 3, S, S) scaled to [0, 1] then standardized."""
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (pixels - mean) / std
