"""Inputs reach Ray Data from a spool file, one block per input (several lines per read
task), and a run over a manifest still commits each input once, rejects repeated lines
and resumes."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.synthetic import SyntheticConfig, SyntheticStage

from longvid_pipeline import inputs, runner
from longvid_pipeline.feed import LINES_PER_READ, SPOOL_DIR, spool_items, spooled_dataset
from longvid_pipeline.item import ITEM_COLUMN, WorkItem
from longvid_pipeline.query import run_query
from longvid_pipeline.raysession import ray_temp_dir
from longvid_pipeline.recipe import RayConfig, Recipe, ShardsConfig, SourceConfig
from longvid_pipeline.runner import run_recipe
from longvid_pipeline.sources.files import SourceRow
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


def test_the_spool_is_read_several_lines_a_task_into_one_block_per_item(tmp_path: Path) -> None:
    import ray
    import ray.data

    count = 2 * LINES_PER_READ + 3  # three read tasks, the last one short
    items = [
        WorkItem(input_id=f"in-{i}", source={"url": f"https://x.test/{i}"}, source_kind="manifest")
        for i in range(count)
    ]
    block_size = ray.data.DataContext.get_current().target_max_block_size
    ray.init(num_cpus=1, include_dashboard=False, _temp_dir=ray_temp_dir(tmp_path / "ray"))
    try:
        with spool_items(tmp_path, items) as (path, spans):
            dataset = spooled_dataset(path, spans).materialize()
            blocks = [ray.get(ref) for bundle in dataset.iter_internal_ref_bundles()
                      for ref in bundle.block_refs]  # fmt: skip
    finally:
        ray.shutdown()
    assert len(blocks) == count and all(block.num_rows == 1 for block in blocks)
    read = sorted(WorkItem.from_json(block[ITEM_COLUMN][0].as_py()).input_id for block in blocks)
    assert read == sorted(item.input_id for item in items)
    # The one-row blocks belong to the spool's dataset, not to the caller's Ray Data.
    assert ray.data.DataContext.get_current().target_max_block_size == block_size


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
    lines_read_by_then: list[int] = []  # lines of the source read when each execution began
    lines_read = [0]
    execute, read_source = runner._execution, inputs.iter_inputs

    def counted(items: list[WorkItem], *args: Any) -> Iterator[WorkItem]:
        executions.append(len(items))
        lines_read_by_then.append(lines_read[0])
        return execute(items, *args)

    def counted_lines(*args: Any) -> Iterator[SourceRow]:
        for row in read_source(*args):
            lines_read[0] += 1
            yield row

    monkeypatch.setattr(runner, "_execution", counted)
    monkeypatch.setattr(inputs, "iter_inputs", counted_lines)
    first = run_recipe(recipe, progress_every_s=None)
    assert executions == [4, 4, 1]
    # One scan of all 10 lines before any work; then lines are read only as a slice starts
    # (the last slice reads the repeated line too, and hands it straight to the writer).
    assert lines_read_by_then == [10 + 4, 10 + 8, 10 + 10]
    (detail,) = run_query(first.out, "select detail from rejects").column("detail").to_pylist()
    assert detail == f"line 11 repeats the url of line 4: {urls[2]}"
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


def test_a_source_of_rejected_lines_only_is_committed_without_ray(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, ["", ""])  # two empty lines
    result = run_recipe(recipe, progress_every_s=None)
    assert (result.inputs_total, result.inputs_todo) == (2, 2)
    assert [(r["reason"], r["count"]) for r in result.manifest["rejects"]] == [("empty_line", 2)]
    assert not (Path(recipe.out) / ".ray").exists()  # nothing was left to run: no Ray started
