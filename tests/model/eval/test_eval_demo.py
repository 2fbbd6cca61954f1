"""The evaluator on a real demo build: an oracle scores 100%, a shuffled oracle about
chance, baselines beside the model, reruns skip scored samples, a changed config is
refused, and the Ray backend gives the same records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from longvid.eval.cli import main

pytestmark = pytest.mark.slow


def _config(tmp_path: Path, demo_build: Path, name: str, output: str, **extra) -> Path:
    config = {
        "output_dir": str(tmp_path / output),
        "model": {"name": name, "options": {"frames": 4}},
        "data": {"root": str(demo_build), "splits": ["train", "test"], "workers": 2},
        "baselines": ["random", "majority"],
        **extra,
    }
    path = tmp_path / f"{output}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _records(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]


def _overall(results: dict, run: str, form: str) -> dict:
    return next(r for r in results["overall"] if r["run"] == run and r["form"] == form)


def test_oracle_scores_everything_and_reruns_skip_scored_samples(
    tmp_path: Path, demo_build: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, demo_build, "oracle", "oracle")
    assert main([str(config)]) == 0
    output = tmp_path / "oracle"
    results = json.loads((output / "results.json").read_text())
    model_rows = [row for row in results["metrics"] if row["run"] == "model"]
    assert {row["form"] for row in model_rows} >= {"choice", "span", "open"}
    for row in model_rows:  # every task and form at full marks, nothing unparsed
        primary = {"choice": "accuracy", "span": "miou", "count": "exact", "open": "score"}
        assert row[primary[row["form"]]] == 1.0 and row["unparsed"] == 0, row
    records = _records(output)
    samples = len({r["doc_id"] for r in records})
    assert sorted({r["run"] for r in records}) == ["majority", "model", "random"]
    assert len(records) == 3 * samples
    assert {r["frames"] for r in records if r["run"] == "model"} == {4}  # decoded in workers
    assert all(r["target"] == r["output"] for r in records if r["run"] == "model")
    report = (output / "report.md").read_text()
    assert "| model | majority | random |" in report.replace(" | unparsed (model) |", " |")

    # a killed run leaves a cut line: it is dropped and only what is missing is scored again
    lines = (output / "samples.jsonl").read_text().splitlines()
    (output / "samples.jsonl").write_text("\n".join(lines[:-2]) + "\n" + lines[-2][:25])
    capsys.readouterr()
    assert main([str(config)]) == 0
    printed = capsys.readouterr().out
    assert "majority: 2 samples" in printed and "model:" not in printed.split("wrote")[0]
    assert sorted(r["doc_id"] + r["run"] for r in _records(output)) == sorted(
        r["doc_id"] + r["run"] for r in records
    )

    # same output folder, different model options: refused with the key that changed
    assert main([str(config), "--set", "model.options.frames=8"]) == 2
    assert "model.options.frames changed" in capsys.readouterr().err


def test_shuffled_answers_score_about_chance(tmp_path: Path, demo_build: Path) -> None:
    assert main([str(_config(tmp_path, demo_build, "shuffled", "shuffled"))]) == 0
    results = json.loads((tmp_path / "shuffled" / "results.json").read_text())
    choice = _overall(results, "model", "choice")
    # 4 options, chance 0.25: 7 or more of 12 right by luck: about 1 in 70
    assert choice["n"] >= 12 and choice["accuracy"] < 0.5
    assert _overall(results, "model", "span")["miou"] < 0.5
    random_choice = _overall(results, "random", "choice")
    assert random_choice["accuracy"] < 0.5


def test_ray_backend_matches_local(tmp_path: Path, demo_build: Path) -> None:
    ray_settings = {"num_actors": 2, "chunk_batches": 1}  # the evaluator starts its own Ray
    small = {"baselines": [], "generation": {"batch_size": 1}}  # 4 chunks: 2 per actor
    local = _config(tmp_path, demo_build, "oracle", "local", **small)
    on_ray = _config(
        tmp_path, demo_build, "oracle", "ray", backend="ray", ray=ray_settings, **small
    )
    for config in (local, on_ray):
        assert main([str(config), "--set", "data.limit=4", "--set", "data.workers=0"]) == 0

    def keyed(name: str) -> dict:
        records = _records(tmp_path / name)
        return {(r["run"], r["doc_id"]): (r["output"], r["frames"]) for r in records}

    assert len(keyed("ray")) == 4 and keyed("ray") == keyed("local")
