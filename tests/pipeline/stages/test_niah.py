"""Niah stage: sample inputs become rows that fit the contract and pass the suite; what
cannot be built is a reject with a reason; user image manifests are checked like videos;
recipes of a benchmark build are validated before any work."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from PIL import Image
from support.niah import make_haystack_output, small_config

from longvid_pipeline.config import ConfigError
from longvid_pipeline.demo.server import serve_folder
from longvid_pipeline.item import WorkItem
from longvid_pipeline.niah.grid import sample_items
from longvid_pipeline.niah.images import load_user_images
from longvid_pipeline.recipe import RECIPE_DIR, load_recipe
from longvid_pipeline.schemas import conform_rows
from longvid_pipeline.shards import ShardWriter, read_commits
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.niah import NiahStage
from longvid_pipeline.stages.validate import ValidateConfig, ValidateStage

IN_SET = "expect_column_values_to_be_in_set"


@pytest.fixture(scope="module")
def haystack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("haystack")
    make_haystack_output(out)
    return out


def built(out: Path, haystack: Path, **config: object) -> list[WorkItem]:
    niah = small_config(**config)
    stage = NiahStage(niah, RunContext(out_dir=str(out)))
    return [stage.run_item(item) for item in sample_items(haystack, niah, 0)]


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> ValidateStage:
    return ValidateStage(ValidateConfig(), RunContext(out_dir=str(tmp_path_factory.mktemp("v"))))


def test_rows_fit_the_contract_pass_the_suite_and_survive_json(
    haystack: Path, tmp_path: Path, validator: ValidateStage
) -> None:
    items = built(tmp_path, haystack, multi_hop={"lengths": [24]}, single_hop={"lengths": [20]})
    assert all(item.alive and len(item.niah) == 1 for item in items)
    rows = [item.niah[0] for item in items]
    assert conform_rows("niah", rows)[1] == []
    again = [WorkItem.from_json(item.to_json()) for item in items]  # PNG bytes travel as JSON
    assert [item.niah for item in again] == [item.niah for item in items]
    checked = [validator.run_item(item) for item in again]
    assert all(item.alive and not item.rejects for item in checked)
    counts = checked[0].validation["niah"]
    assert counts[f"{IN_SET}(_clues_lead_to_final)"] == {"evaluated": 1, "failed": 0}


def test_a_broken_sample_is_rejected_by_the_suite_as_its_input(
    haystack: Path, tmp_path: Path, validator: ValidateStage
) -> None:
    item = built(tmp_path, haystack, multi_hop={"lengths": [24], "depths": [0]})[0]
    row = item.niah[0]
    answer, detour = row["answer_chain"], row["distractor_chain"]
    row["needles"][answer[0]]["clue_text"] = row["needles"][detour[0]]["clue_text"]
    item = validator.run_item(item)
    assert not item.alive and item.rejects[-1]["level"] == "input"
    assert item.rejects[-1]["detail"] == f"failed: {IN_SET}(_clues_lead_to_final)"


def test_samples_that_cannot_be_built_are_rejects_with_a_reason(
    haystack: Path, tmp_path: Path
) -> None:
    short = built(
        tmp_path,
        haystack,
        multi_hop={"samples_per_cell": 0},
        single_hop={"lengths": [20, 5000], "depths": [0], "samples_per_cell": 1},
        frames={"allow_repeat": False},
    )
    assert [item.alive for item in short] == [True, False]
    assert short[1].rejects[0]["reason"] == "haystack_too_short"
    assert short[1].accounts["niah"].rejected == 1
    long_clue = built(
        tmp_path,
        haystack,
        multi_hop={"lengths": [24], "depths": [0]},
        single_hop={"samples_per_cell": 0},
        clues={"font_size": 40, "max_lines": 1},
    )
    assert {item.rejects[0]["reason"] for item in long_clue} == {"clue_too_long"}
    changed = sample_items(haystack, small_config(), 0)[0]
    changed.source["pool_digest"] = "other"
    stage = NiahStage(small_config(), RunContext(out_dir=str(tmp_path)))
    assert stage.run_item(changed).rejects[0]["reason"] == "haystack_changed"


def _image(path: Path, colour: tuple[int, int, int]) -> str:
    Image.new("RGB", (120, 90), colour).save(path)
    return str(path)


def test_user_images_are_checked_like_videos_and_rejected_once(
    haystack: Path, tmp_path: Path
) -> None:
    rows = [
        {
            "url": _image(tmp_path / f"{n}.png", (40 * n, 200 - 30 * n, 90)),
            "caption": f"a plain swatch number {n}",
            "question": "What is drawn?",
            "options": ["a swatch", "a cat", "a car", "a tree"],
            "answer": "A",
        }
        for n in range(6)
    ]
    (tmp_path / "broken.png").write_bytes(b"not an image")
    rows += [
        {**rows[0], "url": str(tmp_path / "broken.png"), "caption": "broken"},
        {**rows[1], "caption": rows[0]["caption"]},  # the same caption twice
        {**rows[2], "caption": "three options", "options": "a|b|c"},
        {**rows[3], "caption": "missing file", "url": str(tmp_path / "nope.png")},
    ]
    manifest = tmp_path / "needles.jsonl"
    with serve_folder(tmp_path) as base_url:  # one image over HTTP: fetched, cached, checked
        rows[5]["url"] = f"{base_url}5.png"
        manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
        needles = {"kind": "manifest", "manifest": str(manifest), "allow_loopback": True}
        items = built(
            tmp_path,
            haystack,
            multi_hop={"lengths": [24], "depths": [0, 100], "hops": [1], "distractor_needles": 2},
            single_hop={"samples_per_cell": 0},
            needles=needles,
        )
        guarded = small_config(needles={**needles, "allow_loopback": False}).needles
        _, refused = load_user_images(guarded, tmp_path / "cache")
    assert [r.reason for r in refused if r.row["url"] == rows[5]["url"]] == ["loopback_address"]
    assert list((tmp_path / ".niah_images").glob("*.img"))  # the download is cached under OUT
    assert all(item.alive for item in items)
    for item in items:
        row = item.niah[0]
        final = row["needles"][row["answer_chain"][-1]]
        visual = next(q for q in row["questions"] if q["kind"] == "visual")
        assert visual["answer"] == "a swatch" and visual["attribute"] == "manifest"
        assert final["image_source"] in {r["url"] for r in rows[:6]}
    writer = ShardWriter(tmp_path / "bench", 100, "zstd", videos_per_commit=2)
    writer.add(copy.deepcopy(items))
    writer.close()
    rejects = [r for c in read_commits(tmp_path / "bench") for r in [c["rows"].get("rejects", 0)]]
    assert sum(rejects) == 4  # one row per bad manifest row, however many samples ran
    reasons = sorted(r["reason"] for r in items[0].rejects)
    assert reasons == ["bad_options", "duplicate_caption", "file_not_found", "not_an_image"]


def test_writer_keeps_samples_and_rejects_a_sample_without_its_row(
    haystack: Path, tmp_path: Path
) -> None:
    items = built(tmp_path, haystack, multi_hop={"lengths": [24], "depths": [0]})
    items[1].niah[0]["length"] = "long"  # does not fit the contract
    writer = ShardWriter(tmp_path / "bench", 100, "zstd", videos_per_commit=10)
    writer.add(items[:3])
    writer.close()
    (commit,) = read_commits(tmp_path / "bench")
    assert commit["rows"] == {"niah": 2, "rejects": 2}
    assert (
        commit["accounts"]["write"]["passed"] == 2 and commit["accounts"]["write"]["rejected"] == 1
    )
    assert [r["reason"] for r in items[1].rejects] == ["schema", "no_sample"]


def test_benchmark_recipes_are_checked_before_any_work(tmp_path: Path) -> None:
    recipe = load_recipe(RECIPE_DIR / "mh_niah.yaml")
    assert [spec.name for spec in recipe.stages] == ["niah", "validate"]
    assert recipe.source.kind == "output" and recipe.source.path == "out/demo"
    with pytest.raises(ConfigError) as caught:
        load_recipe(
            RECIPE_DIR / "mh_niah.yaml",
            [
                "stages.fetch={}",
                "stages.niah.multi_hop.hops=[0, 1]",
                "stages.niah.frames.width=641",
            ],
        )
    keys = {problem.key for problem in caught.value.problems}
    assert {"stages.fetch", "stages.niah.multi_hop.hops", "stages.niah.frames"} <= keys
    with pytest.raises(ConfigError) as caught:
        load_recipe(RECIPE_DIR / "demo.yaml", ["stages.niah={}"])
    assert "stages.niah" in {problem.key for problem in caught.value.problems}
    with pytest.raises(ConfigError) as caught:  # lengths too short for 7 needles at any depth
        load_recipe(RECIPE_DIR / "mh_niah.yaml", ["stages.niah.multi_hop.lengths=[10]"])
    assert "cannot place 7 needles" in str(caught.value)
