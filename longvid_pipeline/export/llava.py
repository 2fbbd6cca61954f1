"""LLaVA-style export: the JSON/JSONL and data-list YAML that LLaVA-NeXT-style trainers read.

VideoChat-Flash's trainer (llava-train_videochat, `LazySupervisedDataset`) takes a YAML
`datasets:` list; each entry names a `json_path` (.json list or .jsonl), a
`sampling_strategy` ("all", "first:1000", ...) and a `data_root` joined to each record's
`video`. A record holds `video`, `conversations` (`from` human / gpt, `value`) with the
`<image>` placeholder those trainers use for videos too, and optional `start` / `end`
seconds, which make the trainer read only that window.

One file per task and split (`<split>/<task>.json`), one YAML per split (`<split>.yaml`).
The timestamp prompt appears once: written right after the placeholder (`inline`, for
trainers that add none), or left out (`none`, for VideoChat-Flash run with `--time_msg`,
which writes its own from the frames it samples).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from longvid_pipeline.api import read_rows
from longvid_pipeline.config import param

SOURCE_PLACEHOLDER = "<video>"
CLIP_QUESTION = "Describe what happens in this video clip."


@dataclass
class LlavaExportConfig:
    """Options of `export --format llava` (given as --set key=value)."""

    placeholder: str = param("<image>", "media placeholder the trainer expects in the human turn")
    timestamp_prompt: str = param(
        "inline",
        "inline: the row's timestamp prompt right after the placeholder; none: left out"
        " (the trainer adds its own, e.g. VideoChat-Flash --time_msg)",
        choices=("inline", "none"),
    )
    file_format: str = param("json", "json (one list per file) | jsonl", choices=("json", "jsonl"))
    splits: list[str] = param([], "splits to export (empty: all)")
    tasks: list[str] = param([], "tasks to export (empty: all)")
    clip_samples: bool = param(
        False,
        "open caption/clip questions become clip samples: start/end set to the clip and"
        " the question asks about the clip (no timestamp prompt)",
    )
    sampling_strategy: str = param("all", "sampling_strategy written in the data YAML")


class LlavaExport:
    """Writes one JSON(L) per task and split plus one data YAML per split."""

    Config = LlavaExportConfig

    def __init__(self, config: LlavaExportConfig) -> None:
        self.config = config

    def export(self, out: Path, dest: Path) -> dict[str, Any]:
        """Export OUT's committed qa rows into `dest`; returns files and record counts."""
        rows = read_rows(out, "qa", where={"split": self.config.splits, "task": self.config.tasks})
        groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for row in sorted(rows, key=lambda r: r["qa_id"]):
            groups[(row["split"], row["task"])].append(self.record(row))
        data_root = str(Path(out).resolve())
        lists: dict[str, list[dict[str, Any]]] = defaultdict(list)
        written = {}
        for (split, task), records in sorted(groups.items()):
            path = dest / split / f"{task}.{self.config.file_format}"
            self._write(path, records)
            written[str(path)] = len(records)
            lists[split].append(self._entry(path, data_root))
        for split, entries in lists.items():
            (dest / f"{split}.yaml").write_text(
                yaml.safe_dump({"datasets": entries}, sort_keys=False)
            )
        return {"files": written, "data_lists": sorted(str(dest / f"{s}.yaml") for s in lists)}

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        """One training record for a qa row."""
        human, gpt = row["conversations"][0]["value"], row["conversations"][1]["value"]
        body = human.replace(SOURCE_PLACEHOLDER, "", 1).lstrip("\n")
        record: dict[str, Any] = {"id": row["qa_id"], "video": row["video_uri"]}
        if (
            self.config.clip_samples
            and row["question_type"] == "caption/clip"
            and row["options"] is None
        ):
            record["start"], record["end"] = row["evidence_start_s"], row["evidence_end_s"]
            head = [self.config.placeholder, CLIP_QUESTION]
        else:
            head = [self.config.placeholder, body]
            if self.config.timestamp_prompt == "inline":
                head.insert(1, row["timestamp_prompt"])
        record["conversations"] = [
            {"from": "human", "value": "\n".join(head)},
            {"from": "gpt", "value": gpt},
        ]
        record.update({key: row[key] for key in ("task", "question_type", "form", "split")})
        return record

    def _write(self, path: Path, records: list[dict[str, Any]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.config.file_format == "jsonl":
            text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
        else:
            text = json.dumps(records, ensure_ascii=False, indent=1) + "\n"
        path.write_text(text)

    def _entry(self, path: Path, data_root: str) -> dict[str, Any]:
        return {
            "json_path": str(path.resolve()),
            "sampling_strategy": self.config.sampling_strategy,
            "data_root": data_root,
            "media_type": "video",
        }
