"""Frame preprocessing each model family expects, in numpy/torch (torchvision is not used).

These run in DataLoader workers (`FramePlan.prepare`), so they are small picklable
classes holding constants, never the model.

- `NormalizedFrames`: square frames (decoded at the tower's input size) -> float
  (T, 3, S, S) standardized with the tower's mean/std (SigLIP, CLIP; LLaVA families and
  longvid checkpoints).
- `QwenVideoPatches`: Qwen2-VL / Qwen2.5-VL video input: frames resized to a multiple
  of patch x merge (aspect kept), CLIP-normalized, the frame count padded to the temporal
  patch, cut into the flattened patches the vision tower takes, plus `grid_thw`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from longvid.data.frames import normalize
from longvid.model.encoder import NORMALIZATION, FrameSpec

CLIP_MEAN, CLIP_STD = NORMALIZATION["clip_vision_model"]


@dataclass(frozen=True)
class NormalizedFrames:
    """uint8 (T, S, S, 3) -> float (T, 3, S, S), standardized per `spec`."""

    spec: FrameSpec

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        return normalize(frames, self.spec)


def qwen_frame_size(
    height: int,
    width: int,
    factor: int = 28,
    min_pixels: int = 56 * 56,
    max_pixels: int = 448 * 448,
) -> tuple[int, int]:
    """Qwen2-VL's resize rule: both sides multiples of `factor`, area within the bounds,
    aspect ratio kept as closely as rounding allows."""
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@dataclass(frozen=True)
class QwenVideoPatches:
    """uint8 (T, H, W, 3) -> (patches (N, C*tp*p*p), grid_thw (3,)).

    Frames are resized (antialiased bilinear) to Qwen's patch-aligned size within
    [min_pixels, max_pixels], CLIP-normalized, the count padded to a whole temporal patch
    by repeating the last frame, then cut into patches in the tower's merge order.
    """

    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2
    min_pixels: int = 56 * 56
    max_pixels: int = 448 * 448
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD

    def __call__(self, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        factor = self.patch_size * self.merge_size
        height, width = qwen_frame_size(
            frames.shape[1], frames.shape[2], factor, self.min_pixels, self.max_pixels
        )
        pixels = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div_(255.0)
        if (height, width) != tuple(pixels.shape[2:]):
            pixels = F.interpolate(
                pixels, size=(height, width), mode="bilinear", antialias=True, align_corners=False
            ).clamp_(0.0, 1.0)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        pixels = (pixels - mean) / std
        rest = -len(pixels) % self.temporal_patch_size
        if rest:  # repeat the last frame up to a whole temporal patch, as Qwen's processor does
            pixels = torch.cat([pixels, pixels[-1:].expand(rest, -1, -1, -1)])
        frames_n, channels = pixels.shape[:2]
        p, tp, m = self.patch_size, self.temporal_patch_size, self.merge_size
        grid_t, grid_h, grid_w = frames_n // tp, height // p, width // p
        patches = pixels.reshape(grid_t, tp, channels, grid_h // m, m, p, grid_w // m, m, p)
        patches = patches.permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
        flat = patches.reshape(grid_t * grid_h * grid_w, channels * tp * p * p).contiguous()
        return flat, torch.tensor([grid_t, grid_h, grid_w])
