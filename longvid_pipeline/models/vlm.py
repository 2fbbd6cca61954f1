"""The `transformers` caption backend: a Hugging Face vision-language model per actor.

Two halves, so GPUs never wait on decoding:
- `prepare` (CPU prep workers): sample `frames_per_clip` timestamps per clip, decode them
  with the one timestamp decoder straight at the model's frame size (swscale, bicubic),
  crop where the family crops. uint8 frames travel to the model actor, a quarter of
  float32's bytes. Clips past the payload budget are left for the actor to decode.
- `caption_clips` (model actors): rescale/normalize/patchify on the model's device, build
  each prompt with the family's chat format and the clip's number of video tokens, and
  generate greedily in batches of `clips_per_batch` that halve on out-of-memory; a clip
  that still fails is reported for a clip-level reject.

Example (what the caption stage does; the model loads in `setup`):
    captioner = TransformersCaptioner(caption_config)
    captioner.setup()
    captions = captioner.caption_clips(item, item.clips, captioner.prepare(item, item.clips))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from longvid_pipeline.captioning.base import Captions, ClipCaption
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media.frames import frames_at
from longvid_pipeline.models.batching import AdaptiveBatcher
from longvid_pipeline.models.loading import (
    clean_text,
    device_and_dtype,
    left_pad,
    load_processor_config,
    load_tokenizer,
)
from longvid_pipeline.models.vision import (
    VisionSpec,
    normalization,
    pixel_inputs,
    sample_times,
    vision_spec,
)
from longvid_pipeline.stage import Reject


@dataclass
class PreparedClip:
    """One clip ready for the model: uint8 frames (T, H, W, 3) at model size."""

    position: int
    frames: np.ndarray
    fps: float


@dataclass
class PreparedVideo:
    """A video's prepared clips by position; positions absent were over the budget."""

    clips: dict[int, PreparedClip] = field(default_factory=dict)


@dataclass(frozen=True)
class Preprocessing:
    """A checkpoint's preprocessing: family rules, normalization and frames per clip."""

    spec: VisionSpec
    mean: tuple[float, ...]
    std: tuple[float, ...]
    frames_per_clip: int

    @classmethod
    def load(cls, settings: Any, model_config: Any = None) -> Preprocessing:
        """Read the checkpoint's configs (config.json and its preprocessor config)."""
        if model_config is None:
            from transformers import AutoConfig

            model_config = AutoConfig.from_pretrained(settings.model)
        processor_config = load_processor_config(settings.model)
        spec = vision_spec(
            model_config, processor_config, settings.family, settings.max_frame_pixels
        )
        mean, std = normalization(spec, processor_config)
        frames = settings.frames_per_clip
        frames += -frames % spec.frame_multiple
        return cls(spec=spec, mean=mean, std=std, frames_per_clip=frames)

    def prepare(
        self,
        media_path: str,
        video: dict[str, Any],
        clips: list[dict[str, Any]],
        positions: list[int],
    ) -> PreparedVideo:
        """Decode the frames of the clips at `positions` in one pass over the file."""
        height, width = self.spec.decode_size(int(video["height"]), int(video["width"]))
        times = {
            position: sample_times(
                float(clips[position]["start_s"]),
                float(clips[position]["end_s"]),
                self.frames_per_clip,
            )
            for position in positions
        }
        flat = [t for position in positions for t in times[position]]
        if not flat:
            return PreparedVideo()
        frames = frames_at(media_path, flat, width=width, height=height, interpolation="BICUBIC")
        prepared = PreparedVideo()
        for offset, position in enumerate(positions):
            chunk = frames[offset * self.frames_per_clip : (offset + 1) * self.frames_per_clip]
            span = max(float(clips[position]["end_s"]) - float(clips[position]["start_s"]), 1e-3)
            prepared.clips[position] = PreparedClip(
                position=position,
                frames=np.ascontiguousarray(self.spec.finish(chunk)),
                fps=self.frames_per_clip / span,
            )
        return prepared

    def clip_bytes(self, video: dict[str, Any]) -> int:
        """uint8 bytes of one prepared clip of this video."""
        height, width = self.spec.decode_size(int(video["height"]), int(video["width"]))
        if self.spec.family.resize == "crop":
            height = width = self.spec.image_size
        return self.frames_per_clip * height * width * 3


class PromptIds:
    """Token ids of the prompt around the video tokens, tokenized once per worker."""

    def __init__(self, tokenizer: Any, template: str, prompt: str, video_token_id: int) -> None:
        filled = template.replace("{prompt}", prompt)
        if filled.count("{video}") != 1:
            raise ValueError("prompt_template must hold {video} exactly once")
        head, tail = filled.split("{video}")
        self.head = list(tokenizer(head, add_special_tokens=True).input_ids)
        self.tail = list(tokenizer(tail, add_special_tokens=False).input_ids)
        self.video_token_id = video_token_id

    def ids(self, video_tokens: int) -> list[int]:
        return [*self.head, *[self.video_token_id] * video_tokens, *self.tail]


