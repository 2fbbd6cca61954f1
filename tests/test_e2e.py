"""End to end through the real CLI and a local Ray: demo world -> shards -> DuckDB.

Slow (a local Ray and real video work), so marked; CI still runs it via `make test`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longvid_pipeline.cli import main
from longvid_pipeline.query import run_query

pytestmark = pytest.mark.slow

SMALL_WORLD = [
    "source.demo.videos=2",
    "source.demo.min_duration_s=40",
    "source.demo.max_duration_s=60",
    "source.demo.width=320",
    "source.demo.height=180",
    "ray.num_cpus=2",
    "shards.videos_per_commit=1",
]


def run_cli(out: Path, *extra: str) -> int:
    args = ["run", "stages/demo.yaml", "--out", str(out)]
    for override in [*SMALL_WORLD, *extra]:
        args += ["--set", override]
    return main(args)


def test_demo_builds_queries_and_resumes_without_duplicates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert run_cli(out) == 0
    summary = capsys.readouterr().out
    assert "inputs: 2 = 2 kept + 0 rejected" in summary

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["inputs"] == {"total": 2, "kept": 2, "rejected": 0, "pending": 0}
    assert manifest["accounting_problems"] == []
    assert set(manifest["stages"]) == {"fetch", "segment", "caption", "qa", "validate"}

    task_rows = run_query(out, "select task, count(*) as n from qa group by task").to_pylist()
    tasks = {row["task"]: row["n"] for row in task_rows}
    assert set(tasks) == {"caption", "grounding", "counting", "relationship", "understanding"}
    assert all(count > 0 for count in tasks.values())

    # Every clip span lies inside its video and the sampling plan matches the duration.
    bad = run_query(out, """
        select count(*) as n from clips c join videos v using (video_id)
        where c.start_s < 0 or c.end_s > v.duration_s + 0.05 or c.start_s >= c.end_s""").to_pylist()
    assert bad == [{"n": 0}]

    before = run_query(out, "select (select count(*) from videos) v, (select count(*) from clips) c, "
                            "(select count(*) from qa) q").to_pylist()
    assert run_cli(out) == 0  # second run into the same OUT: nothing to do, nothing duplicated
    after = run_query(out, "select (select count(*) from videos) v, (select count(*) from clips) c, "
                           "(select count(*) from qa) q").to_pylist()
    assert before == after
    assert json.loads((out / "manifest.json").read_text())["runs"][-1]["inputs_todo"] == 0

    assert main(["stats", str(out)]) == 0
    assert "accounting: OK" in capsys.readouterr().out
