"""results.json, report.md and heatmaps/ from the scored records of a selection.

results.json holds flat rows, easy to slice: `metrics` per (run, table, split, task,
form), `overall` per (run, table, form), `niah` per (run, question type, hops, length,
depth), plus throughput per run. report.md puts the model beside its baselines, one
line per metric, so every report shows how much the video matters.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from longvid.eval.config import EvalConfig
from longvid.eval.heatmap import draw_heatmap
from longvid.eval.metrics import PRIMARY, group_metrics
from longvid.eval.records import write_text

METRIC_ORDER = (
    "accuracy",
    "miou",
    "r@0.3",
    "r@0.5",
    "r@0.7",
    "exact",
    "off_by_one",
    "mae",
    "score",
)


def _rows(records: list[dict[str, Any]], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    grouped = group_metrics(records, lambda r: tuple(r[field] for field in fields))
    return [{**dict(zip(fields, key, strict=True)), **summary} for key, summary in grouped.items()]


NIAH_AXES = ("benchmark", "question_type", "hops", "length", "depth")


def niah_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accuracy per (run, benchmark, question type, hops, length, depth)."""
    grouped = group_metrics(
        [r for r in records if r["table"] == "niah"],
        lambda r: (r["run"], *(r["niah"][axis] for axis in NIAH_AXES)),
    )
    return [dict(zip(("run", *NIAH_AXES), key, strict=True)) | s for key, s in grouped.items()]


def heatmaps(rows: list[dict[str, Any]], folder: Path) -> list[str]:
    """One PNG per (run, benchmark, question type, hops); paths relative to the output dir."""
    charts: dict[tuple[str, str, str, int], dict[tuple[int, int], float]] = {}
    for row in rows:
        key = (row["run"], row["benchmark"], row["question_type"], row["hops"])
        charts.setdefault(key, {})[(row["length"], row["depth"])] = row["accuracy"]
    written = []
    for (run, benchmark, question_type, hops), cells in sorted(charts.items()):
        stem = f"{run}-{benchmark}-{question_type}-hops{hops}"
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) + ".png"
        title = f"{run}: {benchmark} {question_type}, {hops} hop(s)"
        draw_heatmap(cells, title, folder / "heatmaps" / name)
        written.append(f"heatmaps/{name}")
    return written


def mc_scoring(records: list[dict[str, Any]]) -> dict[str, str]:
    """How each run answered multiple choice: likelihood, generate (or both, on a resumed
    log written under another setting)."""
    ways: dict[str, set[str]] = {}
    for record in records:
        if "mc_scoring" in record:
            ways.setdefault(record["run"], set()).add(record["mc_scoring"])
    return {run: "+".join(sorted(found)) for run, found in ways.items()}


def _previous_throughput(output_dir: Path) -> dict[str, Any]:
    path = output_dir / "results.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text()).get("throughput", {})
    except json.JSONDecodeError:
        return {}


def write_reports(
    output_dir: Path,
    config: EvalConfig,
    records: list[dict[str, Any]],
    throughput: dict[str, Any],
    open_scorer: str,
) -> dict[str, Any]:
    """Write results.json, report.md and heatmaps; returns the results."""
    niah = niah_rows(records)
    results = {
        "model": dataclasses.asdict(config.model),
        "data": {
            "root": config.data.root,
            "tables": config.data.tables,
            "splits": config.data.splits,
            "frames": config.data.frames,
        },
        "open_scorer": open_scorer,
        "mc_scoring": mc_scoring(records),
        "mc_continuation": config.generation.mc_continuation,
        "runs": sorted({r["run"] for r in records}, key=lambda run: (run != "model", run)),
        "metrics": _rows(records, ("run", "table", "split", "task", "form")),
        "overall": _rows(records, ("run", "table", "form")),
        "niah": niah,
        "heatmaps": heatmaps(niah, output_dir),
        "throughput": {**_previous_throughput(output_dir), **throughput},
    }
    write_text(output_dir / "results.json", json.dumps(results, indent=2) + "\n")
    write_text(output_dir / "report.md", markdown(results))
    return results


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(rows: list[dict[str, Any]], keys: tuple[str, ...], runs: list[str]) -> list[str]:
    """One line per (keys..., metric), one column per run."""
    by_key: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault(tuple(row[k] for k in keys), {})[row["run"]] = row
    lines = [
        "| " + " | ".join([*keys, "n", "metric", *runs, "unparsed (model)"]) + " |",
        "|" + "---|" * (len(keys) + 3 + len(runs)),
    ]
    for key, per_run in sorted(by_key.items(), key=lambda item: str(item[0])):
        first = next(iter(per_run.values()))
        metrics = [m for m in METRIC_ORDER if m in first]
        for metric in metrics:
            values = [_cell(per_run.get(run, {}).get(metric)) for run in runs]
            unparsed = _cell(per_run.get("model", {}).get("unparsed"))
            cells = [*map(str, key), str(first["n"]), metric, *values, unparsed]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    """The report: what ran, per-task metrics beside baselines, NIAH, throughput."""
    runs = results["runs"]
    model = results["model"]
    lines = [
        "# longvid.eval report",
        "",
        f"- model: `{model['name']}` {json.dumps(model['options'])}",
        f"- data: `{results['data']['root']}` tables {results['data']['tables']}"
        + (f", qa splits {results['data']['splits']}" if "qa" in results["data"]["tables"] else ""),
        f"- open answers scored by: {results['open_scorer']}",
        "- multiple choice answered by: "
        + (
            ", ".join(f"{run} {way}" for run, way in results["mc_scoring"].items())
            + f" (likelihood of each option's {results['mc_continuation']})"
            if results["mc_scoring"]
            else "no multiple choice"
        ),
        f"- primary metric per form: {PRIMARY}",
        "",
        "## By task",
        "",
        *_table(results["metrics"], ("table", "split", "task", "form"), runs),
        "",
        "## Overall by form",
        "",
        *_table(results["overall"], ("table", "form"), runs),
    ]
    if results["niah"]:
        lines += ["", "## NIAH (accuracy per length and depth)", ""]
        lines += [f"![{path}]({path})" for path in results["heatmaps"]]
    if results["throughput"]:
        lines += [
            "",
            "## Throughput (last invocation per run; busy share: generate seconds per wall second,"
            " summed over actors)",
            "",
            "| run | samples | seconds | samples/s | model busy share |",
            "|---|---|---|---|---|",
        ]
        for run, figures in results["throughput"].items():
            lines.append(
                f"| {run} | {figures['samples']} | {figures['seconds']:.1f} "
                f"| {figures['samples_per_s']:.2f} | {figures.get('model_busy_share', 0.0):.2f} |"
            )
    return "\n".join(lines) + "\n"
