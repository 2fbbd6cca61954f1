"""Loading a Hugging Face checkpoint the same way everywhere: device, dtype, configs.

A model source is a hub id or a local folder (offline-first: tests save tiny random-weight
models to a folder and load them through this same path). bf16 on GPU, float32 on CPU,
unless the recipe says otherwise.
"""

from __future__ import annotations

import json
from typing import Any

PROCESSOR_CONFIGS = ("video_preprocessor_config.json", "preprocessor_config.json")


def device_and_dtype(device: str, dtype: str) -> tuple[Any, Any]:
    """(torch.device, torch.dtype) for recipe values ('auto' resolves per worker)."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    resolved = torch.device(device)
    if dtype == "auto":
        return resolved, torch.bfloat16 if resolved.type == "cuda" else torch.float32
    return resolved, getattr(torch, dtype)


def load_processor_config(source: str) -> dict[str, Any]:
    """The checkpoint's (video) preprocessor config as a dict; {} when it has none."""
    from transformers.utils import cached_file

    for name in PROCESSOR_CONFIGS:
        path = cached_file(
            source,
            name,
            _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False,
        )
        if path:
            with open(path, encoding="utf-8") as handle:
                value = json.load(handle)
            return value if isinstance(value, dict) else {}
    return {}


def load_tokenizer(source: str) -> Any:
    """The checkpoint's tokenizer, padding on the left (generation appends on the right)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def left_pad(sequences: list[list[int]], pad_id: int, device: Any) -> tuple[Any, Any]:
    """(input_ids, attention_mask) tensors of token id lists padded on the left."""
    import torch

    width = max(len(ids) for ids in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, ids in enumerate(sequences):
        input_ids[row, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
        mask[row, width - len(ids) :] = 1
    return input_ids.to(device), mask.to(device)


def clean_text(text: str) -> str | None:
    """Generated text with whitespace collapsed; None when nothing is left."""
    return " ".join(text.split()) or None


def greedy_texts(
    model: Any, tokenizer: Any, input_ids: Any, mask: Any, max_new_tokens: int, **inputs: Any
) -> list[str | None]:
    """What `model` writes after each left-padded prompt, greedily (reproducible)."""
    import torch

    with torch.inference_mode():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            **inputs,
        )
    texts = tokenizer.batch_decode(output[:, input_ids.shape[1] :], skip_special_tokens=True)
    return [clean_text(text) for text in texts]
