"""Vision preprocessing for the supported VLM families, written with numpy and torch.

Why our own: transformers' video processors need torchvision, which this project cannot
use, and decoding straight to the model's frame size in swscale (the one timestamp
decoder, `media.frames`) is cheaper than decoding full frames and resizing them after.
Each family's rules follow its Hugging Face processor, and the tests compare the output
with the transformers PIL image processors:

- `qwen2_vl`, `qwen2_5_vl` (the default family): keep the aspect ratio, both sides a
  multiple of patch_size * merge_size, pixels per frame within [min_pixels, max_pixels]
  (`smart_resize`); CLIP mean/std; frames padded to a multiple of temporal_patch_size by
  repeating the last one; patches flattened in the order the vision tower reads them
  (`patchify`); (t, h, w) grid per clip; t * h * w / merge_size**2 video tokens.
- `llava_onevision`: a square of the vision tower's image size (no crop); SigLIP
  mean/std 0.5; T * ceil(P / 2)**2 + 1 tokens (P = image_size / patch_size, 2x2 bilinear
  pooling, one newline token per video).
- `llava_next_video`: shortest edge to the tower's image size, then a centre crop;
  CLIP mean/std; T * (P // pool_stride)**2 tokens.

The split of the work: `decode_size` and `center_crop` run in CPU workers (frames travel
as uint8 at their final size, a quarter of float32's bytes); `pixel_inputs` (rescale,
normalize, patchify) runs on the model's device, where it costs next to nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
SIGLIP_MEAN = (0.5, 0.5, 0.5)
SIGLIP_STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Family:
    """What a model family needs from preprocessing and prompting (constants only)."""

    name: str
    model_types: tuple[str, ...]
    resize: str  # smart | square | crop
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    prompt_template: str  # {video} is where the video tokens go, {prompt} the instruction


_QWEN_TEMPLATE = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
    "<|vision_start|>{video}<|vision_end|>{prompt}<|im_end|>\n<|im_start|>assistant\n"
)

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        Family("qwen2_vl", ("qwen2_vl",), "smart", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, _QWEN_TEMPLATE),
        Family("qwen2_5_vl", ("qwen2_5_vl",), "smart", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, _QWEN_TEMPLATE),
        Family(
            "llava_onevision", ("llava_onevision",), "square", SIGLIP_MEAN, SIGLIP_STD,
            "<|im_start|>user {video}\n{prompt}<|im_end|>\n<|im_start|>assistant\n",
        ),
        Family(
            "llava_next_video", ("llava_next_video",), "crop", OPENAI_CLIP_MEAN, OPENAI_CLIP_STD,
            "USER: {video}\n{prompt} ASSISTANT:",
        ),
    )
}  # fmt: skip


def family_for(model_type: str, requested: str = "auto") -> Family:
    """The family of a model (`auto`: from its config's model_type).

    Raises:
        ValueError: the model type belongs to no supported family.
    """
    if requested != "auto":
        return FAMILIES[requested]
    for family in FAMILIES.values():
        if model_type in family.model_types:
            return family
    raise ValueError(
        f"model type {model_type!r} is not a supported video-language family "
        f"(supported: {', '.join(FAMILIES)}); set stages.caption.transformers.family"
    )


@dataclass(frozen=True)
class VisionSpec:
    """One model's preprocessing: its family's rules with the checkpoint's own numbers."""

    family: Family
    patch_size: int
    merge_size: int = 1
    temporal_patch_size: int = 1
    min_pixels: int = 0
    max_pixels: int = 0
    image_size: int = 0  # square side (onevision) or crop side (next-video)
    pool_stride: int = 2

    @property
    def frame_multiple(self) -> int:
        """Frame counts are padded to a multiple of this (Qwen's temporal patches)."""
        return self.temporal_patch_size if self.family.resize == "smart" else 1

    def decode_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) to decode a (height, width) video at, before any crop."""
        if self.family.resize == "smart":
            factor = self.patch_size * self.merge_size
            return smart_resize(height, width, factor, self.min_pixels, self.max_pixels)
        if self.family.resize == "square":
            return self.image_size, self.image_size
        scale = self.image_size / min(height, width)  # shortest edge to image_size
        return (
            max(self.image_size, int(round(height * scale))),
            max(self.image_size, int(round(width * scale))),
        )

    def finish(self, frames: np.ndarray) -> np.ndarray:
        """Frames at decode size -> frames at model size (centre crop for next-video)."""
        if self.family.resize == "crop":
            return center_crop(frames, self.image_size, self.image_size)
        return frames

    def token_count(self, frames: int, height: int, width: int) -> int:
        """Video placeholder tokens of a clip of `frames` frames at model size."""
        if self.family.resize == "smart":
            padded = frames + (-frames % self.temporal_patch_size)
            grid = (padded // self.temporal_patch_size) * (height // self.patch_size)
            return grid * (width // self.patch_size) // self.merge_size**2
        patches = self.image_size // self.patch_size
        if self.family.resize == "square":
            return frames * math.ceil(patches / 2) ** 2 + 1
        return frames * (patches // self.pool_stride) ** 2


def smart_resize(
    height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen2-VL's resize rule: sides multiples of `factor`, pixels within the bounds,
    aspect ratio kept as closely as possible (same arithmetic as transformers')."""
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio over 200: {height}x{width}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def center_crop(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """The centre (height, width) window of (T, H, W, C) frames (transformers' offsets)."""
    top = (frames.shape[1] - height) // 2
    left = (frames.shape[2] - width) // 2
    return frames[:, top : top + height, left : left + width]


def vision_spec(
    model_config: Any,
    processor_config: dict[str, Any],
    family_name: str = "auto",
    max_frame_pixels: int | None = None,
) -> VisionSpec:
    """The preprocessing of a checkpoint: family rules, numbers from its configs.

    `processor_config` is the checkpoint's (video) preprocessor config, possibly empty;
    `max_frame_pixels` lowers Qwen's per-frame pixel cap (fewer tokens per clip).
    """
    family = family_for(getattr(model_config, "model_type", ""), family_name)
    vision = model_config.vision_config
    if family.resize == "smart":
        size = processor_config.get("size") or {}
        max_pixels = int(processor_config.get("max_pixels") or size.get("longest_edge") or 0)
        max_pixels = max_pixels or 768 * 28 * 28
        if max_frame_pixels:
            max_pixels = min(max_pixels, max_frame_pixels)
        min_pixels = int(processor_config.get("min_pixels") or size.get("shortest_edge") or 0)
        return VisionSpec(
            family=family,
            patch_size=int(vision.patch_size),
            merge_size=int(vision.spatial_merge_size),
            temporal_patch_size=int(vision.temporal_patch_size),
            min_pixels=min(min_pixels or 56 * 56, max_pixels),
            max_pixels=max_pixels,
        )
    return VisionSpec(
        family=family,
        patch_size=int(vision.patch_size),
        image_size=int(vision.image_size),
        pool_stride=int(getattr(model_config, "spatial_pool_stride", 2) or 2),
    )


def normalization(spec: VisionSpec, processor_config: dict[str, Any]) -> tuple[Any, Any]:
    """(mean, std) of the checkpoint's processor config, else the family's."""
    mean = processor_config.get("image_mean") or spec.family.mean
    std = processor_config.get("image_std") or spec.family.std
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def sample_times(start_s: float, end_s: float, frames: int) -> list[float]:
    """`frames` timestamps spread evenly over [start_s, end_s), each at its slot's centre."""
    step = (end_s - start_s) / frames
    return [start_s + (index + 0.5) * step for index in range(frames)]


def normalize(frames: Any, mean: Any, std: Any) -> Any:
    """uint8 (T, H, W, 3) tensor -> float (T, 3, H, W): x / 255, then (x - mean) / std."""
    import torch

    pixels = frames.permute(0, 3, 1, 2).to(torch.float32) * (1.0 / 255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=pixels.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=pixels.device).view(1, 3, 1, 1)
    return (pixels - mean_t) / std_t


def patchify(pixels: Any, spec: VisionSpec) -> tuple[Any, tuple[int, int, int]]:
    """Qwen-VL patches of one clip: (T, 3, H, W) -> (t*h*w, 3*tps*ps*ps) and its grid."""
    import torch

    frames, channels, height, width = pixels.shape
    tps, ps, ms = spec.temporal_patch_size, spec.patch_size, spec.merge_size
    if pad := -frames % tps:
        pixels = torch.cat([pixels, pixels[-1:].expand(pad, -1, -1, -1)])
        frames += pad
    grid = (frames // tps, height // ps, width // ps)
    patches = pixels.reshape(
        grid[0], tps, channels, grid[1] // ms, ms, ps, grid[2] // ms, ms, ps
    ).permute(0, 3, 6, 4, 7, 2, 1, 5, 8)
    return patches.reshape(grid[0] * grid[1] * grid[2], channels * tps * ps * ps), grid


def pixel_inputs(
    clips: list[np.ndarray],
    spec: VisionSpec,
    mean: Any,
    std: Any,
    device: Any,
    dtype: Any,
    fps: list[float] | None = None,
) -> dict[str, Any]:
    """Model keyword arguments holding the pixels of a batch of clips (uint8 frames)."""
    import torch

    pixels = [
        normalize(torch.from_numpy(np.ascontiguousarray(f)).to(device), mean, std) for f in clips
    ]
    if spec.family.resize != "smart":
        return {"pixel_values_videos": torch.stack(pixels).to(dtype)}
    patched = [patchify(p, spec) for p in pixels]
    inputs = {
        "pixel_values_videos": torch.cat([p for p, _ in patched]).to(dtype),
        "video_grid_thw": torch.tensor([g for _, g in patched], device=device),
    }
    if spec.family.name == "qwen2_5_vl" and fps:
        seconds = [spec.temporal_patch_size / rate for rate in fps]
        inputs["second_per_grid_ts"] = torch.tensor(seconds, device=device)
    return inputs
