"""A stage's data mixture: the pipeline's qa shards by task next to LLaVA-format JSON of
images or videos, each source with a ratio.

Every source becomes `Record`s (one conversation with its video or images), so the dataset
handles one shape. The mixture is a deterministic function of (seed, stage, sources): each
source contributes `round(ratio * size)` records (whole repeats, then a seeded subset,
like VideoChat-Flash's `sampling_strategy: first:25%` but spread over the file), and the
sampler shuffles their concatenation. That keeps `--resume` exact.

LLaVA format (LLaVA-OneVision / VideoChat-Flash annotations): a JSON list, or JSON lines,
of {"id", "conversations": [{"from": "human"|"gpt", "value"}...], and "image": path or
[paths] | "video": path (optional "start"/"end" seconds)} with paths relative to
`media_root`. A record with images but no <image> in its text gets one per image at the
start of the first turn (LLaVA's convention); a video record likewise gets <video>.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from longvid.data.samples import placeholder_order
from longvid.data.shards import data_root_problem, read_qa
from longvid.model.tokenizer import IMAGE_TOKEN, VIDEO_TOKEN
from longvid_pipeline.api import local_copy
from longvid_pipeline.config import param

KINDS = ("qa", "llava")


@dataclass
class SourceSection:
    """One source of a stage's mixture (schedule.stages[i].data[j])."""

    kind: str = param(
        "qa",
        "qa: the pipeline's qa shards | llava: LLaVA-format JSON/JSONL of image or video chats",
        choices=KINDS,
    )
    ratio: float = param(
        1.0,
        "records per epoch as a share of the source (0.25: a seeded quarter; 2: twice)",
        min=0.0,
    )
    root: str | None = param(None, "qa: pipeline output folder (null: data.root)")
    tasks: list[str] | None = param(None, "qa: tasks (null: the stage's tasks, else data.tasks)")
    splits: list[str] | None = param(None, "qa: splits (null: data.splits)")
    path: str | None = param(None, "llava: the annotation file (.json list or .jsonl)")
    media_root: str | None = param(
        None, "llava: folder the image/video paths are relative to (null: the file's folder)"
    )

    def problems(self) -> list[tuple[str, str]]:
        """(key, message) for fields that do not fit the kind; files are checked later."""
        if self.kind == "llava" and not self.path:
            return [("path", "a llava source needs the annotation file")]
        if self.kind == "qa" and (self.path or self.media_root):
            return [("path", "a qa source reads root (a pipeline output), not path/media_root")]
        return []


@dataclass
class Record:
    """One training conversation and its media, whatever the source."""

    sample_id: str
    conversations: list[dict[str, str]]
    video: str | None = None  # path of the video file
    timestamps: list[float] | None = None  # the source's own sampling plan (qa rows)
    duration_s: float | None = None  # what the timestamp prompt states
    start_s: float = 0.0  # a clip of the video: [start_s, start_s + duration_s]
    images: list[str] = field(default_factory=list)


class DataSourceError(ValueError):
    """A source cannot feed training: names the file or folder and what is wrong."""


def qa_record(row: dict[str, Any], root: Path) -> Record:
    """A qa row as a Record: its conversation, video, sampling plan and duration."""
    return Record(
        sample_id=row["qa_id"],
        conversations=list(row["conversations"]),
        video=str(Path(root) / row["video_uri"]),
        timestamps=list(row["sample_timestamps"]),
        duration_s=float(row["video_duration_s"]),
    )


def qa_records(root: Path | str, tasks: list[str] | None, splits: list[str] | None) -> list[Record]:
    """Records of committed qa rows (sorted by qa_id); a store URL is read through its local
    copy (fetched once per machine), so every worker decodes frames from local files."""
    local = local_copy(root)
    return [qa_record(row, local) for row in read_qa(local, tasks, splits)]


def _with_placeholders(turns: list[dict[str, str]], token: str, count: int) -> list[dict[str, str]]:
    """LLaVA's convention: media without a placeholder in the text go before the first turn."""
    if count == 0 or any(token in turn["value"] for turn in turns):
        return turns
    first = dict(turns[0], value=(token + "\n") * count + turns[0]["value"])
    return [first, *turns[1:]]


