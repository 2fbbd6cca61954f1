"""The vision tower: any Hugging Face vision encoder (SigLIP, CLIP) by hub id, path or config.

Why a wrapper: the rest of the model needs patch tokens laid out on a known (h, w) grid,
plus the image size and normalization the tower was trained with, whatever the tower.

Resolution is a setting, not a shape: `set_image_size(448)` on a tower trained at 384
makes the tower bicubically interpolate its position embeddings on every call (the
towers' own `interpolate_pos_encoding`), so the stored weights keep their shape and a
checkpoint loads at any resolution (VideoChat-Flash's stage 4 raises 224 -> 448 px).

Frames are encoded in chunks (`encode(frames, chunk)`): the tower sees at most `chunk`
frames per call, so its activation memory is bounded by the chunk; when the tower trains,
each chunk is recomputed in backward (activation checkpointing) for the same bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from transformers import AutoConfig, AutoModel, PreTrainedConfig, PreTrainedModel
from transformers.models.auto.modeling_auto import MODEL_MAPPING

# Normalization each tower family was trained with (SigLIP: [-1, 1]; CLIP: OpenAI stats).
NORMALIZATION: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "siglip_vision_model": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "clip_vision_model": (
        (0.48145466, 0.4578275, 0.40821073),
        (0.26862954, 0.26130258, 0.27577711),
    ),
}


@dataclass(frozen=True)
class FrameSpec:
    """What frame preprocessing must produce for this encoder: size and normalization."""

    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


def load_vision_tower(source: str | PreTrainedConfig) -> PreTrainedModel:
    """A vision-only model from a config (random weights), a hub id or a local path.

    A full dual-tower checkpoint (SigLIP, CLIP) loads only its vision tower.
    """
    if isinstance(source, PreTrainedConfig):
        model = AutoModel.from_config(source)
        return getattr(model, "vision_model", model) if hasattr(source, "vision_config") else model
    config = AutoConfig.from_pretrained(source)
    vision_config = getattr(config, "vision_config", config)
    model_class = MODEL_MAPPING[type(vision_config)]
    # MODEL_MAPPING gives one model class; transformers annotates its values as a pair.
    return model_class.from_pretrained(source)  # type: ignore[attr-defined]


class VisionEncoder(nn.Module):
    """Frames (N, 3, S, S) -> patch tokens (N, h*w, C) on a (h, w) grid."""

    def __init__(
        self, tower: PreTrainedModel, feature_layer: int = -1, image_size: int | None = None
    ) -> None:
        super().__init__()
        self.tower = tower
        self.feature_layer = feature_layer
        config: Any = tower.config
        self.hidden_size: int = config.hidden_size
        self.native_size: int = config.image_size
        self.patch_size: int = config.patch_size
        self.mean, self.std = NORMALIZATION.get(
            config.model_type, NORMALIZATION["siglip_vision_model"]
        )
        self.set_image_size(image_size or self.native_size)

    def set_image_size(self, size: int) -> None:
        """Input resolution from now on (position embeddings interpolated when not native).

        Raises:
            ValueError: `size` is not a positive multiple of the patch size.
        """
        if size <= 0 or size % self.patch_size:
            raise ValueError(
                f"image size {size} is not a positive multiple of the patch size {self.patch_size}"
            )
        self.image_size = size
        side = size // self.patch_size
        self.grid: tuple[int, int] = (side, side)
        self.frame_spec = FrameSpec(image_size=size, mean=self.mean, std=self.std)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Patch tokens of the chosen layer, without a class token if the tower has one."""
        wants_hidden = self.feature_layer != -1
        extra = {"interpolate_pos_encoding": True} if self.image_size != self.native_size else {}
        outputs = self.tower(pixel_values=pixel_values, output_hidden_states=wants_hidden, **extra)
        tokens = (
            outputs.hidden_states[self.feature_layer] if wants_hidden else outputs.last_hidden_state
        )
        patches = self.grid[0] * self.grid[1]
        return tokens[:, -patches:] if tokens.shape[1] == patches + 1 else tokens

    def encode(self, frames: torch.Tensor, chunk: int = 0) -> torch.Tensor:
        """`forward` over at most `chunk` frames per call (0: all at once), gradients only
        when the tower trains; a training tower recomputes each chunk in backward."""
        trains = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())
        if chunk <= 0 or chunk >= len(frames):
            with torch.set_grad_enabled(trains):
                return self(frames)
        pieces = []
        for start in range(0, len(frames), chunk):
            piece = frames[start : start + chunk]
            if trains:
                pieces.append(checkpoint(self, piece, use_reentrant=False))
            else:
                with torch.no_grad():
                    pieces.append(self(piece))
        return torch.cat(pieces, dim=0)


def vision_encoder(
    source: str | PreTrainedConfig, feature_layer: int = -1, image_size: int | None = None
) -> VisionEncoder:
    """Builder: load a tower and wrap it (see `load_vision_tower` for accepted sources)."""
    return VisionEncoder(
        load_vision_tower(source), feature_layer=feature_layer, image_size=image_size
    )
