"""Every ffmpeg graph writes what the hand-written argument lists it replaced wrote.

The reference commands below are the argument lists the pipeline used before its
invocations were built with ffmpeg-python (normalize, clip files, NIAH and demo rendering).
Each case runs the reference and the graph on the same input and compares the outputs:
decoded frame count, keyframe times, first-frame pixels (x264 is deterministic), size and
audio; plus what each invocation promises on its own (height cap, keyframe spacing).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from longvid_pipeline.media import ffmpeg as graphs
from longvid_pipeline.media.ffmpeg import ffmpeg_command, run_ffmpeg

QUIET = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def _summary(path: Path) -> dict[str, Any]:
    """What a consumer of the file sees: frames, keyframes, first pixels, size, audio."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        keyframes = [
            round(float(packet.pts * stream.time_base), 4)
            for packet in container.demux(stream)
            if packet.is_keyframe and packet.pts is not None
        ]
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        has_audio = bool(container.streams.audio)
    return {
        "frames": len(frames),
        "keyframes": sorted(keyframes),
        "size": frames[0].shape,
        "first": frames[0],
        "audio": has_audio,
    }


def _assert_same(reference: Path, built: Path) -> dict[str, Any]:
    old, new = _summary(reference), _summary(built)
    assert np.array_equal(old.pop("first"), new.pop("first"))
    assert old == new
    return new


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of testsrc at 10 fps, 320x240, keyframes 3 s apart, with a sine audio track."""
    path = tmp_path_factory.mktemp("src") / "src.mp4"
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc=duration=4:size=320x240:rate=10",
                "-f", "lavfi", "-i", "sine=frequency=440:duration=4",
                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "30", "-c:a", "aac", "-shortest",
                str(path)])  # fmt: skip
    return path


def test_normalize_copy_and_reencode_write_what_the_argument_lists_wrote(
    source: Path, tmp_path: Path
) -> None:
    run_ffmpeg(["-i", str(source), "-map", "0:v:0", "-map", "0:a:0?", "-c", "copy",
                "-movflags", "+faststart", "-f", "mp4", str(tmp_path / "copy_ref.mp4")])  # fmt: skip
    run_ffmpeg(graphs.normalize_copy(source, tmp_path / "copy.mp4"))
    copied = _assert_same(tmp_path / "copy_ref.mp4", tmp_path / "copy.mp4")
    assert copied["frames"] == 40 and copied["keyframes"] == [0.0, 3.0] and copied["audio"]

    height = "trunc(min(ih\\,120)/2)*2"
    run_ffmpeg(["-i", str(source), "-map", "0:v:0", "-map", "0:a:0?",
                "-vf", f"scale=-2:{height},format=yuv420p",
                "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                "-force_key_frames", "expr:gte(t,n_forced*1.0)", "-c:a", "aac", "-b:a", "128k",
                "-movflags", "+faststart", "-f", "mp4", str(tmp_path / "re_ref.mp4")])  # fmt: skip
    graph = graphs.normalize_reencode(
        source, tmp_path / "re.mp4", max_height=120, keyframe_interval_s=1.0,
        preset="veryfast", crf=23,
    )  # fmt: skip
    run_ffmpeg(graph)
    reencoded = _assert_same(tmp_path / "re_ref.mp4", tmp_path / "re.mp4")
    assert reencoded["size"] == (120, 160, 3) and reencoded["audio"]
    assert reencoded["frames"] == 40
    assert np.diff(reencoded["keyframes"]).max() <= 1.0 + 1e-6  # a keyframe every second


@pytest.mark.parametrize("copy", [True, False])
def test_clip_cut_writes_what_the_argument_list_wrote(
    source: Path, tmp_path: Path, copy: bool
) -> None:
    start = 3.0 if copy else 1.25  # a copy starts on the keyframe at 3 s
    codec = ["-c", "copy"] if copy else ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                                          "-pix_fmt", "yuv420p", "-c:a", "aac"]  # fmt: skip
    run_ffmpeg(["-ss", f"{start:.6f}", "-i", str(source), "-t", f"{0.8:.6f}",
                "-map", "0:v:0", "-map", "0:a:0?", *codec, "-avoid_negative_ts", "make_zero",
                "-movflags", "+faststart", str(tmp_path / "ref.mp4")])  # fmt: skip
    graph = graphs.cut_clip(
        source, tmp_path / "clip.mp4", start_s=start, duration_s=0.8, copy=copy, crf=20,
        preset="veryfast",
    )  # fmt: skip
    run_ffmpeg(graph)
    clip = _assert_same(tmp_path / "ref.mp4", tmp_path / "clip.mp4")
    assert clip["keyframes"] and clip["frames"] >= 7  # 0.8 s at 10 fps, within a frame or a GOP


def _pipe(command: list[str], frames: list[np.ndarray]) -> None:
    done = subprocess.run(command, input=b"".join(f.tobytes() for f in frames), capture_output=True)
    assert done.returncode == 0, done.stderr


def test_niah_and_demo_encodes_write_what_the_argument_lists_wrote(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = [rng.integers(0, 255, (90, 160, 3), dtype=np.uint8) for _ in range(6)]
    _pipe(ffmpeg_command(["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "160x90", "-r", "2.0",
                          "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
                          "-pix_fmt", "yuv420p", str(tmp_path / "niah_ref.mp4")]), rgb)  # fmt: skip
    graph = graphs.encode_rgb_frames(
        tmp_path / "niah.mp4", width=160, height=90, fps=2.0, crf=18, preset="veryfast"
    )
    _pipe(ffmpeg_command(graph), rgb)
    assert _assert_same(tmp_path / "niah_ref.mp4", tmp_path / "niah.mp4")["frames"] == 6

    yuv = [rng.integers(16, 235, (90 * 160 * 3 // 2,), dtype=np.uint8) for _ in range(30)]
    reference = ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "160x90", "-framerate", "10",
                 "-i", "pipe:0", "-f", "lavfi", "-i",
                 "sine=frequency=260:sample_rate=22050:duration=3.000000",
                 "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast",
                 "-pix_fmt", "yuv420p", "-g", "20", "-force_key_frames", "0.000000,1.275000",
                 "-colorspace", "smpte170m", "-color_primaries", "smpte170m",
                 "-color_trc", "smpte170m", "-color_range", "tv",
                 "-c:a", "aac", "-b:a", "48k", "-ac", "1", "-af", "volume=0.3",
                 "-shortest", "-movflags", "+faststart", "-f", "mp4",
                 str(tmp_path / "demo_ref.mp4")]  # fmt: skip
    _pipe(ffmpeg_command(reference), yuv)
    graph = graphs.encode_demo_video(
        tmp_path / "demo.mp4", width=160, height=90, fps=10, duration_s=3.0, tone_hz=260,
        keyframes_s=[0.0, 1.275],
    )  # fmt: skip
    _pipe(ffmpeg_command(graph), yuv)
    demo = _assert_same(tmp_path / "demo_ref.mp4", tmp_path / "demo.mp4")
    assert demo["frames"] == 30 and demo["audio"]
    assert demo["keyframes"][:2] == [0.0, 1.3] and np.diff(demo["keyframes"]).max() <= 2.0
    with av.open(str(tmp_path / "demo.mp4")) as container:
        assert container.streams.video[0].codec_context.color_range == 1  # tv (limited)
