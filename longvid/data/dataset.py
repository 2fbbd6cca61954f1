"""QA rows -> training batches: decode frames in DataLoader workers, tokenize, pad.

Why DataLoader workers: decoding is CPU work; `workers` processes per trainer keep the
accelerator fed. The sampler is a pure function of (seed, stage, rank, offset), so a
resumed run continues with exactly the batches it would have seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from transformers import PreTrainedTokenizerBase

from longvid.data.frames import decode_frames, normalize, resample_plan
from longvid.data.samples import IGNORE_INDEX, row_messages, tokenize_conversation
from longvid.model.encoder import FrameSpec


@dataclass(frozen=True)
class FrameRange:
    """A stage's frame-count bounds; T is kept a multiple of the compressor's clip size."""

    min_frames: int
    max_frames: int
    multiple: int = 4


class QADataset(Dataset):
    """One item per qa row: frames (T, 3, S, S), input_ids and labels."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        root: Path,
        tokenizer: PreTrainedTokenizerBase,
        num_video_tokens: Callable[[int], int],
        frame_spec: FrameSpec,
        frame_range: FrameRange,
    ) -> None:
        self.rows = rows
        self.root = Path(root)
        self.tokenizer = tokenizer
        self.num_video_tokens = num_video_tokens
        self.frame_spec = frame_spec
        self.frame_range = frame_range

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        bounds = self.frame_range
        timestamps, prompt = resample_plan(
            row["sample_timestamps"],
            row["timestamp_prompt"],
            bounds.min_frames,
            bounds.max_frames,
            bounds.multiple,
        )
        frames = decode_frames(self.root / row["video_uri"], timestamps, self.frame_spec.image_size)
        input_ids, labels = tokenize_conversation(
            self.tokenizer, row_messages(row, prompt), self.num_video_tokens(len(timestamps))
        )
        return {
            "qa_id": row["qa_id"],
            "frames": normalize(frames, self.frame_spec),
            "input_ids": torch.tensor(input_ids),
            "labels": torch.tensor(labels),
        }


class ResumableSampler(Sampler[int]):
    """Endless per-rank index stream: a fresh seeded permutation each epoch, from `start`.

    Rank r takes every world-th index of the global stream, so ranks never overlap
    within an epoch; `start` counts this rank's samples already consumed.
    """

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1, start: int = 0) -> None:
        self.size, self.seed, self.rank, self.world, self.start = size, seed, rank, world, start

    def __iter__(self) -> Iterator[int]:
        position = self.start * self.world + self.rank
        while True:
            epoch, offset = divmod(position, self.size)
            order = np.random.default_rng([self.seed, epoch]).permutation(self.size)
            yield int(order[offset])
            position += self.world


def collate(samples: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """Right-pad ids (pad_id) and labels (ignored), with the attention mask; videos stay a list."""
    longest = max(len(sample["input_ids"]) for sample in samples)
    input_ids = torch.full((len(samples), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(samples), longest), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(samples), longest), dtype=torch.long)
    for index, sample in enumerate(samples):
        length = len(sample["input_ids"])
        input_ids[index, :length] = sample["input_ids"]
        labels[index, :length] = sample["labels"]
        attention_mask[index, :length] = 1
    return {
        "qa_ids": [sample["qa_id"] for sample in samples],
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
        "videos": [sample["frames"] for sample in samples],
    }


class _Collate:
    """Picklable collate with the pad id bound (lambdas do not cross to spawned workers)."""

    def __init__(self, pad_id: int) -> None:
        self.pad_id = pad_id

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        return collate(samples, self.pad_id)


def _single_thread_worker(_worker_id: int) -> None:
    """Decode workers run one torch thread each so they do not fight the trainer for cores."""
    torch.set_num_threads(1)


def make_loader(
    dataset: QADataset, batch_size: int, workers: int, sampler: ResumableSampler, pad_id: int
) -> DataLoader:
    """DataLoader over the endless sampler; workers decode in parallel, a few batches ahead."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=_Collate(pad_id),
        prefetch_factor=2 if workers else None,
        persistent_workers=False,
        worker_init_fn=_single_thread_worker if workers else None,
    )
