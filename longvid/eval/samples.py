"""What gets scored: `qa` rows (and `niah` questions) as evaluation samples.

An `EvalSample` holds the prompt as the dataset poses it, the frames it refers to (video
segments by timestamp, plus needle images for NIAH), its answer form and its target.
The form decides how an output is parsed and scored:

    choice  the row has options            target: index of the right option
    span    grounding with a time-span answer  target: [start_s, end_s]
    count   counting with a number answer  target: the count
    open    anything else                  target: the reference text

Example:
    samples = qa_samples(read_rows("out/demo", "qa", where={"split": ["test"]}))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from longvid.eval.parsing import parse_count, parse_span


@dataclass
class Needle:
    """An image shown in place of haystack frames (PNG bytes), at those frame indices."""

    png: bytes
    frame_indices: list[int]


@dataclass
class EvalSample:
    """One question to answer, with everything needed to build its frames and score it."""

    sample_id: str
    table: str
    split: str
    task: str
    form: str
    prompt: str
    answer: str
    target: Any
    # (media path relative to data.root, or absolute; timestamp) per frame, in order;
    # None where a needle image is shown instead
    frames: list[tuple[str, float] | None]
    duration_s: float
    options: list[str] | None = None
    needles: list[Needle] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def human_prompt(row: dict[str, Any]) -> str:
    """The first human turn of a `qa` row without the <video> placeholder: the row's
    timestamp prompt once (qa v2 keeps it out of the turns; the trainer's `build_messages`
    puts it after the placeholder, as here), then question, options and instruction."""
    # here, not at the top: these modules import transformers
    from longvid.data.samples import build_messages
    from longvid.model.tokenizer import VIDEO_TOKEN

    messages = build_messages(row["conversations"], row.get("timestamp_prompt") or "")
    human = next(message["content"] for message in messages if message["role"] == "user")
    return human.replace(VIDEO_TOKEN + "\n", "", 1).replace(VIDEO_TOKEN, "", 1).strip()


def qa_form(row: dict[str, Any]) -> str:
    """choice | span | count | open for a `qa` row (see the module docstring)."""
    if row.get("options"):
        return "choice"
    answer = str(row["answer"]).strip()
    if row["task"] == "grounding" and parse_span(answer) is not None:
        return "span"
    if row["task"] == "counting" and answer.rstrip(".").isdigit():
        return "count"
    return "open"


def qa_target(row: dict[str, Any], form: str) -> Any:
    """What an output is scored against, per form."""
    if form == "choice":
        return int(row["answer_index"])
    if form == "span":
        return list(parse_span(row["answer"]) or (row["evidence_start_s"], row["evidence_end_s"]))
    if form == "count":
        return parse_count(row["answer"])
    return str(row["answer"])


def qa_sample(row: dict[str, Any]) -> EvalSample:
    """A `qa` row as a sample: its sampling plan gives the frames."""
    form = qa_form(row)
    return EvalSample(
        sample_id=row["qa_id"],
        table="qa",
        split=row["split"],
        task=row["task"],
        form=form,
        prompt=human_prompt(row),
        answer=str(row["answer"]),
        target=qa_target(row, form),
        frames=[(row["video_uri"], float(t)) for t in row["sample_timestamps"]],
        duration_s=float(row["video_duration_s"]),
        options=list(row["options"]) if row.get("options") else None,
        meta={"video_id": row["video_id"], "sample_frames": int(row["sample_frames"])},
    )


def qa_samples(rows: list[dict[str, Any]]) -> list[EvalSample]:
    """Samples of `qa` rows, sorted by id (the order never depends on shard layout)."""
    return [qa_sample(row) for row in sorted(rows, key=lambda row: row["qa_id"])]


def select(samples: list[EvalSample], forms: list[str], limit: int | None) -> list[EvalSample]:
    """Samples of the chosen forms (empty list: all), the first `limit` of each table."""
    chosen = [sample for sample in samples if not forms or sample.form in forms]
    if limit is None:
        return chosen
    taken: dict[str, int] = {}
    kept = []
    for sample in chosen:
        if taken.get(sample.table, 0) < limit:
            taken[sample.table] = taken.get(sample.table, 0) + 1
            kept.append(sample)
    return kept
