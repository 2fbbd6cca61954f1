"""The vision tower: any Hugging Face vision encoder (SigLIP, CLIP) by hub id, path or config.

Why a wrapper: the rest of the model needs patch tokens laid out on a known (h, w) grid,
plus the image size and normalization the tower was trained with, whatever the tower.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
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

    def __init__(self, tower: PreTrainedModel, feature_layer: int = -1) -> None:
        super().__init__()
        self.tower = tower
        self.feature_layer = feature_layer
        config = tower.config
        self.hidden_size: int = config.hidden_size
        side = config.image_size // config.patch_size
        self.grid: tuple[int, int] = (side, side)
        mean, std = NORMALIZATION.get(config.model_type, NORMALIZATION["siglip_vision_model"])
        self.frame_spec = FrameSpec(image_size=config.image_size, mean=mean, std=std)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Patch tokens of the chosen layer, without a class token if the tower has one."""
        wants_hidden = self.feature_layer != -1
        outputs = self.tower(pixel_values=pixel_values, output_hidden_states=wants_hidden)
        tokens = (
            outputs.hidden_states[self.feature_layer] if wants_hidden else outputs.last_hidden_state
        )
        patches = self.grid[0] * self.grid[1]
        return tokens[:, -patches:] if tokens.shape[1] == patches + 1 else tokens


def vision_encoder(source: str | PreTrainedConfig, feature_layer: int = -1) -> VisionEncoder:
    """Builder: load a tower and wrap it (see `load_vision_tower` for accepted sources)."""
    return VisionEncoder(load_vision_tower(source), feature_layer=feature_layer)
