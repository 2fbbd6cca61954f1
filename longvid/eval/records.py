"""samples.jsonl: one scored sample per line, appended as scored, read back to resume.

Why a log and not a final dump: a killed evaluation keeps every sample it scored, and a
rerun with the same config scores only the rest. A line cut short by a kill is dropped
(and the file rewritten without it) before anything is appended.

The output folder remembers the config that produced it (`run.json`): a rerun with
another model, data or scoring setup into the same folder is refused rather than mixed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from longvid.eval.config import EvalConfig

SAMPLES_FILE = "samples.jsonl"
RUN_FILE = "run.json"


def write_text(path: Path, text: str) -> None:
    """Replace a file whole (temporary name, then rename): readers never see half of it."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(text)
    os.replace(temp, path)


def fingerprint_config(config: EvalConfig) -> dict[str, Any]:
    """The parts of a config that change answers or scores (not batch size, workers,
    backend, baselines or limit: those change how much or how fast, not what)."""
    data = dataclasses.asdict(config.data)
    for key in ("workers", "limit"):
        data.pop(key)
    generation = dataclasses.asdict(config.generation)
    generation.pop("batch_size")
    return {
        "seed": config.seed,
        "model": dataclasses.asdict(config.model),
        "data": data,
        "generation": generation,
        "prompt": dataclasses.asdict(config.prompt),
        "judge": dataclasses.asdict(config.judge),
    }


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested mappings."""
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(set(old) | set(new))
        return [
            k for key in keys for k in changed_keys(old.get(key), new.get(key), f"{prefix}{key}.")
        ]
    return [] if old == new else [prefix.rstrip(".")]


def claim_output(output_dir: Path, config: EvalConfig) -> str | None:
    """Record the config in output_dir/run.json; a problem when it holds another config's
    results (says which keys differ), else None."""
    output_dir.mkdir(parents=True, exist_ok=True)
    current = fingerprint_config(config)
    path = output_dir / RUN_FILE
    if path.is_file():
        previous = json.loads(path.read_text()).get("config", {})
        if _digest(previous) != _digest(current):
            keys = ", ".join(changed_keys(previous, current)) or "the config"
            return (
                f"{output_dir} holds results of another config ({keys} changed): "
                "choose another output_dir or delete it"
            )
    write_text(path, json.dumps({"fingerprint": _digest(current), "config": current}, indent=2))
    return None


class SampleLog:
    """The append-only record of scored samples, keyed by (run, sample id)."""

    def __init__(self, output_dir: Path) -> None:
        self.path = Path(output_dir) / SAMPLES_FILE
        self.records: list[dict[str, Any]] = []
        if self.path.is_file():
            self._load()

    def _load(self) -> None:
        lines = self.path.read_text().splitlines()
        for line in lines:
            try:
                self.records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        if len(self.records) != len(lines) or not self.path.read_text().endswith("\n"):
            text = "".join(json.dumps(record) + "\n" for record in self.records)
            write_text(self.path, text)

    def done(self, run: str) -> set[str]:
        """Sample ids already scored in `run`."""
        return {record["doc_id"] for record in self.records if record["run"] == run}

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        self.records.append(record)
