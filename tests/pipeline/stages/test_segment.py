"""The segment stage end to end on real small videos: rows, rejects, robustness."""

from __future__ import annotations

import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from longvid_pipeline.config import build_section
from longvid_pipeline.demo.world import render_video
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media.ffmpeg import run_ffmpeg
from longvid_pipeline.media.probe import probe
from longvid_pipeline.schemas import conform_rows
from longvid_pipeline.segmenting.sampling import SamplingConfig, plan_for
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.segment import SegmentConfig, SegmentStage


def _scenes_video(
    path: Path,
    scenes: list[tuple[str, float, float]],
    size: str = "320x180",
    extra: tuple[str, ...] = (),
) -> Path:
    """Hard cuts between lavfi sources: (source, seconds, fps) per scene, H.264, GOP 2 s."""
    inputs: list[str] = []
    for source, seconds, fps in scenes:
        joiner = ":" if "=" in source else "="
        inputs += ["-f", "lavfi", "-i", f"{source}{joiner}s={size}:r={fps}:d={seconds}"]
    chain = "".join(f"[{i}]" for i in range(len(scenes)))
    run_ffmpeg([
        *inputs, "-filter_complex", f"{chain}concat=n={len(scenes)}:v=1:a=0,format=yuv420p[v]",
        "-map", "[v]", *extra, "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", str(path),
    ])  # fmt: skip
    return path


def _item(
    path: Path, *, duration_s: float | None = None, annotations: dict[str, Any] | None = None
) -> WorkItem:
    info = probe(path)
    video = {"video_id": "v-test", "duration_s": duration_s or info.duration_s, "fps": info.fps}
    return WorkItem(
        input_id="in-test", source={"url": str(path)}, source_kind="folder",
        video=video, media_path=str(path), annotations=annotations,
    )  # fmt: skip


def _run(item: WorkItem, tmp_path: Path, **sections: dict[str, Any]) -> WorkItem:
    """Run the stage with `stages.segment` given as recipe data, e.g. detector={"name": ...}."""
    config, problems = build_section(SegmentConfig, sections, "stages.segment")
    assert problems == []
    return SegmentStage(config, RunContext(out_dir=str(tmp_path))).run_item(item)


