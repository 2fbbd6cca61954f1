"""Records -> training samples: plan frames, fit max_tokens, tokenize, decode in workers.

Why DataLoader workers: decoding is CPU work; `workers` processes per trainer keep the
accelerator fed. The sampler is a pure function of (seed, stage, rank, offset), so a
resumed run continues with exactly the batches it would have seen.

Order inside a sample, so decoding happens once: plan the frames, tokenize with the
placeholders expanded, and while the sample is longer than `max_tokens` drop frames (a
uniform subset, multiples of the clip size) and rewrite the timestamp prompt; only then
decode. Truncation never cuts inside visual tokens: when no frame is left to drop, the
text after the last visual token is cut, keeping at least one answer token; a sample
that cannot fit is skipped (the next index is used, with a warning), as is one whose
media cannot be read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from transformers import PreTrainedTokenizerBase

from longvid.data.batching import Collate
from longvid.data.frames import (
    FrameRange,
    decode_frames,
    fit_plan,
    load_image,
    normalize,
    plan_video,
)
from longvid.data.samples import (
    IGNORE_INDEX,
    build_messages,
    placeholder_order,
    tokenize_conversation,
)
from longvid.data.sources import Record, qa_record
from longvid.model.encoder import FrameSpec
from longvid.model.tokenizer import VIDEO_TOKEN, VISUAL_TOKENS
from longvid.model.video_llm import Visual
from longvid_pipeline.api import timestamp_prompt

SKIP_ATTEMPTS = 16


class TokenCounts(Protocol):
    """Placeholder positions per visual (`VideoLLM.token_counts()` gives one)."""

    def video(self, frames: int) -> int: ...

    def image(self) -> int: ...


class SampleTooLong(ValueError):
    """A sample's visual tokens alone (at the fewest frames) exceed max_tokens."""


