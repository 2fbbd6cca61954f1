"""The `transformers` text LLM backend: a Hugging Face causal LM that writes from text.

Used by the summarize stage (a video description from its captioned timeline) and meant
for the QA stage's `llm` generator: one prompt in, one answer out, batched with the same
out-of-memory backoff as the captioner. The prompt goes through the tokenizer's chat
template when it has one (instruct models), else as plain text.

Example:
    llm = TransformersTextLLM(TextLLMConfig(model="Qwen/Qwen2.5-1.5B-Instruct"))
    llm.setup()
    answers = llm.generate(["Summarize: ..."])   # [str | None], None where it failed
"""

from __future__ import annotations

from typing import Any

from longvid_pipeline.models.batching import AdaptiveBatcher, BatchRun
from longvid_pipeline.models.loading import (
    device_and_dtype,
    greedy_texts,
    left_pad,
    load_tokenizer,
)


class TextLLM:
    """What every text LLM backend shares: settings, the model's name, batched answers
    with out-of-memory backoff. Subclasses load in `setup` and answer a batch in
    `_generate_batch`."""

    batcher: AdaptiveBatcher

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    @property
    def model_name(self) -> str:
        return str(self.settings.model)

    def setup(self) -> None:
        raise NotImplementedError

    def generate(self, prompts: list[str]) -> BatchRun[str]:
        """One answer per prompt; failures (out of memory alone, errors) by position."""
        return self.batcher.run(prompts, self._generate_batch)

    def _generate_batch(self, prompts: list[str]) -> list[str | None]:
        raise NotImplementedError


class TransformersTextLLM(TextLLM):
    """A causal LM loaded once per actor."""

    def setup(self) -> None:
        from transformers import AutoModelForCausalLM

        self.device, self.dtype = device_and_dtype(self.settings.device, self.settings.dtype)
        self.tokenizer = load_tokenizer(self.settings.model)
        model = AutoModelForCausalLM.from_pretrained(self.settings.model, dtype=self.dtype)
        self.model = model.to(self.device).eval()
        self.batcher = AdaptiveBatcher(self.settings.batch_size)

    def _ids(self, prompt: str) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}],
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
            )["input_ids"]
            return list(ids)
        return list(self.tokenizer(prompt).input_ids)

    def _generate_batch(self, prompts: list[str]) -> list[str | None]:
        input_ids, mask = left_pad(
            [self._ids(p) for p in prompts], self.tokenizer.pad_token_id, self.device
        )
        return greedy_texts(
            self.model, self.tokenizer, input_ids, mask, self.settings.max_new_tokens
        )
