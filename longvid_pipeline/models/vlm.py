"""The `transformers` caption backend: a Hugging Face vision-language model per actor.

Two halves, so GPUs never wait on decoding (the shared mechanics in `models.prepare`):
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

from typing import Any, ClassVar

from longvid_pipeline.models.loading import device_and_dtype, greedy_texts, left_pad, load_tokenizer
from longvid_pipeline.models.prepare import FrameCaptioner, PreparedClip, Preprocessing
from longvid_pipeline.models.vision import pixel_inputs


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
        return greedy_texts(
            self.model, self.tokenizer, input_ids, mask, self.settings.max_new_tokens, **inputs
        )


class TransformersCaptioner(FrameCaptioner):
    """Caption backend `transformers` (see the module docstring)."""

    source: ClassVar[str] = "transformers"
    section: ClassVar[str] = "transformers"

    def load(self) -> None:
        self.model = VisionLanguageModel(self.settings)
        self.model.load()
        self.preprocessing = self.model.preprocessing

    def generate(self, clips: list[PreparedClip]) -> list[str | None]:
        return self.model.generate(clips)
