"""Needle-in-a-video-haystack rows as evaluation samples: one per question of a row.

The `niah` table (MH-NIAH chains and single-hop V-NIAH) is read through the public API.
Until its contract (`schemas/niah.sql`) is on main, the evaluator expects this shape,
one row per benchmark sample (`EXPECTED_COLUMNS`; a row missing any is reported):

    sample_id             VARCHAR     unique id
    hops                  INTEGER     clue needles before the final one (0: single-hop)
    length                INTEGER     haystack frames
    depth                 DOUBLE      where the chain sits, 0..1 (a percentage 0..100 is read too)
    haystack_video_ids    VARCHAR[]   video of each haystack frame (videos.video_id)
    haystack_timestamps   DOUBLE[]    timestamp of each haystack frame, seconds
    needle_images         BLOB[]      PNG bytes of each needle
    needle_frame_indices  INTEGER[][] haystack frames each needle replaces
    prompt                VARCHAR     the instruction naming the first needle
    questions             STRUCT(question_type VARCHAR, question VARCHAR, options VARCHAR[],
                                 answer VARCHAR)[]   answer: the right option's letter

Each question becomes a multiple-choice sample with task `niah/<question_type>`; its
meta carries hops, length and depth, the axes of the heatmaps.
"""

from __future__ import annotations

from typing import Any

from longvid.eval.parsing import LETTERS
from longvid.eval.samples import EvalSample, Needle

EXPECTED_COLUMNS = (
    "sample_id",
    "hops",
    "length",
    "depth",
    "haystack_video_ids",
    "haystack_timestamps",
    "needle_images",
    "needle_frame_indices",
    "prompt",
    "questions",
)
INSTRUCTION = "Answer with the option's letter."


class NiahShapeError(ValueError):
    """A `niah` row does not have the shape the evaluator reads (names what is missing)."""


def _depth(value: float) -> float:
    """Depth as a share of the haystack, rounded so grid cells group exactly."""
    value = float(value)
    return round(value / 100.0 if value > 1.0 else value, 4)


def _indices(value: Any) -> list[int]:
    return [int(value)] if isinstance(value, (int, float)) else [int(v) for v in value]


def choice_prompt(prompt: str, question: str, options: list[str]) -> str:
    """Instruction, question, lettered options and the answer instruction."""
    lines = [f"{LETTERS[index]}. {option}" for index, option in enumerate(options)]
    return "\n".join([prompt.strip(), question.strip(), *lines, INSTRUCTION]).strip()


def niah_samples(row: dict[str, Any], video_uris: dict[str, str]) -> list[EvalSample]:
    """The questions of one `niah` row as samples (frames: the haystack, needles inside).

    Raises:
        NiahShapeError: a column is missing, or a haystack video has no `videos` row.
    """
    missing = [column for column in EXPECTED_COLUMNS if column not in row]
    if missing:
        raise NiahShapeError(f"niah row lacks {missing}; expected {list(EXPECTED_COLUMNS)}")
    unknown = sorted(set(row["haystack_video_ids"]) - set(video_uris))
    if unknown:
        raise NiahShapeError(f"niah sample {row['sample_id']}: no videos row for {unknown}")
    frames = [
        (video_uris[video_id], float(t))
        for video_id, t in zip(row["haystack_video_ids"], row["haystack_timestamps"], strict=True)
    ]
    needles = [
        Needle(png=bytes(png), frame_indices=_indices(indices))
        for png, indices in zip(row["needle_images"], row["needle_frame_indices"], strict=True)
    ]
    meta = {"hops": int(row["hops"]), "length": int(row["length"]), "depth": _depth(row["depth"])}
    samples = []
    for number, question in enumerate(row["questions"]):
        options = list(question["options"])
        answer_index = LETTERS.index(str(question["answer"]).strip()[:1].upper())
        samples.append(
            EvalSample(
                sample_id=f"{row['sample_id']}#{number}",
                table="niah",
                split="niah",
                task=f"niah/{question['question_type']}",
                form="choice",
                prompt=choice_prompt(row["prompt"], question["question"], options),
                answer=options[answer_index],
                target=answer_index,
                frames=frames,
                duration_s=float(len(frames)),
                options=options,
                needles=needles,
                meta={**meta, "question_type": question["question_type"]},
            )
        )
    return samples
