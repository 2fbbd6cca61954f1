"""Frames for the encoder: decode at a row's sampling-plan timestamps, resize, normalize.

Why seek-or-scan: long videos are sampled sparsely (about 1 fps), so decoding every
frame wastes most of the work; we seek when the next timestamp is far ahead and decode
forward otherwise. Resizing happens in swscale (PyAV's reformat), the cheapest place.
"""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import torch

from longvid.model.encoder import FrameSpec

SEEK_GAP_S = 2.0


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
    """(T, size, size, 3) uint8 RGB frames nearest at or after each timestamp (in order given).

    A timestamp past the last decodable frame repeats the last frame, so T always holds.
    """
    order = sorted(range(len(timestamps)), key=lambda index: timestamps[index])
    frames: list[np.ndarray | None] = [None] * len(timestamps)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        position, last, decoder = None, None, None
        for index in order:
            target = timestamps[index]
            if position is not None and last is not None and target <= position:
                frames[index] = (
                    last  # sorted targets: the held frame is the first at/after this one
                )
                continue
            if decoder is None or position is None or target - position > SEEK_GAP_S:
                container.seek(
                    int(max(target - 0.5, 0) / stream.time_base), stream=stream, backward=True
                )
                decoder = container.decode(stream)
            for frame in decoder:
                position = float(frame.time or 0.0)
                last = frame.to_ndarray(format="rgb24", width=size, height=size)
                if position + 1e-3 >= target:
                    break
            if last is None:
                raise ValueError(f"{path}: no decodable video frame")
            frames[index] = last
    return np.stack(frames)


def normalize(frames: np.ndarray, spec: FrameSpec) -> torch.Tensor:
    """uint8 (T, S, S, 3) -> float (T, 3, S, S) scaled to [0, 1] then standardized."""
    pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return (pixels - mean) / std
