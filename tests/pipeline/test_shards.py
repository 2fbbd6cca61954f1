"""Shard writer: contracts enforced on write, atomic commits, orphans never read as data."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from support.rows import example_clip, example_video

from longvid_pipeline.ids import IdSet, input_id_for
from longvid_pipeline.item import WorkItem
from longvid_pipeline.query import run_query
from longvid_pipeline.shards import ShardWriter, committed_files, read_commits


def clip_row(video_id: str, index: int, start: float = 0.0) -> dict:
    return example_clip(
        video_id,
        index,
        start,
        start + 5.0,
        caption="A red circle bounces.",
        caption_source="annotations",
        caption_model="demo",
    )


def make_item(name: str, clips: int = 2) -> WorkItem:
    url = f"http://x/{name}.mp4"
    item = WorkItem(input_id=input_id_for(url), source={"url": url}, source_kind="manifest")
    item.video = example_video(name, 10.0, input_id=item.input_id, url=url)
    item.clips = [clip_row(item.video["video_id"], i, 5.0 * i) for i in range(clips)]
    return item


def writer(out: Path, rows_per_file: int = 100, per_commit: int = 2) -> ShardWriter:
    return ShardWriter(
        out, rows_per_file=rows_per_file, compression="zstd", videos_per_commit=per_commit
    )


def test_commits_write_zstd_parquet_and_views_read_them(tmp_path: Path) -> None:
    shard_writer = writer(tmp_path, rows_per_file=3)
    shard_writer.add([make_item("a", clips=4), make_item("b", clips=1)])
    shard_writer.close()
    files = committed_files(tmp_path)
    assert len(files["videos"]) == 1
    assert len(files["clips"]) == 2  # 5 clips, 3 rows per file
    assert pq.ParquetFile(files["clips"][0]).metadata.row_group(0).column(0).compression == "ZSTD"
    counts = run_query(tmp_path, "select count(*) as n from clips").to_pylist()
    assert counts == [{"n": 5}]
    assert shard_writer.done_input_ids() == {make_item("a").input_id, make_item("b").input_id}


def test_row_that_breaks_the_contract_becomes_a_reject_not_a_coerced_value(tmp_path: Path) -> None:
    item = make_item("a", clips=2)
    item.clips[1]["start_s"] = "12"  # a string where the contract says DOUBLE
    shard_writer = writer(tmp_path, per_commit=1)
    shard_writer.add([item])
    rejects = run_query(tmp_path, "select stage, level, reason, detail from rejects").to_pylist()
    assert rejects == [
        {
            "stage": "write",
            "level": "clips",
            "reason": "schema",
            "detail": "start_s: expected number, got str",
        }
    ]
    assert run_query(tmp_path, "select count(*) as n from clips").to_pylist() == [{"n": 1}]


def test_bad_video_row_rejects_the_whole_input_and_its_rows(tmp_path: Path) -> None:
    item = make_item("a", clips=2)
    del item.video["sha256"]
    shard_writer = writer(tmp_path, per_commit=1)
    shard_writer.add([item])
    assert run_query(tmp_path, "select count(*) as n from clips").to_pylist() == [{"n": 0}]
    (row,) = run_query(tmp_path, "select level, reason, detail from rejects").to_pylist()
    assert row == {
        "level": "input",
        "reason": "schema",
        "detail": "videos row: sha256: missing required value",
    }


def test_duplicate_video_across_commits_and_runs_is_rejected(tmp_path: Path) -> None:
    first = writer(tmp_path, per_commit=1)
    first.add([make_item("a")])
    again = make_item("a")
    again.input_id = input_id_for("http://mirror/a.mp4")  # same content reached by another URL
    second = writer(tmp_path, per_commit=1)  # a later run reloads the ids already written
    second.add([again])
    assert run_query(tmp_path, "select count(*) as n from videos").to_pylist() == [{"n": 1}]
    reasons = run_query(tmp_path, "select reason from rejects").column("reason").to_pylist()
    assert reasons == ["duplicate_video"]


def test_a_clip_id_written_in_an_earlier_run_is_refused_as_a_duplicate(tmp_path: Path) -> None:
    first = writer(tmp_path, per_commit=1)
    first.add([make_item("a")])
    other = make_item("b")
    other.clips[1] = {**other.clips[1], "clip_id": make_item("a").clips[0]["clip_id"]}
    second = writer(tmp_path, per_commit=1)  # reloads the clip ids into its IdSet
    second.add([other])
    second.close()
    assert run_query(tmp_path, "select count(*) as n from clips").to_pylist() == [{"n": 3}]
    rejects = run_query(tmp_path, "select reason, level from rejects").to_pylist()
    assert rejects == [{"reason": "duplicate_id", "level": "clips"}]


def test_id_set_agrees_with_a_set_across_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IdSet, "MERGE_AT", 7)  # make sorted runs and merge them often
    ids = [f"q-{i:016x}" for i in range(0, 300, 3)]
    seen = IdSet(ids[:50])
    assert all(seen.add(one) for one in ids[50:])
    assert not any(seen.add(one) for one in ids[::7])  # already there: refused, not counted
    assert len(seen) == len(ids)
    assert all(one in seen for one in ids)
    assert not any(f"q-{i:016x}" in seen for i in range(1, 300, 3))
    assert 42 not in seen


def test_id_set_runs_stay_few_and_sorted(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs merge like a binary counter: 100 ids at 7 per run are 14 runs' worth, held
    in as many runs as 14 has one bits (3), each sorted and none longer than the one
    before it: so each id is copied a logarithmic number of times, not once per merge."""
    monkeypatch.setattr(IdSet, "MERGE_AT", 7)
    seen = IdSet(f"q-{i}" for i in range(100))
    runs = seen._runs
    assert [len(run) for run in runs] == [56, 28, 14]
    assert len(seen._recent) == 2
    assert all((run[1:] > run[:-1]).all() for run in runs)


def test_orphans_of_a_killed_run_are_never_read_and_are_removed(tmp_path: Path) -> None:
    shard_writer = writer(tmp_path, per_commit=1)
    shard_writer.add([make_item("a")])
    committed = committed_files(tmp_path)["clips"][0]
    orphan = tmp_path / "clips" / "part-999999-dead-0000.parquet"  # written, never committed
    orphan.write_bytes(committed.read_bytes())
    (tmp_path / "clips" / ".part-x.parquet.tmp").write_bytes(b"half")
    assert run_query(tmp_path, "select count(*) as n from clips").to_pylist() == [{"n": 2}]
    reopened = writer(tmp_path)
    assert reopened.removed_orphans == 2
    assert not orphan.exists()
    assert committed.exists()


def test_commit_records_accounts_and_rows(tmp_path: Path) -> None:
    item = make_item("a")
    account = item.account("fetch")
    account.inputs, account.passed, account.wall_s = 1, 1, 0.5
    shard_writer = writer(tmp_path, per_commit=1)
    shard_writer.add([item])
    (record,) = read_commits(tmp_path)
    assert record["rows"] == {"videos": 1, "clips": 2}
    assert record["accounts"]["fetch"]["passed"] == 1
    assert json.loads((tmp_path / "_commits" / f"{record['commit']}.json").read_text()) == record


@pytest.mark.parametrize("table", ["videos", "clips", "qa", "rejects"])
def test_empty_tables_still_answer_queries(tmp_path: Path, table: str) -> None:
    writer(tmp_path)
    assert run_query(tmp_path, f"select count(*) as n from {table}").to_pylist() == [{"n": 0}]
