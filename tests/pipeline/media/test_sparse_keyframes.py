"""Every reader of media stays exact when keyframes are far apart (a download kept as it
came, `fetch.max_keyframe_gap_s` above 2 s): the segment stage's one decode pass, the
trainer's frames and the needle renderer's haystack (both through the one timestamp
decoder; the caption stage's model backends read frames the same way)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from longvid.data.frames import decode_frames
from longvid_pipeline.config import build_section
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media.ffmpeg import run_ffmpeg
from longvid_pipeline.media.probe import probe
from longvid_pipeline.niah.render import iter_haystack
from longvid_pipeline.segmenting.config import SegmentConfig
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.segment import SegmentStage

FPS = 25
STAMPS = [0.3, 7.9, 2.0, 11.5, 4.04, 6.0, 0.0, 9.7]  # unordered, across and between keyframes


def two_scenes(path: Path, gop: int) -> Path:
    """12 s at 25 fps: a moving pattern, a hard cut to another at 6.04 s; a keyframe at
    least every `gop` frames (no scene-cut keyframes: the cut lands between keyframes)."""
    run_ffmpeg([
        "-f", "lavfi", "-i", f"testsrc2=size=160x96:rate={FPS}:duration=6.04",
        "-f", "lavfi", "-i", f"testsrc=size=160x96:rate={FPS}:duration=5.96",
        "-filter_complex", "[0]format=yuv420p[a];[1]format=yuv420p[b];"
        "[a][b]concat=n=2:v=1:a=0[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", str(gop), "-keyint_min", str(gop),
        "-sc_threshold", "0", str(path),
    ])  # fmt: skip
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("sparse")
    return {
        "dense": two_scenes(folder / "dense.mp4", 2 * FPS),
        "sparse": two_scenes(folder / "sparse.mp4", 250),  # one keyframe: every seek decodes from 0
    }


def full_decode(path: Path, width: int, height: int) -> tuple[list[float], list[np.ndarray]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        times = [float(frame.time or 0.0) for frame in frames]
        images = [
            f.reformat(width=width, height=height, format="rgb24").to_ndarray() for f in frames
        ]
    return times, images


def expected_at(path: Path, stamps: list[float], width: int, height: int) -> list[np.ndarray]:
    times, images = full_decode(path, width, height)
    return [
        images[next((i for i, t in enumerate(times) if t + 1e-3 >= s), len(times) - 1)]
        for s in stamps
    ]


def test_segment_cuts_the_same_with_one_keyframe(videos: dict[str, Path], tmp_path: Path) -> None:
    config, problems = build_section(SegmentConfig, {}, "segment")
    assert not problems
    spans = {}
    for name, path in videos.items():
        stage = SegmentStage(config, RunContext(out_dir=str(tmp_path / name)))
        video = {"video_id": "v", "duration_s": probe(path).duration_s, "fps": float(FPS)}
        item = stage.run_item(WorkItem("in", {}, "folder", video=video, media_path=str(path)))
        assert item.alive, item.rejects
        spans[name] = [(c["start_s"], c["end_s"]) for c in item.clips]
    assert spans["sparse"] == spans["dense"]
    assert any(abs(start - 6.04) < 0.05 for start, _ in spans["sparse"])


def test_trainer_frames_are_exact(videos: dict[str, Path]) -> None:
    frames = decode_frames(videos["sparse"], STAMPS, 32)
    for frame, expected in zip(frames, expected_at(videos["sparse"], STAMPS, 32, 32), strict=True):
        assert np.array_equal(frame, expected)


def test_needle_haystack_frames_are_exact(videos: dict[str, Path]) -> None:
    path = videos["sparse"]
    row = {
        "width": 64,
        "height": 48,
        "haystack": [
            {"uri": path.name, "timestamps": sorted(STAMPS[:4])},
            {"uri": path.name, "timestamps": sorted(STAMPS[4:])},
        ],
    }
    got = list(iter_haystack(row, path.parent))
    wanted = expected_at(path, sorted(STAMPS[:4]) + sorted(STAMPS[4:]), 64, 48)
    assert len(got) == len(wanted) == len(STAMPS)
    assert all(np.array_equal(a, b) for a, b in zip(got, wanted, strict=True))