def _llava_record(raw: Any, index: int, media_root: Path) -> Record | str:
    """A Record, or why the entry is unusable."""
    if not isinstance(raw, dict):
        return "not an object"
    turns = raw.get("conversations")
    if (
        not isinstance(turns, list)
        or not turns
        or not all(
            isinstance(t, dict) and isinstance(t.get("value"), str) and "from" in t for t in turns
        )
    ):
        return "conversations must be a non-empty list of {from, value}"
    images = raw.get("image") or []
    images = [images] if isinstance(images, str) else list(images)
    video = raw.get("video")
    if images and video:
        return "has both image and video"
    turns = _with_placeholders(turns, IMAGE_TOKEN, len(images))
    turns = _with_placeholders(turns, VIDEO_TOKEN, 1 if video else 0)
    order = placeholder_order(turns)
    if order.count(IMAGE_TOKEN) != len(images) or order.count(VIDEO_TOKEN) != (1 if video else 0):
        return f"{len(images)} image(s), video={bool(video)} but placeholders {order}"
    start, end = raw.get("start"), raw.get("end")
    clip = (float(start), float(end)) if start is not None and end is not None else None
    return Record(
        sample_id=str(raw.get("id", index)),
        conversations=[{"from": str(t["from"]), "value": t["value"]} for t in turns],
        video=str(media_root / video) if video else None,
        duration_s=clip[1] - clip[0] if clip else None,
        start_s=clip[0] if clip else 0.0,
        images=[str(media_root / image) for image in images],
    )


def llava_records(path: Path, media_root: Path | None = None) -> list[Record]:
    """Records of a LLaVA-format file.

    Raises:
        DataSourceError: unreadable file or malformed entries (the first few named).
    """
    path = Path(path)
    try:
        text = path.read_text()
        entries = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".jsonl"
            else json.loads(text)
        )
    except (OSError, ValueError) as exc:
        raise DataSourceError(f"{path}: cannot read LLaVA annotations: {exc}") from None
    if not isinstance(entries, list):
        raise DataSourceError(f"{path}: expected a JSON list of records")
    root = Path(media_root) if media_root else path.parent
    records, bad = [], []
    for index, raw in enumerate(entries):
        built = _llava_record(raw, index, root)
        if isinstance(built, str):
            bad.append(f"entry {index}: {built}")
        else:
            records.append(built)
    if bad:
        shown = "; ".join(bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise DataSourceError(f"{path}: {len(bad)} malformed record(s): {shown}")
    return records


def source_problem(source: SourceSection, data_root: str) -> str | None:
    """Why a source cannot be read (missing folder or file), or None; cheap, before training."""
    if source.kind == "qa":
        return data_root_problem(source.root or data_root)
    if not Path(str(source.path)).is_file():
        return f"{source.path}: no such annotation file"
    return None


def take(records: list[Record], ratio: float, rng: np.random.Generator) -> list[Record]:
    """round(ratio * n) records: whole copies, then a seeded subset in source order."""
    whole, fraction = divmod(ratio, 1.0)
    extra = int(round(fraction * len(records)))
    chosen = sorted(rng.choice(len(records), size=extra, replace=False)) if extra else []
    return records * int(whole) + [records[index] for index in chosen]


def stage_records(
    sources: list[SourceSection],
    data_root: str,
    tasks: list[str] | None,
    splits: list[str],
    seed: int,
    stage_index: int,
) -> list[Record]:
    """The stage's mixture, a pure function of its arguments (and the files).

    Raises:
        FileNotFoundError, DataSourceError: a source is missing, empty or malformed.
    """
    mixture: list[Record] = []
    for number, source in enumerate(sources):
        if source.kind == "qa":
            records = qa_records(
                source.root or data_root,
                source.tasks if source.tasks is not None else tasks,
                source.splits if source.splits is not None else splits,
            )
        else:
            media = Path(source.media_root) if source.media_root else None
            records = llava_records(Path(str(source.path)), media)
        rng = np.random.default_rng([seed, stage_index, number])
        mixture += take(records, source.ratio, rng)
    if not mixture:
        raise DataSourceError("the stage's data mixture is empty (every ratio is 0?)")
    return mixture
