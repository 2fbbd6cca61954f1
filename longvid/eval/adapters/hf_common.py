"""What the transformers-based adapters share: loading (device, dtype, tokenizer and
left padding as the pipeline's model backends do it, `longvid_pipeline.models.loading`),
chat prompts with a video placeholder, splicing video features, greedy generation, and
scoring given continuations (multiple-choice options) by their log-likelihood.

Why splice ourselves: training-free SlowFast (and any custom frame handling) produces its
own number of video tokens, so the prompt reserves exactly that many placeholder
positions and the features are written into the input embeddings before `generate`.

Option scoring, as lmms-eval's `loglikelihood` requests: each (prompt, continuation)
pair is one row, prompt ids then the continuation's own tokens, left-padded so every
continuation ends the row; one forward pass keeps only the last positions' logits (a
long video prompt never materializes a (rows, length, vocabulary) tensor), and each
row's continuation log-probabilities are summed. Videos are encoded once per request and
their features reused by its option rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from longvid.eval.adapters.base import Adapter, OptionScore, Request
from longvid.model.tokenizer import CHATML_TEMPLATE
from longvid_pipeline.models.loading import device_and_dtype, left_pad, load_tokenizer

__all__ = [
    "chat_prompt",
    "device_and_dtype",
    "expand_placeholder",
    "generate_text",
    "left_pad",
    "load_model",
    "load_tokenizer",
    "OptionRows",
    "option_rows",
    "option_scores",
    "score_rows",
    "source_problems",
    "splice",
    "SplicingAdapter",
]


def source_problems(source: str, key: str) -> list[Any]:
    """The one check a model source gets before loading: it is given."""
    from longvid_pipeline.config import ConfigProblem

    if source.strip():
        return []
    return [ConfigProblem(f"{key}.source", "set a hub id or a local model path")]


def load_model(
    source: str, families: dict[str, str], device_name: str, dtype_name: str
) -> tuple[Any, Any, torch.device]:
    """(model in eval mode on its device, tokenizer, device) of a checkpoint whose model
    type is one of `families` (model type -> "module:Class").

    Raises:
        ValueError: the checkpoint is of another model type.
    """
    from transformers import AutoConfig

    from longvid_pipeline.registry import import_object

    model_type = AutoConfig.from_pretrained(source).model_type
    if model_type not in families:
        raise ValueError(f"{source}: model type {model_type!r} is not one of {list(families)}")
    device, dtype = device_and_dtype(device_name, dtype_name)
    model = import_object(families[model_type]).from_pretrained(source, dtype=dtype)
    return model.to(device).eval(), load_tokenizer(source), device


def chat_prompt(tokenizer: Any, content: str, template: str | None = None) -> str:
    """The user turn rendered with `template`, else the tokenizer's own, else ChatML, ending
    where the assistant's answer starts."""
    chosen = template or getattr(tokenizer, "chat_template", None) or CHATML_TEMPLATE
    messages = [{"role": "user", "content": content}]
    return tokenizer.apply_chat_template(
        messages, chat_template=chosen, tokenize=False, add_generation_prompt=True
    )


def expand_placeholder(ids: list[int], token_id: int, count: int) -> list[int]:
    """Replace the one placeholder id with `count` copies.

    Raises:
        ValueError: the prompt does not hold exactly one placeholder.
    """
    positions = [index for index, token in enumerate(ids) if token == token_id]
    if len(positions) != 1:
        raise ValueError(f"expected one video placeholder in the prompt, found {len(positions)}")
    at = positions[0]
    return ids[:at] + [token_id] * count + ids[at + 1 :]


def splice(
    embeddings: torch.Tensor,
    input_ids: torch.Tensor,
    token_id: int,
    features: list[torch.Tensor | None],
) -> torch.Tensor:
    """Input embeddings with each row's video features (None: a text-only row) written at
    its placeholders.

    Raises:
        ValueError: a row's placeholder count differs from its feature count.
    """
    placeholder = input_ids == token_id
    counts = placeholder.sum(1).tolist()
    for row, (count, tokens) in enumerate(zip(counts, features, strict=True)):
        made = 0 if tokens is None else tokens.shape[0]
        if count != made:
            raise ValueError(f"row {row}: {count} placeholders but {made} video tokens")
    present = [tokens for tokens in features if tokens is not None]
    if not present:
        return embeddings
    video = torch.cat(present).to(embeddings.dtype)
    return embeddings.masked_scatter(placeholder.unsqueeze(-1), video)


def generation_ids(tokenizer: Any) -> dict[str, Any]:
    """pad/eos ids for `generate` (`load_tokenizer` gives every tokenizer a pad token)."""
    return {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}


@torch.inference_mode()
def generate_text(
    model: Any,
    tokenizer: Any,
    max_new_tokens: int,
    *,
    inputs_embeds: torch.Tensor | None = None,
    **inputs: Any,
) -> list[str]:
    """Greedy answers, decoded without special tokens. With `inputs_embeds` (and no ids)
    generate returns only new tokens; with `input_ids` the prompt is cut off here."""
    if inputs_embeds is not None:
        inputs["inputs_embeds"] = inputs_embeds
    out = model.generate(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        **generation_ids(tokenizer),
        **inputs,
    )
    if "input_ids" in inputs:
        out = out[:, inputs["input_ids"].shape[1] :]
    return [text.strip() for text in tokenizer.batch_decode(out, skip_special_tokens=True)]


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded rows, 0 at each row's first real token (as `generate`
    numbers them), so a row scores the same whatever else shares its batch."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