class VisionLanguageModel:
    """A VLM loaded once: captions for batches of prepared clips."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    def load(self) -> None:
        from transformers import AutoModelForImageTextToText

        self.device, self.dtype = device_and_dtype(self.settings.device, self.settings.dtype)
        self.tokenizer = load_tokenizer(self.settings.model)
        model = AutoModelForImageTextToText.from_pretrained(self.settings.model, dtype=self.dtype)
        self.model = model.to(self.device).eval()
        self.preprocessing = Preprocessing.load(self.settings, model.config)
        spec = self.preprocessing.spec
        template = self.settings.prompt_template or spec.family.prompt_template
        video_token_id = int(model.config.video_token_id)
        self.prompt = PromptIds(self.tokenizer, template, self.settings.prompt, video_token_id)

    def generate(self, clips: list[PreparedClip]) -> list[str | None]:
        """Greedy captions of a batch of clips (raises torch's OOM for the batcher)."""
        import torch

        spec, prep = self.preprocessing.spec, self.preprocessing
        counts = [spec.token_count(c.frames.shape[0], *c.frames.shape[1:3]) for c in clips]
        input_ids, mask = left_pad(
            [self.prompt.ids(n) for n in counts], self.tokenizer.pad_token_id, self.device
        )
        inputs = pixel_inputs(
            [c.frames for c in clips], spec, prep.mean, prep.std, self.device, self.dtype,
            fps=[c.fps for c in clips],
        )  # fmt: skip
        if spec.family.resize == "smart":  # M-RoPE needs to know which tokens are video
            inputs["mm_token_type_ids"] = (input_ids == self.prompt.video_token_id).int() * 2
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=self.settings.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
                **inputs,
            )
        texts = self.tokenizer.batch_decode(
            output[:, input_ids.shape[1] :], skip_special_tokens=True
        )
        return [clean_text(text) for text in texts]


class TransformersCaptioner:
    """Caption backend `transformers` (see the module docstring)."""

    source: ClassVar[str] = "transformers"

    def __init__(self, config: Any) -> None:
        self.settings = config.transformers
        self.budget_bytes = int(config.prep.max_payload_mb) * 1024 * 1024

    def setup_prep(self) -> None:
        """CPU workers: only the checkpoint's configs, no weights."""
        self.preprocessing = Preprocessing.load(self.settings)

    def setup(self) -> None:
        """Model actors: load the weights once."""
        self.model = VisionLanguageModel(self.settings)
        self.model.load()
        self.preprocessing = self.model.preprocessing
        self.batcher = AdaptiveBatcher(self.settings.clips_per_batch)

    def prepare(self, item: WorkItem, clips: list[dict[str, Any]]) -> PreparedVideo:
        """Frames of as many clips as fit the payload budget, in clip order."""
        return self._decode(item, clips, list(range(min(len(clips), self._fit(item)))))

    def _decode(
        self, item: WorkItem, clips: list[dict[str, Any]], positions: list[int]
    ) -> PreparedVideo:
        """Frames of `positions`; a file that cannot be decoded rejects the video."""
        try:
            return self.preprocessing.prepare(
                str(item.media_path), item.video or {}, clips, positions
            )
        except Exception as exc:  # PyAV raises several types; any of them means unreadable
            raise Reject("frames_unreadable", f"{type(exc).__name__}: {exc}"[:2000]) from exc

    def caption_clips(
        self, item: WorkItem, clips: list[dict[str, Any]], prepared: Any = None
    ) -> Captions:
        """Captions of every clip; clips the prep workers left out are decoded here, a
        budget's worth at a time (a long video never holds all its frames at once)."""
        ready: PreparedVideo = prepared if prepared is not None else PreparedVideo()
        texts: list[str | None] = [None] * len(clips)
        failed: dict[int, tuple[str, str]] = {}
        fit = self._fit(item)
        for first in range(0, len(clips), fit):
            positions = list(range(first, min(first + fit, len(clips))))
            missing = [position for position in positions if position not in ready.clips]
            if missing:
                ready.clips.update(self._decode(item, clips, missing).clips)
            run = self.batcher.run([ready.clips.pop(p) for p in positions], self.model.generate)
            texts[first : first + len(positions)] = run.results
            failed.update({first + offset: why for offset, why in run.failures.items()})
        return Captions(
            model=str(self.settings.model),
            clips=[ClipCaption(caption=text) for text in texts],
            failed=failed,
        )

    def _fit(self, item: WorkItem) -> int:
        """Clips of this video whose frames fit the payload budget (at least one)."""
        return max(1, self.budget_bytes // max(1, self.preprocessing.clip_bytes(item.video or {})))
