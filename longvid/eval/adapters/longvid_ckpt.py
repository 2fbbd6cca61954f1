"""`longvid`: a checkpoint written by longvid.train, answering the way it was trained.

The checkpoint folder holds the resolved training config, the weights and the tokenizer;
the model is rebuilt from the config (preset + compressor), the weights loaded strictly.
Frames follow the training data path: the row's sampling plan fitted into the last
schedule stage's frame range (or `frames`), at the encoder's size and normalization, and
the prompt is the training conversation's human turn (<video>, timestamp prompt,
question) in the tokenizer's chat template, with as many placeholders as the compressor
makes tokens.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import AutoTokenizer

from longvid.eval.adapters.base import Adapter, AdapterContext, OptionScore, Request
from longvid.eval.adapters.hf_common import (
    chat_prompt,
    continuation_logits,
    expand_placeholder,
    generate_text,
    left_pad,
    option_rows,
    option_scores,
    pad_id,
    resolve_device,
    resolve_dtype,
)
from longvid.eval.adapters.preprocess import NormalizedFrames
from longvid.eval.loader import FramePlan
from longvid.model.tokenizer import VIDEO_TOKEN
from longvid_pipeline.config import ConfigError, ConfigProblem, param


@dataclass
class LongvidOptions:
    checkpoint: str = param(
        "runs/tiny", "a checkpoint folder (step-N) or a training output_dir (its latest)"
    )
    frames: int | None = param(
        None, "frames per video (null: the row's plan fitted to the last stage's range)", min=1
    )


def checkpoint_folder(path: Path) -> Path | None:
    """The step folder itself, or the newest complete one under a training output_dir."""
    from longvid.train.checkpoint import latest_checkpoint

    if (path / "model.safetensors").is_file():
        return path
    return latest_checkpoint(path)


class LongvidAdapter(Adapter):
    """A longvid.train checkpoint, loaded once; greedy answers batch by batch, options
    scored by likelihood."""

    Options = LongvidOptions
    SCORES_OPTIONS = True

    @classmethod
    def option_problems(cls, options: LongvidOptions, key: str) -> list[ConfigProblem]:
        if checkpoint_folder(Path(options.checkpoint)) is None:
            return [
                ConfigProblem(
                    f"{key}.checkpoint",
                    f"no checkpoint at {options.checkpoint}: train one with longvid.train "
                    "(e.g. configs/tiny.yaml) or fix the path",
                )
            ]
        return []

    def __init__(self, options: LongvidOptions, context: AdapterContext) -> None:
        super().__init__(options, context)
        from longvid.train.checkpoint import load_weights
        from longvid.train.config import load_config
        from longvid.train.loop import build_model

        folder = checkpoint_folder(Path(options.checkpoint))
        if folder is None:  # option_problems saw one; it may have gone since
            raise ValueError(f"no checkpoint at {options.checkpoint}")
        self.folder = folder
        try:
            train_config = load_config(
                None, [], json.loads((self.folder / "config.json").read_text())
            )
        except ConfigError as exc:
            raise ValueError(f"{self.folder}/config.json: {exc}") from None
        self.model, _ = build_model(train_config)
        load_weights(self.folder, self.model)
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.folder / "tokenizer"))
        self.device = resolve_device(context.device)
        self.model.to(self.device, resolve_dtype(context.dtype, self.device)).eval()
        self.stage = train_config.schedule.stages[-1]

    def frame_plan(self) -> FramePlan:
        spec = self.model.encoder.frame_spec
        return FramePlan(
            frames=self.options.frames,
            min_frames=self.stage.min_frames,
            max_frames=self.stage.max_frames,
            multiple=4,
            height=spec.image_size,
            width=spec.image_size,
            prepare=NormalizedFrames(spec),
        )

    def _ids(self, request: Request) -> list[int]:
        content = (
            f"{VIDEO_TOKEN}\n{request.prompt}" if request.frames is not None else request.prompt
        )
        text = chat_prompt(self.tokenizer, content)
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if request.frames is None:
            return ids
        count = self.model.num_video_tokens(len(request.frames))
        return expand_placeholder(ids, self.model.video_token_id, count)

    def _features(self, requests: list[Request]) -> list[torch.Tensor] | None:
        """Video tokens per request, or None for a text-only batch (a run is all video,
        or all blind: never both in one batch).

        Raises:
            ValueError: some requests have frames and others not.
        """
        dtype = next(self.model.parameters()).dtype
        videos = [r.frames.to(self.device, dtype) for r in requests if r.frames is not None]
        if not videos:
            return None
        if len(videos) != len(requests):
            raise ValueError("a batch mixes requests with and without frames")
        return self.model.video_features(videos)

    def _embeddings(
        self, input_ids: torch.Tensor, features: list[torch.Tensor] | None
    ) -> torch.Tensor:
        input_ids = input_ids.to(self.device)
        if features is None:
            return self.model.llm.get_input_embeddings()(input_ids)
        return self.model.splice(input_ids, features)

    @torch.inference_mode()
    def generate(self, requests: list[Request]) -> list[str]:
        input_ids, mask = left_pad([self._ids(r) for r in requests], pad_id(self.tokenizer))
        return generate_text(
            self.model.llm,
            self.tokenizer,
            self.context.max_new_tokens,
            inputs_embeds=self._embeddings(input_ids, self._features(requests)),
            attention_mask=mask.to(self.device),
        )

    @torch.inference_mode()
    def option_loglikelihoods(
        self, requests: list[Request], continuations: list[list[str]]
    ) -> list[list[OptionScore]]:
        rows = option_rows(self.tokenizer, [self._ids(r) for r in requests], continuations)
        features = self._features(requests)
        per_row = None if features is None else [features[owner] for owner in rows.owners]
        embeds = self._embeddings(rows.input_ids, per_row)
        logits = continuation_logits(self.model.llm, rows, self.device, inputs_embeds=embeds)
        return option_scores(rows, logits)

    def describe(self) -> dict[str, Any]:
        return {
            "checkpoint": str(self.folder),
            "frame_range": [self.stage.min_frames, self.stage.max_frames],
        }
