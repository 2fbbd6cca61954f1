"""Needle-in-a-video-haystack rows (the `niah` contract, schemas/niah.sql) as samples.

A `niah` row is one benchmark sample (MH-NIAH chain or single-hop V-NIAH): `length`
frames where frame i is needle k while `needles[k].frame_index <= i < frame_index +
hold_frames`, otherwise the next haystack frame (segments of dataset videos at recorded
timestamps, relative to `haystack_root`). Each of its two questions (kind caption |
visual) becomes a multiple-choice sample whose prompt is the question's `text` (the
instruction naming the first needle, the question, lettered options); meta carries the
heatmap axes: benchmark, kind, hops, length and depth (percent).

The frame list mirrors `longvid_pipeline.api.iter_niah_frames` exactly (a test checks it
frame by frame) but names each frame instead of decoding it, so a model that takes fewer
frames than the sample has decodes only the frames it is shown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from longvid.eval.samples import EvalSample, Needle


def haystack_frames(row: dict[str, Any], root: Path) -> Iterator[tuple[str, float]]:
    """(absolute media path, timestamp) of each haystack frame, in order."""
    for segment in row["haystack"]:
        path = str(root / segment["uri"])
        for timestamp in segment["timestamps"]:
            yield path, float(timestamp)


def sample_frames(
    row: dict[str, Any], root: Path
) -> tuple[list[tuple[str, float] | None], list[Needle]]:
    """Every frame of the sample (None where a needle is shown) and the needles with the
    frame indices each one occupies."""
    starts = {needle["frame_index"]: k for k, needle in enumerate(row["needles"])}
    haystack = haystack_frames(row, root)
    frames: list[tuple[str, float] | None] = []
    needles = [Needle(png=bytes(needle["png"]), frame_indices=[]) for needle in row["needles"]]
    while len(frames) < row["length"]:
        index = len(frames)
        if index in starts:
            held = list(range(index, index + row["hold_frames"]))
            needles[starts[index]].frame_indices.extend(held)
            frames.extend([None] * len(held))
        else:
            frames.append(next(haystack))
    return frames, needles


def niah_samples(row: dict[str, Any], haystack_root: str | Path | None = None) -> list[EvalSample]:
    """The questions of one `niah` row as samples; `haystack_root` overrides the row's
    when the haystack output moved."""
    root = Path(haystack_root or row["haystack_root"])
    frames, needles = sample_frames(row, root)
    meta = {
        "benchmark": row["benchmark"],
        "hops": int(row["hops"]),
        "length": int(row["length"]),
        "depth": int(row["depth"]),
        "frame_size": (int(row["height"]), int(row["width"])),
    }
    samples = []
    for question in row["questions"]:
        options = list(question["options"])
        samples.append(
            EvalSample(
                sample_id=f"{row['sample_id']}/{question['kind']}",
                table="niah",
                split=row["benchmark"],
                task=f"niah/{question['kind']}",
                form="choice",
                prompt=question["text"],
                answer=question["answer"],
                target=int(question["answer_index"]),
                frames=frames,
                duration_s=len(frames) / float(row["fps"]),
                options=options,
                needles=needles,
                meta={**meta, "question_type": question["kind"]},
            )
        )
    return samples
