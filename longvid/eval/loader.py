"""Frames for evaluation: chosen per the adapter's plan, decoded in DataLoader workers.

Why workers: decoding (the pipeline's one timestamp decoder, `longvid_pipeline.api`)
and preprocessing are CPU work; `data.workers` processes prepare the next batches while
the model generates. An adapter says what it wants as a picklable `FramePlan` (count,
size, a `prepare` function run in the worker); the model itself never leaves the main
process. A sample whose video cannot be decoded comes back with an `error` and is
scored as a wrong answer, never dropped.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from longvid.eval.samples import EvalSample
from longvid_pipeline.api import frames_at


@dataclass(frozen=True)
class FramePlan:
    """How many frames an adapter takes, at which size, and how they become model input.

    `frames` fixes the count; when None the sample's own plan is fitted into
    [min_frames, max_frames] (a multiple of `multiple`). A haystack (NIAH) shows
    `haystack_frames` frames when set, else as many as `frames` (or `max_frames`) allows.
    `prepare` maps uint8
    (T, H, W, 3) frames to what the adapter's `generate` takes; it must be picklable.
    """

    frames: int | None = None
    min_frames: int = 1
    max_frames: int = 100_000
    multiple: int = 1
    height: int | None = None
    width: int | None = None
    prepare: Callable[[np.ndarray], Any] | None = None
    haystack_frames: int | None = None

    def with_frames(self, frames: int | None) -> FramePlan:
        """The same plan with a fixed frame count (data.frames), when one is given."""
        return self if frames is None else replace(self, frames=frames)

    def with_haystack(self, frames: int | None) -> FramePlan:
        """The same plan with a haystack frame count (data.niah_max_frames), when given."""
        return self if frames is None else replace(self, haystack_frames=frames)


Frame = tuple[str, float] | None  # (media path, timestamp), or None: a needle frame


def choose_frames(sample: EvalSample, plan: FramePlan) -> tuple[list[Frame], dict[int, bytes], str]:
    """The frames to show, needle PNGs by shown index, and the prompt.

    One video without needles (a `qa` row): the sampling plan is resampled uniformly over
    its span and "<T> frames" in the prompt follows. A NIAH sample is subsampled
    uniformly when longer than allowed, never stretched; needles keep their positions.
    """
    from longvid.data.frames import resample_plan  # here: that module imports transformers

    low, high = (plan.frames, plan.frames) if plan.frames else (plan.min_frames, plan.max_frames)
    if not sample.needles and len({frame[0] for frame in sample.frames if frame}) == 1:
        path = sample.frames[0][0]  # type: ignore[index]
        timestamps = [frame[1] for frame in sample.frames]  # type: ignore[index]
        chosen, prompt = resample_plan(timestamps, sample.prompt, low, high, plan.multiple)
        return [(path, t) for t in chosen], {}, prompt
    count = len(sample.frames)
    wanted = min(count, plan.haystack_frames or high)
    indices = [int((i + 0.5) * count / wanted) for i in range(wanted)]
    shown = {old: new for new, old in enumerate(indices)}
    needles = {
        shown[index]: needle.png
        for needle in sample.needles
        for index in needle.frame_indices
        if index in shown
    }
    return [sample.frames[index] for index in indices], needles, sample.prompt


def _png_frame(png: bytes, height: int, width: int) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR))


def decode(
    root: Path,
    frames: list[Frame],
    needles: dict[int, bytes],
    plan: FramePlan,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """uint8 (T, H, W, 3): video frames by timestamp (consecutive frames of one file in one
    decoder pass), needle images in their places.

    The size is the plan's, else `size` (a NIAH sample's own), else the first video's
    (later videos and needles are scaled to it, so frames of several videos stack).
    """
    height, width = (plan.height, plan.width) if plan.height else (size or (None, None))
    pixels: list[np.ndarray | None] = [None] * len(frames)
    videos = [index for index, frame in enumerate(frames) if frame is not None]
    for path, group in groupby(videos, key=lambda index: frames[index][0]):  # type: ignore[index]
        indices = list(group)
        timestamps = [frames[index][1] for index in indices]  # type: ignore[index]
        decoded = frames_at(Path(root) / path, timestamps, width=width, height=height)
        height, width = decoded.shape[1:3]
        for index, frame in zip(indices, decoded, strict=True):
            pixels[index] = frame
    for index, png in needles.items():
        if height is None:  # only needles: their own size
            with Image.open(io.BytesIO(png)) as image:
                width, height = image.size
        pixels[index] = _png_frame(png, height, width)  # type: ignore[arg-type]
    return np.stack(pixels)  # type: ignore[arg-type]


class SampleFrames(Dataset):
    """Item i: the sample's prompt and prepared frames (None for a text-only run).

    Questions about the same video ask for the same frames: the last decoded frames are
    kept (per worker), so samples ordered by video decode each video once per batch run.
    """

    def __init__(self, samples: list[EvalSample], root: Path, plan: FramePlan | None) -> None:
        self.samples = samples
        self.root = Path(root)
        self.plan = plan
        self._last: tuple[Any, Any] = (None, None)

    def __len__(self) -> int:
        return len(self.samples)

    def _prepared(self, sample: EvalSample, frames: list[Frame], needles: dict[int, bytes]) -> Any:
        assert self.plan is not None
        key = (tuple(frames), tuple(sorted(needles.items())))
        if self._last[0] != key:
            pixels = decode(self.root, frames, needles, self.plan, sample.meta.get("frame_size"))
            self._last = (key, self.plan.prepare(pixels) if self.plan.prepare else pixels)
        return self._last[1]

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = self.samples[index]
        item: dict[str, Any] = {"index": index, "frames": None, "frame_count": 0, "error": None}
        if self.plan is None:
            return {**item, "prompt": sample.prompt}
        frames, needles, prompt = choose_frames(sample, self.plan)
        item["prompt"] = prompt
        try:
            prepared = self._prepared(sample, frames, needles)
        except (OSError, ValueError) as exc:  # a missing or broken video: scored as wrong
            return {**item, "error": f"{type(exc).__name__}: {exc}"}
        return {**item, "frames": prepared, "frame_count": len(frames)}


def _as_list(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Batches stay lists: adapters stack (or not) as their model wants."""
    return items


def _one_thread(_worker_id: int) -> None:
    torch.set_num_threads(1)  # decode workers must not fight the model for cores


def batches(
    samples: list[EvalSample], root: Path, plan: FramePlan | None, batch_size: int, workers: int
) -> Iterator[list[dict[str, Any]]]:
    """Batches of items in sample order, decoded `workers` processes ahead of the model."""
    loader = DataLoader(
        SampleFrames(samples, root, plan),
        batch_size=batch_size,
        shuffle=False,
        num_workers=workers if plan is not None else 0,
        collate_fn=_as_list,
        prefetch_factor=2 if workers and plan is not None else None,
        worker_init_fn=_one_thread if workers and plan is not None else None,
    )
    yield from loader
