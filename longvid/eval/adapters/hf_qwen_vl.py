"""`hf_qwen_vl`: Qwen2-VL and Qwen2.5-VL checkpoints (transformers), by hub id or path.

The model's own video path is used: frames are resized to Qwen's patch-aligned size,
normalized and cut into patches in the DataLoader workers (`QwenVideoPatches`, no
processor or torchvision needed); the prompt holds <|vision_start|>, as many
<|video_pad|> tokens as the merged patch grid has cells, and <|vision_end|>; the model
computes its multimodal rotary positions itself from `mm_token_type_ids` (which tokens
are video: transformers 5 needs them, else every token gets a plain 1D position).
Qwen2.5-VL also gets the seconds each temporal patch spans, so its absolute-time
positions match the video's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers.modeling_outputs import BaseModelOutputWithPooling

from longvid.eval.adapters import hf_common as hf
from longvid.eval.adapters.base import Adapter, AdapterContext, OptionScore, Request
from longvid.eval.adapters.preprocess import QwenVideoPatches
from longvid.eval.loader import FramePlan
from longvid_pipeline.config import ConfigProblem, param

FAMILIES = {
    "qwen2_vl": "transformers:Qwen2VLForConditionalGeneration",
    "qwen2_5_vl": "transformers:Qwen2_5_VLForConditionalGeneration",
}
VISION_START, VIDEO_PAD, VISION_END = "<|vision_start|>", "<|video_pad|>", "<|vision_end|>"
VIDEO_TYPE = 2  # mm_token_type_ids: 0 text, 1 image, 2 video


@dataclass
class QwenVLOptions:
    source: str = param("", "hub id or local path of a Qwen2-VL / Qwen2.5-VL model")
    frames: int = param(16, "frames per video", min=1)
    min_pixels: int = param(56 * 56, "smallest frame area after resizing (pixels)", min=784)
    max_pixels: int = param(448 * 448, "largest frame area after resizing (pixels)", min=784)
    chat_template: str | None = param(
        None, "Jinja chat template (null: the tokenizer's, else ChatML)"
    )


def video_input(request: Request) -> tuple[torch.Tensor, torch.Tensor]:
    """(patches, grid_thw) that `QwenVideoPatches` made for a request with frames.

    Raises:
        ValueError: the request has no frames (a blind request has no video input).
    """
    if request.frames is None:
        raise ValueError(f"{request.sample.sample_id}: no frames")
    patches, grid_thw = request.frames
    return patches, grid_thw


class QwenVLAdapter(Adapter):
    """A Qwen VL model loaded once; answers batch by batch, options scored by likelihood
    (each video encoded once, its features shared by its option rows)."""

    Options = QwenVLOptions
    SCORES_OPTIONS = True

    @classmethod
    def option_problems(cls, options: QwenVLOptions, key: str) -> list[ConfigProblem]:
        problems = hf.source_problems(options.source, key)
        if options.min_pixels > options.max_pixels:
            problems.append(ConfigProblem(f"{key}.min_pixels", "must not exceed max_pixels"))
        return problems

    def __init__(self, options: QwenVLOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        self.model, self.tokenizer, self.device = hf.load_model(
            options.source, FAMILIES, context.device, context.dtype
        )
        vision = self.model.config.vision_config
        self.patches = QwenVideoPatches(
            patch_size=vision.patch_size,
            temporal_patch_size=vision.temporal_patch_size,
            merge_size=vision.spatial_merge_size,
            min_pixels=options.min_pixels,
            max_pixels=options.max_pixels,
        )
        self.timed = self.model.config.model_type == "qwen2_5_vl"
        self.video_pad_id = int(self.model.config.video_token_id)

    def frame_plan(self) -> FramePlan:
        return FramePlan(frames=self.options.frames, prepare=self.patches)

    def video_tokens(self, grid_thw: torch.Tensor) -> int:
        """LLM tokens of a video: merged grid cells (t x h x w / merge^2)."""
        return int(grid_thw.prod()) // self.patches.merge_size**2

    def _ids(self, request: Request) -> list[int]:
        if request.frames is None:
            content = request.prompt
        else:
            pads = VIDEO_PAD * self.video_tokens(video_input(request)[1])
            content = f"{VISION_START}{pads}{VISION_END}{request.prompt}"
        text = hf.chat_prompt(self.tokenizer, content, self.options.chat_template)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _inputs(self, input_ids: torch.Tensor, videos: list[Request]) -> dict[str, Any]:
        """Model inputs besides the mask: ids, which tokens are video (Qwen numbers their
        multimodal rotary positions from that; without it every token gets a 1D
        position), and per video its patch grid (and seconds per temporal patch)."""
        inputs: dict[str, Any] = {
            "input_ids": input_ids,
            "mm_token_type_ids": (input_ids == self.video_pad_id).int() * VIDEO_TYPE,
        }
        if videos:
            grids = [video_input(r)[1] for r in videos]
            inputs["video_grid_thw"] = torch.stack(grids).to(self.device)
            if self.timed:
                inputs["second_per_grid_ts"] = torch.tensor(
                    [self._seconds_per_patch(r) for r in videos], device=self.device
                )
        return inputs

    def _pixels(self, videos: list[Request]) -> torch.Tensor:
        patches = [video_input(r)[0] for r in videos]
        return torch.cat(patches).to(self.device, self.model.dtype)

    @torch.inference_mode()
    def generate(self, requests: list[Request]) -> list[str]:
        sequences = [self._ids(r) for r in requests]
        input_ids, mask = hf.left_pad(sequences, self.tokenizer.pad_token_id, self.device)
        videos = [r for r in requests if r.frames is not None]
        inputs = self._inputs(input_ids, videos)
        if videos:
            inputs["pixel_values_videos"] = self._pixels(videos)
        inputs["attention_mask"] = mask
        return hf.generate_text(self.model, self.tokenizer, self.context.max_new_tokens, **inputs)

    @torch.inference_mode()
    def option_loglikelihoods(
        self, requests: list[Request], continuations: list[list[str]]
    ) -> list[list[OptionScore]]:
        prompts = [self._ids(r) for r in requests]
        rows = hf.option_rows(self.tokenizer, prompts, continuations, self.device)
        videos = [r for r in requests if r.frames is not None]
        if not videos:
            return hf.score_rows(self.model, rows, **self._inputs(rows.input_ids, []))
        if len(videos) != len(requests):
            raise ValueError("a batch mixes requests with and without frames")
        grids = torch.stack([video_input(r)[1] for r in videos]).to(self.device)
        encoded = self.model.model.get_video_features(self._pixels(videos), grids)
        per_row = [encoded.pooler_output[owner] for owner in rows.owners]
        inputs = self._inputs(rows.input_ids, [requests[owner] for owner in rows.owners])
        # Qwen's video encoder output holds one tensor per video in pooler_output (as its
        # get_video_features returns it), which transformers types as one tensor
        video = BaseModelOutputWithPooling(pooler_output=per_row)  # type: ignore[arg-type]
        inputs["mm_encoder_outputs"] = {"video": video}
        return hf.score_rows(self.model, rows, numbered=False, **inputs)

    def _seconds_per_patch(self, request: Request) -> float:
        """Seconds of video one temporal patch spans (frames are spread over the video)."""
        shown = int(video_input(request)[1][0]) * self.patches.temporal_patch_size
        return self.patches.temporal_patch_size * request.sample.duration_s / max(shown, 1)

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.options.source,
            "frames": self.options.frames,
            "max_pixels": self.options.max_pixels,
        }