def _starts(item: WorkItem) -> list[float]:
    return sorted(
        c for clip in item.clips for c in [clip["start_s"], *clip["shot_boundaries_s"]] if c > 0
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("demo")
    sidecar = render_video(
        folder / "d.mp4", folder / "d.json", duration_s=30.0, seed=5, width=320, height=180, fps=30,
        min_scene_s=2.0, max_scene_s=8.0,
    )  # fmt: skip
    return folder / "d.mp4", sidecar


@pytest.mark.parametrize("detector", ["content", "annotations"])
def test_demo_video_becomes_contract_clips_at_the_true_cuts(
    demo, tmp_path: Path, detector: str
) -> None:
    path, sidecar = demo
    item = _run(_item(path, annotations=sidecar), tmp_path, detector={"name": detector})
    assert item.alive and item.rejects == []
    table, problems = conform_rows("clips", item.clips)
    assert problems == [] and table.num_rows == len(item.clips) >= 3
    clips = item.clips
    assert clips[0]["start_s"] == 0.0 and clips[-1]["end_s"] == pytest.approx(30.0, abs=0.04)
    assert all(a["end_s"] == b["start_s"] for a, b in zip(clips, clips[1:], strict=False))
    assert [c["clip_index"] for c in clips] == list(range(len(clips)))
    assert len({c["clip_id"] for c in clips}) == len(clips) and clips[0]["clip_id"].startswith("c-")
    assert _starts(item) == pytest.approx(sidecar["cuts_s"], abs=0.02)
    assert {c["detector"] for c in clips} == {detector}
    assert all(
        0.0 <= c[k] <= 1.0 for c in clips for k in ("black_score", "static_score", "quality_score")
    )
    assert clips[0]["start_frame"] == 0 and clips[-1]["end_frame"] == 900


def test_sampling_plan_is_stored_on_the_video(demo, tmp_path: Path) -> None:
    path, _ = demo
    sampling = SamplingConfig(fps=2.0, min_frames=8, max_frames=32, multiple=4)
    item = _run(_item(path), tmp_path, detector={"name": "fixed"}, sampling=asdict(sampling))
    assert item.video is not None
    assert item.video["sample_frames"] == 32 and item.video["sample_fps"] == 2.0
    expected = plan_for(item.video["duration_s"], sampling)
    assert item.video["sample_timestamps"] == expected.timestamps
    assert item.video["timestamp_prompt"].startswith(
        "The video lasts for 30.00 seconds, and 32 frames"
    )
    assert [c["start_s"] for c in item.clips] == pytest.approx([0.0, 10.0, 20.0])


def test_corrupt_middle_gives_clips_around_a_corrupt_span_reject(tmp_path: Path) -> None:
    path = _scenes_video(
        tmp_path / "v.mp4", [("testsrc2", 6, 25), ("smptebars", 6, 25), ("testsrc", 6, 25)]
    )
    data = bytearray(path.read_bytes())
    rng = random.Random(1)
    middle = len(data) // 2
    for offset in range(middle, middle + len(data) // 12):
        data[offset] = rng.randrange(256)
    path.write_bytes(bytes(data))
    item = _run(_item(path), tmp_path)
    assert item.alive and item.clips
    (hole,) = [r for r in item.rejects if r["reason"] == "corrupt_span"]
    assert hole["level"] == "clips" and hole["stage"] == "segment"
    assert "packets failed to decode" in hole["detail"]
    covered = sum(c["end_s"] - c["start_s"] for c in item.clips)
    span = json.loads(hole["row_json"])
    assert covered + span["end_s"] - span["start_s"] == pytest.approx(18.0, abs=0.1)
    assert all(c["end_s"] <= span["start_s"] or c["start_s"] >= span["end_s"] for c in item.clips)


def test_a_file_without_frames_is_rejected_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "garbage.mp4"
    path.write_bytes(b"\x00not a video" * 500)
    item = WorkItem(
        input_id="in-x", source={"url": "x"}, source_kind="folder", media_path=str(path),
        video={"video_id": "v-x", "duration_s": 3.0, "fps": 25.0},
    )  # fmt: skip
    item = _run(item, tmp_path)
    assert item.failed_stage == "segment"
    assert item.rejects[0]["reason"] == "no_frames" and item.rejects[0]["level"] == "input"


def test_a_video_shorter_than_one_clip_is_one_clip(tmp_path: Path) -> None:
    path = _scenes_video(tmp_path / "s.mp4", [("testsrc2", 0.6, 25), ("smptebars", 0.6, 25)])
    item = _run(_item(path), tmp_path)
    assert [(c["start_s"], c["end_s"]) for c in item.clips] == [(0.0, pytest.approx(1.2, abs=0.04))]
    assert item.clips[0]["shot_boundaries_s"] == [pytest.approx(0.6, abs=0.04)]


@pytest.mark.parametrize(
    ("case", "scenes", "size", "extra"),
    [
        (
            "variable frame rate",
            [("testsrc2", 3, 30), ("smptebars", 3, 12)],
            "320x180",
            ("-fps_mode", "vfr"),
        ),
        ("odd size", [("testsrc2", 3, 25), ("smptebars", 3, 25)], "202x362", ()),
        (
            "rotation metadata",
            [("testsrc2", 3, 25), ("smptebars", 3, 25)],
            "320x180",
            ("-metadata:s:v", "rotate=90"),
        ),
    ],
)
def test_robust_inputs_find_the_cut(tmp_path: Path, case: str, scenes, size: str, extra) -> None:
    path = _scenes_video(tmp_path / "r.mp4", scenes, size=size, extra=extra)
    item = _run(_item(path), tmp_path, assembly={"min_clip_s": 1.0})
    assert item.alive, item.rejects
    assert [c["start_s"] for c in item.clips] == [0.0, pytest.approx(3.0, abs=0.05)], case
    assert item.clips[-1]["end_s"] == pytest.approx(6.0, abs=0.1)
    assert conform_rows("clips", item.clips)[1] == []


def test_an_audio_only_tail_is_a_no_video_reject(tmp_path: Path) -> None:
    path = tmp_path / "tail.mp4"
    run_ffmpeg([
        "-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=4", "-f", "lavfi", "-i", "sine=d=7",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(path),
    ])  # fmt: skip
    item = _run(_item(path, duration_s=7.0), tmp_path)
    assert item.clips[-1]["end_s"] == pytest.approx(4.0, abs=0.05)
    (tail,) = item.rejects
    assert tail["reason"] == "no_video_span" and "[4.000, 7.000)" in tail["detail"]


def test_drop_mode_rejects_black_clips_with_their_score(tmp_path: Path) -> None:
    path = _scenes_video(
        tmp_path / "b.mp4", [("testsrc2", 4, 25), ("color=c=black", 4, 25), ("smptebars", 4, 25)]
    )
    kept = _run(_item(path), tmp_path)
    assert [round(c["black_score"], 2) for c in kept.clips] == [0.0, 1.0, 0.0]
    dropped = _run(_item(path), tmp_path, filters={"mode": "drop", "max_black_score": 0.5})
    assert [c["start_s"] for c in dropped.clips] == [0.0, pytest.approx(8.0, abs=0.05)]
    (reject,) = dropped.rejects
    assert (
        reject["reason"] == "black"
        and "black_score=1.000 > max_black_score=0.5" in reject["detail"]
    )
    assert reject["level"] == "clips" and '"clip_index": 1' in reject["row_json"]


def test_clip_files_are_written_when_asked(tmp_path: Path) -> None:
    scenes = [("testsrc2", 3.4, 25), ("smptebars", 3, 25)]
    path = _scenes_video(tmp_path / "c.mp4", scenes, extra=("-sc_threshold", "0"))
    item = _run(_item(path), tmp_path, clip_files={"write": True})
    assert [c["clip_cut"] for c in item.clips] == [
        "copy",
        "reencode",
    ]  # keyframes every 2 s: 3.4 s is none
    for clip in item.clips:
        assert probe(tmp_path / clip["clip_uri"]).duration_s == pytest.approx(
            clip["end_s"] - clip["start_s"], abs=0.05
        )
