"""`export --format hf` and `datasets.load_dataset` on a small committed output.

The output is written through `commit_rows` (no pipeline run): three tiny videos, their
videos / clips / qa rows (the last video's qa rows in split val), and a manifest and card as
a run leaves them. `datasets` must read the same rows DuckDB reads, both from OUT's
committed files and from the exported folder's configs and splits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.rows import example_clip, example_video
from support.shards import make_demo_shards

from longvid_pipeline.cli import main
from longvid_pipeline.manifest import write_manifest
from longvid_pipeline.query import run_query
from longvid_pipeline.recipe import DEFAULT_RECIPE, load_recipe
from longvid_pipeline.shards import commit_rows, committed_files

datasets = pytest.importorskip("datasets")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small output: 3 videos (2 s each), 2 clips and 3 qa rows per video, manifest, card."""
    out = tmp_path_factory.mktemp("out")
    qa_rows = make_demo_shards(out, videos=3, seconds=2.0)
    uris = sorted({row["video_uri"]: row["video_id"] for row in qa_rows}.items())
    videos = [
        example_video(uri, 2.0, video_id=video_id, uri=uri, license="cc-by")
        for uri, video_id in uris
    ]
    clips = [example_clip(v["video_id"], i, i * 1.0, i + 1.0) for v in videos for i in (0, 1)]
    commit_rows(out, {"videos": videos, "clips": clips}, input_ids=[v["input_id"] for v in videos])
    write_manifest(out, load_recipe(str(DEFAULT_RECIPE), []), len(videos), {})
    return out


def _load(*args: Any, tmp_path: Path, **kwargs: Any) -> Any:
    return datasets.load_dataset(*args, cache_dir=str(tmp_path / "hf-cache"), **kwargs)


def _count(out: Path, sql: str) -> int:
    return int(next(iter(run_query(out, sql).to_pylist()[0].values())))


def test_committed_files_load_as_parquet_with_duckdbs_row_counts(
    built: Path, tmp_path: Path
) -> None:
    for table, paths in committed_files(built).items():
        files = [str(path) for path in paths]
        rows = _load("parquet", data_files=files, split="train", tmp_path=tmp_path)
        assert rows.num_rows == _count(built, f"select count(*) from {table}") > 0
    qa = _load(str(built), "qa", split="train", tmp_path=tmp_path)  # through OUT's card
    assert sorted(qa["qa_id"]) == sorted(
        r["qa_id"] for r in run_query(built, "select qa_id from qa").to_pylist()
    )


def test_export_writes_configs_per_table_and_task_with_hub_splits(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "hf"
    assert (
        main(["export", str(built), str(dest), "--format", "hf", "--set", "rows_per_file=2"]) == 0
    )
    assert "card: " in capsys.readouterr().out
    caption = _load(str(dest), "qa_caption", tmp_path=tmp_path)
    assert set(caption) == {"train", "validation"}  # split val is the Hub's validation
    for split, name in (("train", "train"), ("val", "validation")):
        expected = run_query(
            built, f"select * from qa where task = 'caption' and split = '{split}' order by qa_id"
        ).to_pylist()
        got = sorted(caption[name].to_list(), key=lambda row: row["qa_id"])
        assert [row["qa_id"] for row in got] == [row["qa_id"] for row in expected]
        assert [row["conversations"] for row in got] == [row["conversations"] for row in expected]
    qa = _load(str(dest), "qa", tmp_path=tmp_path)
    assert {name: qa[name].num_rows for name in qa} == {"train": 6, "validation": 3}
    assert len(list((dest / "data" / "qa").glob("train-*.parquet"))) == 3  # 2 rows per file
    clips = _load(str(dest), "clips", tmp_path=tmp_path)  # no split column: the video's split
    assert {name: clips[name].num_rows for name in clips} == {"train": 4, "validation": 2}
    for uri in qa["train"]["video_uri"]:
        assert (dest / uri).read_bytes() == (built / uri).read_bytes()  # media beside the rows


def test_exported_card_lists_the_exported_files(built: Path, tmp_path: Path) -> None:
    from huggingface_hub import DatasetCard

    dest = tmp_path / "hf"
    assert main(["export", str(built), str(dest), "--format", "hf", "--set", "media=none"]) == 0
    card = DatasetCard.load(dest / "README.md")
    configs = {config["config_name"]: config for config in card.data.configs}
    assert set(configs) == {"videos", "clips", "qa", "qa_caption", "qa_counting", "qa_grounding"}
    assert configs["qa"]["default"] is True
    for name, config in configs.items():
        for files in config["data_files"]:
            assert list(dest.glob(files["path"])), (name, files)
    assert card.data.license == "other"  # cc-by without a version is no Hub licence id
    assert "| cc-by | 3 |" in card.text
    assert f'load_dataset("{dest}", "qa_caption")' in card.text
    assert not (dest / "media").exists()
    for plot in ("durations", "qa_per_task"):
        assert (dest / "card" / f"{plot}.png").stat().st_size > 0


def test_export_option_problems_are_one_config_error(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["export", str(built), str(tmp_path / "x"), "--format", "hf",
                 "--set", "media=nope", "--set", "rows_per_files=3"])  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2 and "2 problems" in error
    assert "export.hf.media" in error and "export.hf.rows_per_files: unknown key" in error
    assert not (tmp_path / "x").exists()
