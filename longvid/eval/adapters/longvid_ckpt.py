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

from longvid.eval.adapters import hf_common as hf
from longvid.eval.adapters.base import AdapterContext, Request
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


class LongvidAdapter(hf.SplicingAdapter):
    """A longvid.train checkpoint, loaded once; greedy answers batch by batch, options
    scored by likelihood."""

    Options = LongvidOptions

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
        self.tokenizer = hf.load_tokenizer(str(self.folder / "tokenizer"))
        self.device, dtype = hf.device_and_dtype(context.device, context.dtype)
        module: torch.nn.Module = self.model  # transformers types PreTrainedModel.to as a wrapper
        module.to(self.device, dtype).eval()
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

    def prompt_ids(self, request: Request, features: torch.Tensor | None) -> list[int]:
        content = request.prompt if features is None else f"{VIDEO_TOKEN}\n{request.prompt}"
        ids = self.tokenizer(hf.chat_prompt(self.tokenizer, content), add_special_tokens=False)
        if features is None:
            return ids["input_ids"]
        return hf.expand_placeholder(ids["input_ids"], self.model.video_token_id, len(features))

    def features(self, requests: list[Request]) -> list[torch.Tensor | None]:
        dtype = next(self.model.parameters()).dtype
        videos = [r.frames.to(self.device, dtype) for r in requests if r.frames is not None]
        encoded = iter(self.model.video_features(videos) if videos else [])
        return [None if r.frames is None else next(encoded) for r in requests]

    def language_model(self) -> Any:
        return self.model.llm

    def video_token_id(self) -> int:
        return self.model.video_token_id

    def describe(self) -> dict[str, Any]:
        return {
            "checkpoint": str(self.folder),
            "frame_range": [self.stage.min_frames, self.stage.max_frames],
        }
