"""Inputs reach Ray Data from a spool file, one read task per input, and a run over a
manifest still commits each input once, rejects repeated lines and resumes."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.synthetic import SyntheticConfig, SyntheticStage

from longvid_pipeline import runner
from longvid_pipeline.feed import SPOOL_DIR, spool_items
from longvid_pipeline.item import WorkItem
from longvid_pipeline.recipe import RayConfig, Recipe, ShardsConfig, SourceConfig
from longvid_pipeline.runner import run_recipe
from longvid_pipeline.stage import Resources, StageSpec


def test_spool_spans_hold_each_item_and_the_file_goes_with_the_pass(tmp_path: Path) -> None:
    items = [
        WorkItem(input_id=f"in-{i}", source={"url": f"https://x.test/{i}"}, source_kind="manifest")
        for i in range(5)
    ]
    with spool_items(tmp_path, items) as (path, spans):
        data = path.read_bytes()
        assert [WorkItem.from_json(data[o : o + n].decode()).input_id for o, n in spans] == [
            f"in-{i}" for i in range(5)
        ]
    assert not list((tmp_path / SPOOL_DIR).iterdir())


def _recipe(tmp_path: Path, urls: list[str], per_execution: int = 10000) -> Recipe:
    manifest = tmp_path / "inputs.csv"
    with manifest.open("w", newline="") as handle:
        csv.writer(handle).writerows([["url"], *([url] for url in urls)])
    stage = StageSpec(
        name="synthetic", implementation=SyntheticStage, config=SyntheticConfig(qa=3, clips=2),
        resources=Resources(num_cpus=1, concurrency=1),
    )  # fmt: skip
    return Recipe(
        name="feed", out=str(tmp_path / "out"), seed=0,
        ray=RayConfig(num_cpus=1, inputs_per_execution=per_execution),
        source=SourceConfig(kind="manifest", path=str(manifest)),
        shards=ShardsConfig(videos_per_commit=4), stages=[stage], raw={}, path="test",
    )  # fmt: skip


@pytest.mark.slow
def test_a_manifest_streams_through_ray_commits_once_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = [f"https://synthetic.test/{i}" for i in range(9)]
    # The last line repeats the third; 4 inputs per Ray Data execution: 3 executions.
    recipe = _recipe(tmp_path, [*urls, urls[2]], per_execution=4)
    executions: list[int] = []
    execute = runner._execution

    def counted(items: list[WorkItem], *args: Any) -> Iterator[WorkItem]:
        executions.append(len(items))
        return execute(items, *args)

    monkeypatch.setattr(runner, "_execution", counted)
    first = run_recipe(recipe, progress_every_s=None)
    assert executions == [4, 4, 1]
    counts = first.manifest["counts"]["tables"]
    assert (counts["videos"], counts["clips"], counts["qa"]) == (9, 18, 27)
    assert [(r["reason"], r["count"]) for r in first.manifest["rejects"]] == [
        ("duplicate_input", 1)
    ]
    assert not list((first.out / SPOOL_DIR).glob("feed-*"))
    again = run_recipe(recipe, progress_every_s=None)
    assert again.inputs_todo == 0
    commits = [json.loads(p.read_text()) for p in (first.out / "_commits").glob("*.json")]
    assert len(commits) >= 3  # 9 videos, 4 per commit: committed as they finished
