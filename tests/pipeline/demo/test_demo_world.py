"""The demo world renders what its sidecar says, reuses its files, and is served with ranges."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from longvid_pipeline.config import build_section
from longvid_pipeline.demo.server import parse_range, serve_folder
from longvid_pipeline.demo.world import (
    ACTIONS,
    SHAPES,
    DemoVideo,
    DemoWorldConfig,
    generate_world,
    plan_video,
)
from longvid_pipeline.media.probe import probe

SMALL = DemoWorldConfig(
    videos=2, min_duration_s=20.0, max_duration_s=30.0, min_scene_s=3.0, max_scene_s=8.0,
    width=320, height=180, fps=30, seed=7,
)  # fmt: skip
PLAN_ARGS: dict[str, Any] = dict(
    duration_s=25.0, width=320, height=180, fps=30, min_scene_s=3.0, max_scene_s=8.0
)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[DemoVideo]]:
    folder = tmp_path_factory.mktemp("world")
    return folder, generate_world(folder, SMALL)


@pytest.fixture(scope="module")
def decoded(world: tuple[Path, list[DemoVideo]]) -> list[tuple[dict[str, Any], np.ndarray]]:
    """Each video's sidecar and all of its frames as int16 RGB (decoded once for all tests)."""
    result = []
    for video in world[1]:
        with av.open(str(video.video_path)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        result.append(
            (json.loads(video.sidecar_path.read_text()), np.stack(frames).astype(np.int16))
        )
    return result


def test_world_lists_named_videos_with_files(world: tuple[Path, list[DemoVideo]]) -> None:
    folder, videos = world
    assert [v.name for v in videos] == ["demo-000", "demo-001"]
    for video in videos:
        assert video.video_path == folder / f"{video.name}.mp4" and video.video_path.is_file()
        assert video.sidecar_path == folder / f"{video.name}.json"
        assert 20.0 <= video.duration_s <= 30.0
        assert json.loads(video.sidecar_path.read_text())["duration_s"] == video.duration_s
    assert json.loads((folder / "world.json").read_text())["digest"] == SMALL.digest()


def test_sidecar_keys_tiling_and_ordering(world: tuple[Path, list[DemoVideo]]) -> None:
    for video in world[1]:
        sidecar = json.loads(video.sidecar_path.read_text())
        assert {
            "name",
            "duration_s",
            "fps",
            "width",
            "height",
            "frame_count",
            "seed",
            "scenes",
            "events",
            "cuts_s",
        } <= set(sidecar)
        assert (sidecar["name"], sidecar["fps"], sidecar["width"], sidecar["height"]) == (
            video.name,
            30,
            320,
            180,
        )
        assert sidecar["frame_count"] == round(sidecar["duration_s"] * 30)
        scenes, events = sidecar["scenes"], sidecar["events"]
        assert scenes[0]["start_frame"] == 0 and scenes[-1]["end_frame"] == sidecar["frame_count"]
        for index, scene in enumerate(scenes):
            assert scene["index"] == index
            assert (
                scene["start_s"] == scene["start_frame"] / 30
                and scene["end_s"] == scene["end_frame"] / 30
            )
            assert 3 * 30 <= scene["end_frame"] - scene["start_frame"] <= 8 * 30
            assert scene["background"] and scene["caption"].endswith(".")
        for before, after in zip(scenes[:-1], scenes[1:], strict=True):
            assert before["end_frame"] == after["start_frame"]
            assert before["background"] != after["background"]
        assert sidecar["cuts_s"] == [scene["start_s"] for scene in scenes[1:]]
        assert [e["index"] for e in events] == list(range(len(events)))
        assert [(e["start_s"], e["index"]) for e in events] == sorted(
            (e["start_s"], e["index"]) for e in events
        )
        for event in events:
            scene = scenes[event["scene_index"]]
            assert scene["start_s"] <= event["start_s"] < event["end_s"] <= scene["end_s"]
            assert event["shape"] in SHAPES and event["action"] in ACTIONS
            caption = f"{event['color']} {event['shape']} {event['action']} on "
            assert caption in event["caption"]
            assert event["caption"].endswith(f" {scene['background']} background.")


def test_plan_is_deterministic_per_seed_and_has_recurrence() -> None:
    first = plan_video("demo-x", seed=11, **PLAN_ARGS)
    assert plan_video("demo-x", seed=11, **PLAN_ARGS) == first
    assert plan_video("demo-x", seed=12, **PLAN_ARGS) != first
    long_plan = plan_video(
        "demo-y", seed=3, **{**PLAN_ARGS, "duration_s": 300.0, "max_scene_s": 40.0}
    )
    objects = [(e["shape"], e["color"]) for e in long_plan["events"]]
    assert max(objects.count(obj) for obj in objects) >= 3, "a cast member recurs across scenes"
    assert len({e["action"] for e in long_plan["events"]}) >= 5
    assert any(
        e["start_s"] > long_plan["scenes"][e["scene_index"]]["start_s"] for e in long_plan["events"]
    )


def test_rendered_sidecar_matches_plan(world: tuple[Path, list[DemoVideo]]) -> None:
    video = world[1][0]
    sidecar = json.loads(video.sidecar_path.read_text())
    replay = plan_video(
        video.name, **{**PLAN_ARGS, "duration_s": video.duration_s, "seed": sidecar["seed"]}
    )
    assert replay == sidecar


def test_mp4_probes_as_h264_aac_with_right_geometry(world: tuple[Path, list[DemoVideo]]) -> None:
    for video in world[1]:
        info = probe(video.video_path)
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")
        assert (info.width, info.height, info.fps) == (320, 180, 30.0)
        assert abs(info.duration_s - video.duration_s) <= 1 / 30 + 1e-9


def test_decoded_frame_count_matches_sidecar(
    decoded: list[tuple[dict[str, Any], np.ndarray]],
) -> None:
    for sidecar, frames in decoded:
        assert frames.shape == (sidecar["frame_count"], 180, 320, 3)


def test_keyframes_at_most_two_seconds_apart_and_at_every_cut(
    world: tuple[Path, list[DemoVideo]],
) -> None:
    for video in world[1]:
        sidecar = json.loads(video.sidecar_path.read_text())
        with av.open(str(video.video_path)) as container:
            stream = container.streams.video[0]
            keyframe_s = sorted(
                float(packet.pts * stream.time_base)
                for packet in container.demux(stream)
                if packet.pts is not None and packet.is_keyframe
            )
        assert keyframe_s[0] == 0.0
        gaps = np.diff([*keyframe_s, sidecar["duration_s"]])
        assert gaps.max() <= 2.0 + 1e-6
        for cut in sidecar["cuts_s"]:
            assert min(abs(cut - k) for k in keyframe_s) < 1e-6


def test_cuts_are_hard_cuts_exactly_where_the_sidecar_says(
    decoded: list[tuple[dict[str, Any], np.ndarray]],
) -> None:
    for sidecar, frames in decoded:
        step_difference = np.abs(np.diff(frames, axis=0)).mean(
            axis=(1, 2, 3)
        )  # [i] = frame i → i+1
        at_cut = step_difference[[frame - 1 for frame in sidecar["cut_frames"]]]
        within = np.delete(step_difference, [frame - 1 for frame in sidecar["cut_frames"]])
        assert at_cut.min() > 25.0, at_cut
        assert within.max() < 10.0, within.max()


def test_generate_world_reuses_files_and_rerenders_a_deleted_one(tmp_path: Path) -> None:
    config = DemoWorldConfig(
        **{**vars(SMALL), "videos": 2, "min_duration_s": 6.0, "max_duration_s": 8.0}
    )
    videos = generate_world(tmp_path, config)
    stamps = {p: p.stat().st_mtime_ns for v in videos for p in (v.video_path, v.sidecar_path)}
    assert generate_world(tmp_path, config) == videos
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    old_sidecar = videos[1].sidecar_path.read_text()
    videos[1].video_path.unlink()
    assert generate_world(tmp_path, config) == videos
    assert videos[1].video_path.is_file() and videos[1].sidecar_path.read_text() == old_sidecar
    assert videos[0].video_path.stat().st_mtime_ns == stamps[videos[0].video_path]
    smaller = generate_world(tmp_path, DemoWorldConfig(**{**vars(config), "videos": 1}))
    assert [v.name for v in smaller] == ["demo-000"] and not videos[1].video_path.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temporary files left"


def test_config_validation_reports_impossible_combinations() -> None:
    _, errors = build_section(
        DemoWorldConfig, {"min_scene_s": 10.0, "max_scene_s": 12.0, "width": 321}, "demo"
    )
    message = " ".join(str(e) for e in errors)
    assert "max_scene_s must be >= 2 * min_scene_s" in message and "even" in message
    _, errors = build_section(DemoWorldConfig, {"videos": 0}, "demo")
    assert [e.key for e in errors] == ["demo.videos"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=90-", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=95-500", (95, 99)),
        ("bytes=1-2,5-6", None),
        ("", None),
    ],
)
def test_parse_range(header: str, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


def test_parse_range_rejects_unsatisfiable() -> None:
    with pytest.raises(ValueError):
        parse_range("bytes=100-", 100)


def _request(url: str, method: str = "GET", **headers: str) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_serve_folder_full_range_head_404_and_stop(world: tuple[Path, list[DemoVideo]]) -> None:
    folder, videos = world
    payload = videos[0].video_path.read_bytes()
    with serve_folder(folder) as base_url:
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/")
        url = base_url + videos[0].video_path.name
        status, headers, body = _request(url)
        assert (status, body, headers["Accept-Ranges"]) == (200, payload, "bytes")
        assert headers["Content-Type"] == "video/mp4"
        status, headers, body = _request(url, Range="bytes=1000-1999")
        assert (status, body) == (206, payload[1000:2000])
        assert headers["Content-Range"] == f"bytes 1000-1999/{len(payload)}"
        status, _, body = _request(url, Range="bytes=-100")
        assert (status, body) == (206, payload[-100:])
        status, headers, _ = _request(url, Range=f"bytes={len(payload)}-")
        assert (status, headers["Content-Range"]) == (416, f"bytes */{len(payload)}")
        status, headers, body = _request(url, method="HEAD")
        assert (status, int(headers["Content-Length"]), body) == (200, len(payload), b"")
        assert _request(base_url + "missing.mp4")[0] == 404
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_yt_dlp_downloads_a_served_video_in_ranged_chunks(
    world: tuple[Path, list[DemoVideo]], tmp_path: Path
) -> None:
    import yt_dlp

    folder, videos = world
    options = {
        "outtmpl": str(tmp_path / "%(id)s.%(ext)s"),
        "quiet": True,
        "noprogress": True,
        "no_warnings": True,
        "http_chunk_size": 64 * 1024,  # forces a sequence of Range requests
    }
    with serve_folder(folder) as base_url, yt_dlp.YoutubeDL(options) as downloader:
        info = downloader.extract_info(base_url + videos[1].video_path.name, download=True)
    assert (info["id"], info["ext"]) == ("demo-001", "mp4")
    assert (tmp_path / "demo-001.mp4").read_bytes() == videos[1].video_path.read_bytes()
