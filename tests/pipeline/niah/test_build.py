"""End to end: the shipped benchmark recipe over a built output, through the CLI and Ray.

Every (length, depth) cell gets its samples, samples that cannot be built are rejects, the
accounting holds (inputs = kept + rejected), and a rerun into the same OUT does nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.niah import make_haystack_output

from longvid_pipeline.cli import main
from longvid_pipeline.query import run_query
from longvid_pipeline.recipe import RECIPE_DIR


@pytest.mark.slow
def test_benchmark_build_covers_the_grid_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    haystack = tmp_path / "haystack"
    make_haystack_output(haystack)  # 3 videos of 12 s: 36 frames at 1 fps
    out = tmp_path / "bench"
    args = [
        "run", str(RECIPE_DIR / "mh_niah.yaml"), "--out", str(out),
        "--set", f"source.path={haystack}",
        "--set", "ray.num_cpus=1",
        "--set", "stages.niah.resources.concurrency=1",
        "--set", "stages.niah.multi_hop.lengths=[24, 40]",
        "--set", "stages.niah.multi_hop.depths=[0, 100]",
        "--set", "stages.niah.multi_hop.samples_per_cell=1",
        "--set", "stages.niah.single_hop.lengths=[30, 500]",  # 500 > 36: haystack_too_short
        "--set", "stages.niah.single_hop.depths=[100]",
        "--set", "stages.niah.single_hop.samples_per_cell=2",
        "--set", "stages.niah.frames.allow_repeat=false",
        "--set", "stages.niah.frames.width=320",
        "--set", "stages.niah.frames.height=180",
        "--set", "stages.niah.clues.font_size=14",
    ]  # fmt: skip
    assert main(args) == 0
    assert "inputs: 8 = 6 kept + 2 rejected" in capsys.readouterr().out
    assert main(["stats", str(out), "--json"]) == 0  # exits 1 on any accounting problem
    stats = json.loads(capsys.readouterr().out)
    assert stats["problems"] == [] and stats["tables"]["niah"] == 6
    assert stats["stages"]["niah"]["rejected"] == 2 and stats["stages"]["validate"]["inputs"] == 6
    cells = run_query(
        out,
        "SELECT benchmark, length, depth, sum(samples) FROM niah_cells GROUP BY ALL ORDER BY ALL",
    ).to_pylist()
    expected = [("mh_niah", length, depth, 1) for length in (24, 40) for depth in (0, 100)]
    expected += [("v_niah", 30, 100, 2)]
    assert [tuple(cell.values()) for cell in cells] == expected
    card = (out / "README.md").read_text()  # the dataset card shows the grid
    assert (
        "![niah_grid](card/niah_grid.png)" in card
        and (out / "card" / "niah_grid.png").stat().st_size
    )
    rejected = run_query(out, "SELECT stage, level, reason, count(*) FROM rejects GROUP BY ALL")
    assert [tuple(r.values()) for r in rejected.to_pylist()] == [
        ("niah", "input", "haystack_too_short", 2)
    ]
    assert main(args) == 0  # resume: everything is committed, nothing runs again
    assert "0 inputs processed this run" in capsys.readouterr().out
    assert run_query(out, "SELECT count(*) AS n FROM niah").to_pylist() == [{"n": 6}]
