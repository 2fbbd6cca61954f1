"""`longvid-pipeline stats`: what a dataset holds, and the proof that nothing was lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from longvid_pipeline.manifest import dataset_counts, stage_accounting
from longvid_pipeline.shards import WRITE_STAGE, read_commits, sum_commit_accounts
from longvid_pipeline.store import StoreOut, is_url


def read_manifest(out: Path | str) -> dict[str, Any]:
    """OUT's manifest (OUT is a folder or an object store URL)."""
    if is_url(out):
        return dict(json.loads(StoreOut(str(out)).read_text("manifest.json")))
    manifest_path = Path(out) / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"no manifest at {manifest_path}: is {out} the output of a run?")
    return dict(json.loads(manifest_path.read_text()))


def compute_stats(out: Path | str) -> dict[str, Any]:
    """Counts from the shards, checked against the manifest's list of inputs."""
    manifest = read_manifest(out)
    counts = dataset_counts(out)
    accounts = sum_commit_accounts(read_commits(out))
    stage_order = [*manifest["recipe"]["stages"], WRITE_STAGE]
    total = manifest["inputs"]["total"]
    problems = stage_accounting(accounts, stage_order)
    accounted = counts["inputs_kept"] + counts["inputs_rejected"]
    if accounted != total:
        problems.append(
            f"inputs {total} != kept {counts['inputs_kept']} + rejected {counts['inputs_rejected']}"
            f" ({total - accounted} unaccounted: rerun the recipe to finish them)"
        )
    ordered = {stage: accounts[stage] for stage in stage_order if stage in accounts}
    return {**counts, "inputs_total": total, "stages": ordered, "problems": problems}


def format_stats(stats: dict[str, Any]) -> str:
    lines = [
        f"inputs: {stats['inputs_total']} = {stats['inputs_kept']} kept + {stats['inputs_rejected']} rejected",
        f"video hours: {stats['video_hours']:.3f}",
        "rows per table:",
        *(f"  {table:<8} {count}" for table, count in sorted(stats["tables"].items())),
        "qa per task:",
        *(f"  {task:<13} {count}" for task, count in stats["tasks"].items()),
        "stages (inputs = passed + rejected; wall/cpu seconds):",
        *(
            f"  {name:<9} {a['inputs']:.0f} = {a['passed']:.0f} + {a['rejected']:.0f}   "
            f"{a['wall_s']:.1f}/{a['cpu_s']:.1f}"
            for name, a in stats["stages"].items()
        ),
        "rejects by stage and reason:",
        *(
            f"  {r['stage']:<9} {r['level']:<7} {r['reason']:<24} {r['count']}"
            for r in stats["rejects"]
        ),
    ]
    lines.append(
        "accounting: OK"
        if not stats["problems"]
        else "accounting: MISMATCH\n  " + "\n  ".join(stats["problems"])
    )
    return "\n".join(lines)
