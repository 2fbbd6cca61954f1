"""`longvid-pipeline export OUT DEST --format llava`: files LLaVA-NeXT-style trainers read,
loaded back and checked against the committed shards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.rows import example_clip, example_video
from support.sidecars import demo_sidecar

from longvid_pipeline.api import read_rows
from longvid_pipeline.cli import main
from longvid_pipeline.config import build_section
from longvid_pipeline.item import WorkItem
from longvid_pipeline.qa.config import QAConfig
from longvid_pipeline.shards import commit_rows
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.caption import CaptionConfig, CaptionStage
from longvid_pipeline.stages.qa import QAStage

EVENTS = [
    (0, 0, 1.0, 9.0, "circle", "red", "bounces"),
    (1, 1, 10.0, 19.0, "square", "blue", "spins"),
    (2, 2, 20.0, 24.0, "triangle", "green", "grows"),
    (3, 2, 25.0, 29.0, "star", "yellow", "blinks"),
]


def built(out: Path) -> list[dict[str, Any]]:
    """Two videos' QA rows committed under `out` (split val and train), media files present."""
    scenes = [(0.0, 10.0, "teal"), (10.0, 20.0, "gray"), (20.0, 30.0, "brown")]
    videos, qa = [], []
    for name, split in (("a", "val"), ("b", "train")):
        video = example_video(f"export:{name}", 30.0)
        (out / video["uri"]).parent.mkdir(parents=True, exist_ok=True)
        (out / video["uri"]).write_bytes(b"not really a video")
        item = WorkItem(input_id=video["input_id"], source={}, source_kind="demo", split=split)
        item.video, item.annotations = video, demo_sidecar(EVENTS, scenes)
        item.clips = [
            example_clip(video["video_id"], i, s, e) for i, (s, e, _) in enumerate(scenes)
        ]
        config, _ = build_section(CaptionConfig, {}, "c")
        item = CaptionStage(config, RunContext(out_dir=str(out))).run_item(item)
        config, _ = build_section(QAConfig, {"quota": {"min_per_task": 6}}, "q")
        item = QAStage(config, RunContext(out_dir=str(out))).run_item(item)
        videos.append({**video, "split": split})
        qa += item.qa
    commit_rows(out, {"videos": videos, "qa": qa}, [v["input_id"] for v in videos])
    return read_rows(out, "qa")


def load(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    return (
        [json.loads(line) for line in text.splitlines()]
        if path.suffix == ".jsonl"
        else json.loads(text)
    )


@pytest.mark.parametrize("file_format", ["json", "jsonl"])
def test_export_loads_back_and_matches_the_shards(tmp_path: Path, file_format: str) -> None:
    out, dest = tmp_path / "out", tmp_path / "llava"
    rows = {row["qa_id"]: row for row in built(out)}
    assert (
        main(
            [
                "export",
                str(out),
                str(dest),
                "--format",
                "llava",
                "--set",
                f"file_format={file_format}",
            ]
        )
        == 0
    )
    seen = set()
    for split in ("train", "val"):
        data_list = yaml.safe_load((dest / f"{split}.yaml").read_text())["datasets"]
        assert {Path(d["json_path"]).stem for d in data_list} == {
            r["task"] for r in rows.values() if r["split"] == split
        }
        for dataset in data_list:  # what VideoChat-Flash's LazySupervisedDataset reads
            assert dataset["sampling_strategy"] == "all" and Path(dataset["json_path"]).is_file()
            for record in load(Path(dataset["json_path"])):
                row = rows[record["id"]]
                seen.add(record["id"])
                assert (Path(dataset["data_root"]) / record["video"]).is_file()
                assert record["video"] == row["video_uri"] and row["split"] == split
                assert Path(dataset["json_path"]).stem == row["task"]
                human, gpt = record["conversations"]
                assert human["from"] == "human" and gpt == row["conversations"][1]
                question = row["conversations"][0]["value"].removeprefix("<video>\n")
                assert human["value"] == f"<image>\n{row['timestamp_prompt']}\n{question}"
                assert human["value"].count(row["timestamp_prompt"]) == 1
                assert human["value"].count("<image>") == 1 and "<video>" not in human["value"]
                assert "start" not in record
    assert seen == set(rows)


def test_export_options_prompt_none_clip_samples_and_filters(tmp_path: Path) -> None:
    out, dest = tmp_path / "out", tmp_path / "llava"
    rows = {row["qa_id"]: row for row in built(out)}
    options = ["timestamp_prompt=none", "clip_samples=true", "splits=[val]", "tasks=[caption]"]
    args = ["export", str(out), str(dest), "--format", "llava"]
    assert main(args + [x for option in options for x in ("--set", option)]) == 0
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*.*")) == [
        "val.yaml",
        "val/caption.json",
    ]
    records = load(dest / "val" / "caption.json")
    clips = [r for r in records if "start" in r]
    assert clips and len(records) == sum(
        1 for r in rows.values() if r["split"] == "val" and r["task"] == "caption"
    )
    for record in records:
        row = rows[record["id"]]
        assert row["timestamp_prompt"] not in record["conversations"][0]["value"]
        if "start" in record:
            assert row["question_type"] == "caption/clip" and row["options"] is None
            assert (record["start"], record["end"]) == (
                row["evidence_start_s"],
                row["evidence_end_s"],
            )


def test_bad_export_options_exit_2_with_every_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["export", str(tmp_path), str(tmp_path / "x"), "--format", "llava"]
    assert main(args + ["--set", "colour=red", "--set", "timestamp_prompt=twice"]) == 2
    err = capsys.readouterr().err
    assert "export.llava.colour" in err and "export.llava.timestamp_prompt" in err