@dataclass
class OptionRows:
    """Every (request, continuation) pair as one left-padded row: prompt, then continuation."""

    owners: list[int]  # the request of each row
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    lengths: list[int]  # continuation tokens of each row
    counts: list[int]  # continuations of each request

    @property
    def keep(self) -> int:
        """Positions whose logits predict every continuation token (`logits_to_keep`)."""
        return max(self.lengths) + 1


def option_rows(
    tokenizer: Any, prompts: list[list[int]], continuations: list[list[str]], device: Any
) -> OptionRows:
    """One row per continuation; a continuation is tokenized on its own (as lmms-eval
    does), so every option's tokens are the same whatever prompt precedes them.

    Raises:
        ValueError: a continuation tokenizes to nothing.
    """
    owners, sequences, lengths = [], [], []
    for index, (prompt, texts) in enumerate(zip(prompts, continuations, strict=True)):
        for text in texts:
            tail = tokenizer(text, add_special_tokens=False)["input_ids"]
            if not tail:
                raise ValueError(f"continuation {text!r} has no tokens")
            owners.append(index)
            sequences.append(prompt + tail)
            lengths.append(len(tail))
    input_ids, mask = left_pad(sequences, tokenizer.pad_token_id, device)
    return OptionRows(owners, input_ids, mask, lengths, [len(texts) for texts in continuations])


def option_scores(rows: OptionRows, logits: torch.Tensor) -> list[list[OptionScore]]:
    """Per request, its continuations' scores, from the logits of each row's last
    `rows.keep` positions (position p predicts token p + 1)."""
    logprobs = logits.float().log_softmax(-1)
    keep = logits.shape[1]
    scores = []
    for row, length in enumerate(rows.lengths):
        predicted = logprobs[row, keep - length - 1 : keep - 1]
        targets = rows.input_ids[row, -length:]
        total = predicted.gather(-1, targets[:, None]).sum().item()
        greedy = bool((predicted.argmax(-1) == targets).all())
        scores.append(OptionScore(float(total), length, greedy))
    grouped, start = [], 0
    for count in rows.counts:
        grouped.append(scores[start : start + count])
        start += count
    return grouped


@torch.inference_mode()
def score_rows(
    model: Any, rows: OptionRows, numbered: bool = True, **inputs: Any
) -> list[list[OptionScore]]:
    """Every row's continuation scored from one forward pass that keeps the logits of the
    last `rows.keep` positions; rows numbered from their first real token unless the
    model numbers them itself (`numbered=False`: Qwen's multimodal positions)."""
    mask = rows.attention_mask
    if numbered:
        inputs["position_ids"] = positions(mask)
    out = model(attention_mask=mask, logits_to_keep=rows.keep, use_cache=False, **inputs)
    return option_scores(rows, out.logits)


class SplicingAdapter(Adapter):
    """An adapter that writes video features into the LLM's input embeddings itself
    (longvid, hf_llava): generation and option scoring share this one flow; a subclass
    says how videos become features, how a prompt is tokenized around them and which
    module is the causal LM, and sets `tokenizer` and `device` when it loads."""

    SCORES_OPTIONS = True
    tokenizer: Any
    device: torch.device

    def features(self, requests: list[Request]) -> list[torch.Tensor | None]:
        """(M, D) video tokens per request (None: no frames)."""
        raise NotImplementedError

    def prompt_ids(self, request: Request, features: torch.Tensor | None) -> list[int]:
        """The chat prompt's ids with one placeholder position per video token."""
        raise NotImplementedError

    def language_model(self) -> Any:
        """The causal LM that embeds tokens, generates and gives logits."""
        raise NotImplementedError

    def video_token_id(self) -> int:
        """The placeholder id the prompt reserves video positions with."""
        raise NotImplementedError

    def _prompts(self, requests: list[Request]) -> tuple[list[list[int]], list[Any]]:
        features = self.features(requests)
        prompts = [self.prompt_ids(r, f) for r, f in zip(requests, features, strict=True)]
        return prompts, features

    def _embeddings(self, input_ids: torch.Tensor, features: list[Any]) -> torch.Tensor:
        lm = self.language_model()
        embeds = lm.get_input_embeddings()(input_ids)
        return splice(embeds, input_ids, self.video_token_id(), features)

    @torch.inference_mode()
    def generate(self, requests: list[Request]) -> list[str]:
        prompts, features = self._prompts(requests)
        input_ids, mask = left_pad(prompts, self.tokenizer.pad_token_id, self.device)
        return generate_text(
            self.language_model(),
            self.tokenizer,
            self.context.max_new_tokens,
            inputs_embeds=self._embeddings(input_ids, features),
            attention_mask=mask,
        )

    @torch.inference_mode()
    def option_loglikelihoods(
        self, requests: list[Request], continuations: list[list[str]]
    ) -> list[list[OptionScore]]:
        prompts, features = self._prompts(requests)
        rows = option_rows(self.tokenizer, prompts, continuations, self.device)
        embeds = self._embeddings(rows.input_ids, [features[owner] for owner in rows.owners])
        return score_rows(self.language_model(), rows, inputs_embeds=embeds)
