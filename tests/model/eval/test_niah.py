"""NIAH scoring on a real `niah` build (the pipeline's builder over a small haystack
output): the evaluator's frames equal the API's `iter_niah_frames` frame for frame,
accuracy is kept per (benchmark, question type, hops, length, depth) cell, heatmaps are
drawn, and a capped haystack keeps needles at their shown positions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from support.niah import build_rows, make_haystack_output, small_config

from longvid.eval.cli import main
from longvid.eval.loader import FramePlan, choose_frames, decode
from longvid.eval.niah import niah_samples
from longvid_pipeline.api import iter_niah_frames, read_rows
from longvid_pipeline.shards import commit_rows


@pytest.fixture(scope="module")
def niah_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder holding haystack videos and a committed `niah` table."""
    out = tmp_path_factory.mktemp("niah")
    make_haystack_output(out)
    rows = build_rows(out, small_config())
    commit_rows(out, {"niah": rows}, input_ids=[row["input_id"] for row in rows])
    return out


def test_frames_match_the_api_frame_for_frame(niah_out: Path) -> None:
    row = next(r for r in read_rows(niah_out, "niah") if r["hops"] > 0)
    samples = niah_samples(row)
    assert [s.task for s in samples] == ["niah/caption", "niah/visual"]
    assert samples[0].prompt == row["questions"][0]["text"]
    assert samples[0].target == row["questions"][0]["answer_index"]
    frames, needles, _ = choose_frames(samples[0], FramePlan())
    assert len(frames) == row["length"]
    mine = decode(niah_out, frames, needles, FramePlan(), samples[0].meta["frame_size"])
    assert np.array_equal(mine, np.stack(list(iter_niah_frames(row))))


def test_capped_haystack_keeps_needles_where_shown(niah_out: Path) -> None:
    row = next(r for r in read_rows(niah_out, "niah") if r["length"] == 40)
    sample = niah_samples(row)[0]
    frames, needles, _ = choose_frames(sample, FramePlan(haystack_frames=10))
    shown = [int((i + 0.5) * 40 / 10) for i in range(10)]  # 2, 6, ..., 38
    assert len(frames) == 10
    at = {index for needle in sample.needles for index in needle.frame_indices}
    assert sorted(needles) == [new for new, old in enumerate(shown) if old in at]
    assert all((frames[i] is None) == (i in needles) for i in range(10))


def test_niah_accuracy_per_cell_and_heatmaps(niah_out: Path, tmp_path: Path) -> None:
    config = {
        "output_dir": str(tmp_path / "eval"),
        "baselines": ["random"],
        "model": {"name": "oracle", "options": {"frames": 16}},
        "data": {"root": str(niah_out), "tables": ["niah"], "workers": 1},
    }
    path = tmp_path / "niah.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main([str(path)]) == 0
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    cells = [row for row in results["niah"] if row["run"] == "model"]
    built = {
        (r["benchmark"], r["hops"], r["length"], r["depth"]) for r in read_rows(niah_out, "niah")
    }
    assert {(c["benchmark"], c["hops"], c["length"], c["depth"]) for c in cells} == built
    assert {c["question_type"] for c in cells} == {"caption", "visual"}
    assert all(c["accuracy"] == 1.0 for c in cells)
    records = [
        json.loads(line) for line in (tmp_path / "eval" / "samples.jsonl").read_text().splitlines()
    ]
    assert {r["frames"] for r in records if r["run"] == "model"} == {16}
    charts = {(c["run"], c["benchmark"], c["question_type"], c["hops"]) for c in results["niah"]}
    assert len(results["heatmaps"]) == len(charts)
    first = tmp_path / "eval" / results["heatmaps"][0]
    depths = len({c["depth"] for c in cells})
    assert Image.open(first).size[1] == 34 + depths * 30 + 44  # title, a row per depth, axis
    assert results["heatmaps"][0] in (tmp_path / "eval" / "report.md").read_text()
