"""The validation report: OUT/validation.json and OUT/validation.md from the counts that
every validated batch adds to its commit record (table -> expectation -> evaluated/failed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from longvid_pipeline.files import write_atomic
from longvid_pipeline.tables import TABLE_NAMES
from longvid_pipeline.validation.suites import Validation, expectation_name, suite_dir


def _pass_rate(counts: dict[str, int]) -> float | None:
    evaluated = counts.get("evaluated", 0)
    return None if evaluated == 0 else round(1.0 - counts.get("failed", 0) / evaluated, 6)


def _suite_notes(table: str) -> dict[str, str]:
    """Expectation name -> the suite's note on why it exists (for the readable report)."""
    path = suite_dir() / f"{table}.json"
    if not path.exists():
        return {}
    configs = json.loads(path.read_text()).get("expectations", [])
    return {expectation_name(c): str(c.get("notes") or "") for c in configs}


def report_data(validation: Validation) -> dict[str, Any]:
    """The JSON report: per table and expectation, the counts and the pass rate."""
    tables = {}
    for table in sorted(
        validation, key=lambda t: (TABLE_NAMES.index(t) if t in TABLE_NAMES else 99, t)
    ):
        rows = {
            name: {**counts, "pass_rate": _pass_rate(counts)}
            for name, counts in sorted(validation[table].items())
        }
        tables[table] = {
            "expectations": rows,
            "failed_checks": sum(c["failed"] for c in validation[table].values()),
            "evaluated_checks": sum(c["evaluated"] for c in validation[table].values()),
        }
    return {"tables": tables}


def report_markdown(data: dict[str, Any]) -> str:
    """A readable report: one Markdown table per data table, worst expectations first."""
    lines = [
        "# Validation report",
        "",
        "Counts are summed over every validated batch of the run; `failed` rows were "
        "rejected (mode `reject`) or kept and counted (mode `warn`).",
        "",
    ]
    for table, summary in data["tables"].items():
        notes = _suite_notes(table)
        lines += [
            f"## {table}",
            "",
            "| expectation | evaluated | failed | pass rate | why |",
            "|---|---:|---:|---:|---|",
        ]
        ordered = sorted(
            summary["expectations"].items(),
            key=lambda kv: (kv[1]["pass_rate"] if kv[1]["pass_rate"] is not None else 2, kv[0]),
        )
        for name, counts in ordered:
            rate = "n/a" if counts["pass_rate"] is None else f"{100 * counts['pass_rate']:.2f}%"
            why = notes.get(name, "").replace("|", "\\|")
            lines.append(
                f"| `{name}` | {counts['evaluated']} | {counts['failed']} | {rate} | {why} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_report(out_dir: Path, validation: Validation) -> tuple[Path, Path]:
    """Write OUT/validation.json and OUT/validation.md from a run's summed counts.

    Example:
        write_report(Path("out/demo"), {"qa": {"expect_column_values_to_be_unique(qa_id)":
                                                {"evaluated": 10, "failed": 1}}})
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = report_data(validation)
    json_path, md_path = out_dir / "validation.json", out_dir / "validation.md"
    _write_report_file(json_path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    _write_report_file(md_path, report_markdown(data))
    return json_path, md_path


def _write_report_file(path: Path, text: str) -> None:
    """Readers never see half a report: the shared temp-name-then-rename writer."""
    write_atomic(path, text.encode("utf-8"))