class SampleDataset(Dataset):
    """One item per record: input_ids, labels and its visuals (video frames, images)."""

    def __init__(
        self,
        records: list[Record],
        tokenizer: PreTrainedTokenizerBase,
        counts: TokenCounts,
        frame_spec: FrameSpec,
        frame_range: FrameRange,
        max_tokens: int | None = None,
    ) -> None:
        self.records = records
        self.tokenizer = tokenizer
        self.counts = counts
        self.frame_spec = frame_spec
        self.frame_range = frame_range
        self.max_tokens = max_tokens

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The sample at `index`, or the next usable one (a warning names what was skipped)."""
        for attempt in range(SKIP_ATTEMPTS):
            record = self.records[(index + attempt) % len(self.records)]
            try:
                return self.sample(record)
            except (OSError, ValueError) as exc:
                print(f"longvid.data: skipping {record.sample_id}: {exc}", file=sys.stderr)
        raise RuntimeError(f"{SKIP_ATTEMPTS} samples in a row from index {index} are unusable")

    def plan(self, record: Record) -> tuple[list[float], float]:
        """Timestamps within the stage's frame range, and the duration the prompt states."""
        bounds = self.frame_range
        if record.timestamps:
            fitted = fit_plan(
                record.timestamps, bounds.min_frames, bounds.max_frames, bounds.multiple
            )
            return fitted, float(record.duration_s or 0.0)
        assert record.video is not None
        return plan_video(record.video, bounds, record.duration_s, record.start_s)

    def tokens(self, record: Record, frames: int, duration_s: float) -> tuple[list[int], list[int]]:
        """ids and labels for the record with `frames` video frames."""
        prompt = timestamp_prompt(duration_s, frames) if record.video else ""
        counts = [
            self.counts.video(frames) if token == VIDEO_TOKEN else self.counts.image()
            for token in placeholder_order(record.conversations)
        ]
        return tokenize_conversation(
            self.tokenizer, build_messages(record.conversations, prompt), counts
        )

    def fit(self, record: Record) -> tuple[list[int], list[int], list[float]]:
        """Tokens and timestamps within max_tokens: fewer frames first, then the text tail."""
        timestamps, duration = self.plan(record) if record.video else ([], 0.0)
        ids, labels = self.tokens(record, len(timestamps), duration)
        limit, multiple = self.max_tokens, self.frame_range.multiple
        while limit is not None and len(ids) > limit and len(timestamps) > multiple:
            budget = self.counts.video(len(timestamps)) - (len(ids) - limit)
            fewer = len(timestamps) - multiple
            while fewer > multiple and self.counts.video(fewer) > budget:
                fewer -= multiple
            timestamps = fit_plan(timestamps, fewer, fewer, multiple)
            ids, labels = self.tokens(record, len(timestamps), duration)
        if limit is not None and len(ids) > limit:
            ids, labels = self.cut_tail(record, ids, labels, limit)
        return ids, labels, timestamps

    def cut_tail(
        self, record: Record, ids: list[int], labels: list[int], limit: int
    ) -> tuple[list[int], list[int]]:
        """Cut the text after the visual tokens at `limit`, keeping an answer token."""
        visual = {self.tokenizer.convert_tokens_to_ids(token) for token in VISUAL_TOKENS}
        last_visual = max((i for i, token in enumerate(ids) if token in visual), default=-1)
        if last_visual >= limit or all(label == IGNORE_INDEX for label in labels[:limit]):
            raise SampleTooLong(
                f"{len(ids)} tokens do not fit max_tokens {limit} without cutting visual "
                f"tokens or every answer token (last visual token at {last_visual})"
            )
        return ids[:limit], labels[:limit]

    def sample(self, record: Record) -> dict[str, Any]:
        """Fit, then decode the record's media once."""
        ids, labels, timestamps = self.fit(record)
        size, images = self.frame_spec.image_size, iter(record.images)
        visuals = []
        for token in placeholder_order(record.conversations):
            pixels = (
                decode_frames(str(record.video), timestamps, size)
                if token == VIDEO_TOKEN
                else load_image(next(images), size)
            )
            kind = "video" if token == VIDEO_TOKEN else "image"
            visuals.append(Visual(kind, normalize(pixels, self.frame_spec)))
        return {
            "sample_id": record.sample_id,
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "visuals": visuals,
        }


class _VideoOnlyCounts:
    """Counts from a bare `num_video_tokens` callable (the older QADataset signature)."""

    def __init__(self, num_video_tokens: Callable[[int], int]) -> None:
        self.num_video_tokens = num_video_tokens

    def video(self, frames: int) -> int:
        return int(self.num_video_tokens(frames))

    def image(self) -> int:
        raise ValueError("image samples need the model's token_counts(), not num_video_tokens")


class QADataset(SampleDataset):
    """A SampleDataset over qa rows of one pipeline output (one item per row)."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        root: Path,
        tokenizer: PreTrainedTokenizerBase,
        counts: TokenCounts | Callable[[int], int],
        frame_spec: FrameSpec,
        frame_range: FrameRange,
        max_tokens: int | None = None,
    ) -> None:
        records = [qa_record(row, Path(root)) for row in rows]
        counter = _VideoOnlyCounts(counts) if callable(counts) else counts
        super().__init__(records, tokenizer, counter, frame_spec, frame_range, max_tokens)
        self.rows = rows


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


def _single_thread_worker(_worker_id: int) -> None:
    """Decode workers run one torch thread each so they do not fight the trainer for cores."""
    torch.set_num_threads(1)


def make_loader(
    dataset: SampleDataset,
    batch_size: int,
    workers: int,
    sampler: ResumableSampler,
    pad_id: int,
    pack_tokens: int | None = None,
) -> DataLoader:
    """DataLoader over the endless sampler; workers decode in parallel, a few batches ahead.
    `pack_tokens`: pack each micro-batch's samples into rows of at most that many tokens."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=Collate(pad_id, pack_tokens),
        prefetch_factor=2 if workers else None,
        persistent_workers=False,
        worker_init_fn=_single_thread_worker if workers else None,
    )
