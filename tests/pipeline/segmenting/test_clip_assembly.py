"""Clip assembly: spans within bounds that tile the video, filter scores, clip files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from longvid_pipeline.media.ffmpeg import run_ffmpeg
from longvid_pipeline.segmenting.assembly import (
    AssemblySettings,
    ClipSpan,
    assemble_spans,
    merge_short,
    merge_similar,
    split_long,
)
from longvid_pipeline.segmenting.clip_files import cut_clip_file, starts_on_keyframe
from longvid_pipeline.segmenting.filters import ScoreSettings, clip_scores
from longvid_pipeline.segmenting.frame_stats import FrameStats

FRAMES = np.round(np.arange(0, 100, 1 / 25), 6)


def _edges(spans: list[ClipSpan]) -> list[tuple[float, float]]:
    return [(round(s.start_s, 3), round(s.end_s, 3)) for s in spans]


def _assert_tiles(spans: list[ClipSpan], start_s: float, end_s: float) -> None:
    assert spans[0].start_s == start_s and spans[-1].end_s == end_s
    assert all(a.end_s == b.start_s for a, b in zip(spans, spans[1:], strict=False))


def test_short_shots_merge_into_the_shorter_neighbour() -> None:
    spans = [ClipSpan(0, 5), ClipSpan(5, 5.5), ClipSpan(5.5, 8), ClipSpan(8, 20)]
    merged = merge_short(spans, min_clip_s=2.0)
    assert _edges(merged) == [(0, 5), (5, 8), (8, 20)]
    assert merged[1].shot_boundaries_s == [5.5]


def test_a_video_shorter_than_one_clip_stays_one_span() -> None:
    spans = [ClipSpan(0, 0.4), ClipSpan(0.4, 1.2)]
    assert _edges(merge_short(spans, min_clip_s=2.0)) == [(0, 1.2)]


def test_long_spans_split_evenly_on_frame_starts() -> None:
    parts = split_long([ClipSpan(0, 50.02, [12.0, 40.0])], max_clip_s=20.0, frame_times=FRAMES)
    assert _edges(parts) == [(0, 16.68), (16.68, 33.36), (33.36, 50.02)]
    assert [p.shot_boundaries_s for p in parts] == [[12.0], [], [40.0]]


def test_similar_neighbours_merge_within_max_length() -> None:
    spans = [ClipSpan(0, 4), ClipSpan(4, 8), ClipSpan(8, 12)]
    alike = {(0, 4): 0.95, (4, 8): 0.2}  # keyed by the right span's start / left start
    merged = merge_similar(
        spans, lambda a, b: alike.get((a.start_s, b.start_s)), threshold=0.9, max_clip_s=10
    )
    assert _edges(merged) == [(0, 8), (8, 12)]
    assert merge_similar(spans, lambda a, b: 1.0, threshold=0.9, max_clip_s=10)[0].end_s == 8


@pytest.mark.parametrize(
    ("cuts", "end_s"),
    [
        ([], 100.0),
        ([0.4, 1.0, 30.0, 31.0, 31.5, 77.0], 99.96),
        ([5.0 * k for k in range(1, 20)], 100.0),
    ],
)
def test_assembled_spans_tile_the_stretch_within_bounds(cuts: list[float], end_s: float) -> None:
    settings = AssemblySettings(
        min_clip_s=2.0, max_clip_s=12.0, merge_similar=False, similarity_threshold=0.9
    )
    spans = assemble_spans(0.0, end_s, cuts, settings, FRAMES)
    _assert_tiles(spans, 0.0, end_s)
    assert all(2.0 <= s.duration_s <= 12.0 + 1 / 25 for s in spans), _edges(spans)
    inner = sorted(c for s in spans for c in [s.start_s, *s.shot_boundaries_s] if c > 0)
    assert set(cuts) <= set(inner)  # every cut survives, as a clip start or an inner boundary


def _stats(frames: list[np.ndarray]) -> FrameStats:
    stats = FrameStats()
    for index, frame in enumerate(frames):
        stats.add(index * 0.5, frame)
    return stats


SCORING = ScoreSettings(
    black_luma=24.0,
    black_pixel_share=0.98,
    blank_std=4.0,
    static_motion_scale=6.0,
    quality_half_sharpness=50.0,
)


def test_scores_of_black_static_and_busy_spans() -> None:
    rng = np.random.default_rng(0)
    black = [np.full((90, 160, 3), 5, np.uint8)] * 4
    still = [rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)] * 4
    busy = [rng.integers(0, 255, (90, 160, 3), dtype=np.uint8) for _ in range(4)]
    stats = _stats(black + still + busy)
    black_scores = clip_scores(stats, ClipSpan(0.0, 2.0), SCORING)
    still_scores = clip_scores(stats, ClipSpan(2.0, 4.0), SCORING)
    busy_scores = clip_scores(stats, ClipSpan(4.0, 6.0), SCORING)
    assert black_scores["black_score"] == 1.0 and black_scores["quality_score"] == 0.0
    assert (still_scores["black_score"], still_scores["static_score"]) == (0.0, 1.0)
    assert still_scores["quality_score"] > 0.99  # noise is as sharp as it gets
    assert busy_scores["static_score"] == 0.0
    assert all(isinstance(v, float) for v in busy_scores.values())


def test_a_bright_object_on_black_is_not_a_black_frame() -> None:
    frame = np.full((90, 160, 3), 5, np.uint8)
    frame[30:60, 60:100] = 200
    assert clip_scores(_stats([frame] * 2), ClipSpan(0.0, 1.0), SCORING)["black_score"] == 0.0


def _two_scene_video(path: Path) -> None:
    """5 s at 25 fps, keyframes every 2 s: red for frames 0-62, blue from frame 63 on."""
    run_ffmpeg([
        "-f", "lavfi", "-i", "color=c=red:s=160x96:r=25:d=2.52",
        "-f", "lavfi", "-i", "color=c=blue:s=160x96:r=25:d=2.48",
        "-filter_complex", "[0][1]concat=n=2:v=1:a=0,format=yuv420p[v]", "-map", "[v]",
        "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-sc_threshold", "0", str(path),
    ])  # fmt: skip


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.mark.parametrize(
    ("start_frame", "end_frame", "method"), [(50, 100, "copy"), (63, 110, "reencode")]
)
def test_clip_files_hold_exactly_the_span(
    tmp_path: Path, start_frame: int, end_frame: int, method: str
) -> None:
    source = tmp_path / "two.mp4"
    _two_scene_video(source)
    span = ClipSpan(start_frame / 25, end_frame / 25)
    copy = starts_on_keyframe(span.start_s, [0.0, 2.0, 4.0], tolerance_s=0.02)
    assert copy == (method == "copy")
    assert (
        cut_clip_file(source, tmp_path / "clip.mp4", span, copy=copy, crf=18, preset="ultrafast")
        == method
    )
    frames = _frames(tmp_path / "clip.mp4")
    assert abs(len(frames) - (end_frame - start_frame)) <= 1
    first_is_blue = frames[0][..., 2].mean() > frames[0][..., 0].mean()
    assert first_is_blue == (start_frame >= 63)
    assert not list(tmp_path.glob(".*partial*"))


def test_batched_frame_statistics_equal_one_by_one() -> None:
    """The decode pass summarizes sampled frames in batches; same numbers as one by one."""
    rng = np.random.default_rng(4)
    frames = rng.integers(0, 255, (5, 90, 160, 3), dtype=np.uint8)
    single, batched = _stats(list(frames)), FrameStats()
    batched.add_batch([index * 0.5 for index in range(5)], frames)
    assert batched.times == single.times
    for name in ("luma_mean", "luma_std", "sharpness"):
        np.testing.assert_allclose(getattr(batched, name), getattr(single, name), rtol=1e-5)
    np.testing.assert_allclose(batched.histograms, single.histograms, atol=1e-7)
    np.testing.assert_allclose(batched.dark_share, single.dark_share)
    np.testing.assert_allclose(batched.motion, single.motion, rtol=1e-5)
    assert batched.motion[0] == 0.0 and min(batched.motion[1:]) > 10  # noise moves a lot
    assert all(isinstance(v, float) for v in batched.sharpness + batched.luma_mean)
