"""Frame preprocessing each model family expects, in numpy/torch (torchvision is not used).

These run in DataLoader workers (`FramePlan.prepare`), so they are small picklable
classes holding constants, never the model.

- `NormalizedFrames`: square frames (decoded at the tower's input size) -> float
  (T, 3, S, S) standardized with the tower's mean/std (SigLIP, CLIP; LLaVA families and
  longvid checkpoints).
- `QwenVideoPatches`: Qwen2-VL / Qwen2.5-VL video input: frames resized to a multiple
  of patch x merge (aspect kept), then the captioner's steps (`longvid_pipeline.models.
  vision`): CLIP-normalized, the frame count padded to the temporal patch, cut into the
  flattened patches the vision tower takes, plus `grid_thw`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from longvid.data.frames import normalize as normalize_frames
from longvid.model.encoder import NORMALIZATION, FrameSpec
from longvid_pipeline.models.vision import FAMILIES, VisionSpec, normalize, patchify, smart_resize

CLIP_MEAN, CLIP_STD = NORMALIZATION["clip_vision_model"]


@dataclass(frozen=True)
class NormalizedFrames:
    """uint8 (T, S, S, 3) -> float (T, 3, S, S), standardized per `spec`."""

    spec: FrameSpec

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        return normalize_frames(frames, self.spec)


@dataclass(frozen=True)
class QwenVideoPatches:
    """uint8 (T, H, W, 3) -> (patches (N, C*tp*p*p), grid_thw (3,)).

    Frames are resized (antialiased bilinear, rounded back to uint8 as the processor's
    PIL resize does) to Qwen's patch-aligned size within [min_pixels, max_pixels], then
    normalized and cut into patches by the captioner's own steps
    (`longvid_pipeline.models.vision`: smart_resize, normalize, patchify).
    """

    patch_size: int = 14
    temporal_patch_size: int = 2
    merge_size: int = 2
    min_pixels: int = 56 * 56
    max_pixels: int = 448 * 448
    mean: tuple[float, ...] = CLIP_MEAN
    std: tuple[float, ...] = CLIP_STD

    def spec(self) -> VisionSpec:
        """These numbers as the captioner's Qwen2-VL preprocessing spec."""
        return VisionSpec(
            FAMILIES["qwen2_vl"],
            patch_size=self.patch_size,
            merge_size=self.merge_size,
            temporal_patch_size=self.temporal_patch_size,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
        )

    def __call__(self, frames: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        factor = self.patch_size * self.merge_size
        height, width = smart_resize(
            frames.shape[1], frames.shape[2], factor, self.min_pixels, self.max_pixels
        )
        pixels = torch.from_numpy(np.ascontiguousarray(frames))
        if (height, width) != tuple(pixels.shape[1:3]):
            resized = F.interpolate(
                pixels.permute(0, 3, 1, 2).float(),
                size=(height, width),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
            pixels = resized.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        patches, grid = patchify(normalize(pixels, self.mean, self.std), self.spec())
        return patches.contiguous(), torch.tensor(grid)
