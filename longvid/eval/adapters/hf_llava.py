"""`hf_llava`: LLaVA-OneVision and LLaVA-NeXT-Video checkpoints (transformers), by hub id
or local path, with training-free SlowFast or the checkpoint's own video handling.

    slowfast  frames -> vision tower -> projector -> SlowFast (slow first, then fast):
              SlowFast-LLaVA's arithmetic (see slowfast.py), 50 frames by default
    native    the checkpoint's own video path (`get_video_features`): OneVision's
              bilinear 2x pooling plus a newline token, NeXT-Video's 2x average pooling

Either way the prompt holds one video placeholder expanded to exactly the number of
video tokens, the features are written into the input embeddings, and `generate` runs
greedily. Frames are decoded square at the tower's input size and standardized with the
tower family's mean/std (SigLIP for OneVision, CLIP for NeXT-Video), in the DataLoader
workers: no image processor (and no torchvision) is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from longvid.eval.adapters import hf_common as hf
from longvid.eval.adapters.base import AdapterContext, Request
from longvid.eval.adapters.preprocess import NormalizedFrames
from longvid.eval.adapters.slowfast import SlowFastOptions, slowfast_compressor
from longvid.eval.loader import FramePlan
from longvid.model.encoder import NORMALIZATION, FrameSpec
from longvid_pipeline.config import ConfigProblem, param

FAMILIES = {
    "llava_onevision": "transformers:LlavaOnevisionForConditionalGeneration",
    "llava_next_video": "transformers:LlavaNextVideoForConditionalGeneration",
}


@dataclass
class LlavaOptions:
    source: str = param("", "hub id or local path of a LLaVA-OneVision / LLaVA-NeXT-Video model")
    frames: int = param(50, "frames per video (SlowFast-LLaVA: 50)", min=1)
    frame_handling: str = param(
        "slowfast",
        "slowfast (training-free SlowFast-LLaVA) or native (the checkpoint's own pooling)",
        choices=("slowfast", "native"),
    )
    slowfast: SlowFastOptions = param(None, "SlowFast pathways (frame_handling: slowfast)")
    chat_template: str | None = param(
        None, "Jinja chat template (null: the tokenizer's, else ChatML)"
    )
    vision_batch: int = param(64, "frames per vision-tower forward", min=1)


def placeholder_token_id(config: Any) -> int:
    """The checkpoint's video placeholder id (named differently across versions)."""
    value = getattr(config, "video_token_id", None)
    return int(value if value is not None else config.video_token_index)


class LlavaAdapter(hf.SplicingAdapter):
    """A LLaVA video model loaded once; answers batch by batch, options scored by
    likelihood."""

    Options = LlavaOptions

    @classmethod
    def option_problems(cls, options: LlavaOptions, key: str) -> list[ConfigProblem]:
        problems = [
            ConfigProblem(f"{key}.slowfast.{name}", message)
            for name, message in options.slowfast.problems()
        ]
        problems += hf.source_problems(options.source, key)
        return problems

    def __init__(self, options: LlavaOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        self.model, self.tokenizer, self.device = hf.load_model(
            options.source, FAMILIES, context.device, context.dtype
        )
        self.config = self.model.config
        vision = self.config.vision_config
        side = vision.image_size // vision.patch_size
        self.grid = (side, side)
        mean, std = NORMALIZATION.get(vision.model_type, NORMALIZATION["siglip_vision_model"])
        self.spec = FrameSpec(vision.image_size, mean, std)
        self.placeholder_id = placeholder_token_id(self.config)
        self.slowfast = slowfast_compressor(options.slowfast.setting())

    def frame_plan(self) -> FramePlan:
        return FramePlan(
            frames=self.options.frames,
            height=self.spec.image_size,
            width=self.spec.image_size,
            prepare=NormalizedFrames(self.spec),
        )

    def frame_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """(T, 3, S, S) -> projected per-frame patch features (T, h*w, D), unpooled."""
        inner = self.model.model
        layer = self.config.vision_feature_layer
        hidden = []
        for chunk in pixels.split(self.options.vision_batch):
            states = inner.vision_tower(chunk, output_hidden_states=True, return_dict=True)
            states = states.hidden_states
            chosen = (
                states[layer]
                if isinstance(layer, int)
                else torch.cat([states[i] for i in layer], -1)
            )
            if self.config.vision_feature_select_strategy == "default":
                chosen = chosen[:, 1:]  # drop CLS
            hidden.append(chosen)
        return inner.multi_modal_projector(torch.cat(hidden))

    def video_tokens(self, pixels: torch.Tensor) -> torch.Tensor:
        """(M, D) video tokens of one video under the configured frame handling."""
        if self.options.frame_handling == "slowfast":
            return self.slowfast(self.frame_tokens(pixels), self.grid)
        features = self.model.model.get_video_features(pixel_values_videos=pixels[None])
        return features.pooler_output[0]

    def prompt_ids(self, request: Request, features: torch.Tensor | None) -> list[int]:
        count = 0 if features is None else features.shape[0]
        placeholder = self.tokenizer.convert_ids_to_tokens(self.placeholder_id)
        content = request.prompt if count == 0 else f"{placeholder}\n{request.prompt}"
        text = hf.chat_prompt(self.tokenizer, content, self.options.chat_template)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids if count == 0 else hf.expand_placeholder(ids, self.placeholder_id, count)

    def features(self, requests: list[Request]) -> list[torch.Tensor | None]:
        dtype = self.model.dtype
        return [
            self.video_tokens(r.frames.to(self.device, dtype)) if r.frames is not None else None
            for r in requests
        ]

    def language_model(self) -> Any:
        return self.model

    def video_token_id(self) -> int:
        return self.placeholder_id

    def describe(self) -> dict[str, Any]:
        tokens = (
            self.slowfast.num_tokens(self.options.frames, self.grid)
            if self.options.frame_handling == "slowfast"
            else None
        )
        return {
            "source": self.options.source,
            "family": self.config.model_type,
            "frame_handling": self.options.frame_handling,
            "frames": self.options.frames,
            "patch_grid": list(self.grid),
            "video_tokens": tokens,
        }
