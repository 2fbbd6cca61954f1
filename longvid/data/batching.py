"""Samples -> a micro-batch: right-padded rows, or packed rows of several samples.

Padding: one sample per row, padded to the longest, with an attention mask.
Packing (`pack_tokens`): samples in order fill rows of at most `pack_tokens` tokens; each
sample's positions restart at 0 and the rows carry no attention mask, so transformers'
mask builder (and flash-attention's varlen path) keeps samples from attending to each
other. Padding at a packed row's end is a run of its own (positions from 0, no labels).
The loss is the same mean over answer tokens either way.
"""

from __future__ import annotations

from typing import Any

import torch

from longvid.data.samples import IGNORE_INDEX


def _rows(samples: list[dict[str, Any]], pack_tokens: int | None) -> list[list[dict[str, Any]]]:
    """Which samples share a row: one each, or in order while they fit `pack_tokens`."""
    if not pack_tokens:
        return [[sample] for sample in samples]
    rows: list[list[dict[str, Any]]] = []
    used = pack_tokens + 1
    for sample in samples:
        length = len(sample["input_ids"])
        if used + length > pack_tokens:
            rows.append([])
            used = 0
        rows[-1].append(sample)
        used += length
    return rows


def collate(
    samples: list[dict[str, Any]], pad_id: int, pack_tokens: int | None = None
) -> dict[str, Any]:
    """The batch `VideoLLM.forward` takes: input_ids, labels, attention_mask (None when
    packed), position_ids (packed only), visuals per row; plus sample ids and count."""
    rows = _rows(samples, pack_tokens)
    lengths = [sum(len(s["input_ids"]) for s in row) for row in rows]
    longest = max(lengths)
    input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), longest), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
    position_ids = torch.zeros((len(rows), longest), dtype=torch.long)
    for index, row in enumerate(rows):
        cursor = 0
        for sample in row:
            end = cursor + len(sample["input_ids"])
            input_ids[index, cursor:end] = sample["input_ids"]
            labels[index, cursor:end] = sample["labels"]
            position_ids[index, cursor:end] = torch.arange(end - cursor)
            cursor = end
        attention_mask[index, :cursor] = 1
        position_ids[index, cursor:] = torch.arange(longest - cursor)
    packed = bool(pack_tokens)
    return {
        "sample_ids": [sample["sample_id"] for sample in samples],
        "samples": len(samples),
        "input_ids": input_ids,
        "labels": labels,
        "attention_mask": None if packed else attention_mask,
        "position_ids": position_ids if packed else None,
        "tokens": int(sum(lengths)),
        "visuals": [[visual for sample in row for visual in sample["visuals"]] for row in rows],
    }


class Collate:
    """Picklable collate with its settings bound (lambdas do not cross to spawned workers)."""

    def __init__(self, pad_id: int, pack_tokens: int | None = None) -> None:
        self.pad_id = pad_id
        self.pack_tokens = pack_tokens

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        return collate(samples, self.pad_id, self.pack_tokens)
