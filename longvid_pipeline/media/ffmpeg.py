"""Which ffmpeg to run, every ffmpeg invocation the pipeline makes, and running them quietly.

There is no manual install step anywhere: ffmpeg comes from the system when one is on
PATH, else from imageio-ffmpeg's bundled static binary.

Each invocation is an ffmpeg-python graph (inputs, filters, one output) built by a function
here, so the filter graphs read as code and live in one place: `normalize_copy` and
`normalize_reencode` (fetch), `cut_clip` (clip files), `encode_rgb_frames` (NIAH samples,
hard footage) and `encode_demo_video` (the demo world). `ffmpeg_command` turns a graph into the command
line (quiet global options first); `run_ffmpeg` and `open_ffmpeg` run it. Tests may still
hand `run_ffmpeg` a plain argument list.

Example::

    run_ffmpeg(normalize_copy("in.mkv", "out.mp4"))
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import ffmpeg

QUIET = ("-hide_banner", "-nostdin", "-loglevel", "error", "-y")
MP4 = {"format": "mp4", "movflags": "+faststart"}  # index up front: playable while streaming
Graph = Any  # an ffmpeg-python output node (the library has no type information)


@functools.lru_cache(maxsize=1)
def ffmpeg_binary() -> str:
    """Path of the ffmpeg executable: the system one if present, else imageio-ffmpeg's."""
    system = shutil.which("ffmpeg")
    if system:
        return system
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_command(graph: Graph | list[str]) -> list[str]:
    """The full command line of `graph` (or of plain arguments): binary, quiet, arguments."""
    args = list(graph) if isinstance(graph, list) else ffmpeg.get_args(graph)
    return [ffmpeg_binary(), *QUIET, *args]


def run_ffmpeg(
    graph: Graph | list[str], timeout_s: float | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg quietly; raises CalledProcessError with its stderr on failure."""
    return subprocess.run(ffmpeg_command(graph), capture_output=True, check=True, timeout=timeout_s)


def open_ffmpeg(graph: Graph, stderr: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """Start ffmpeg with its stdin open for the raw frames `graph` reads from `pipe:0`."""
    return subprocess.Popen(ffmpeg_command(graph), stdin=subprocess.PIPE, stderr=stderr)


def _first_video_and_audio(src: str | Path, **input_options: Any) -> tuple[Any, Any]:
    """The first video stream and, when there is one, the first audio stream of `src`.

    `V` (not `v`) skips attached pictures: cover art is never the video."""
    source = ffmpeg.input(str(src), **input_options)
    return source["V:0"], source["a:0?"]


def normalize_copy(src: str | Path, dst: str | Path) -> Graph:
    """Stream copy into MP4 (first video, first audio if any): nothing is decoded."""
    video, audio = _first_video_and_audio(src)
    return ffmpeg.output(video, audio, str(dst), c="copy", **MP4)


# x264 preset -> the NVENC preset of about the same place on the speed/size curve.
NVENC_PRESETS = {
    "ultrafast": "p1", "superfast": "p1", "veryfast": "p2", "faster": "p3", "fast": "p4",
    "medium": "p5", "slow": "p6",
}  # fmt: skip


def video_codec(encoder: str, preset: str, crf: int) -> dict[str, Any]:
    """Encoder options: libx264 at CRF, or NVENC at the same constant quality (-cq)."""
    if encoder == "h264_nvenc":
        return {
            "c:v": "h264_nvenc", "preset": NVENC_PRESETS[preset], "rc": "vbr", "cq": crf,
            "b:v": 0, "forced-idr": 1,
        }  # fmt: skip
    return {"c:v": "libx264", "preset": preset, "crf": crf}


def normalize_reencode(
    src: str | Path,
    dst: str | Path,
    *,
    max_height: int,
    keyframe_interval_s: float,
    preset: str,
    crf: int,
    encoder: str = "libx264",
) -> Graph:
    """H.264 yuv420p at an even height capped at `max_height`, a keyframe at least every
    `keyframe_interval_s`, AAC audio; `encoder` libx264 (CPU) or h264_nvenc (an NVIDIA GPU,
    at about the same place on the speed/size curve and the same constant quality).

    ffmpeg's default autorotate applies any rotation before scaling, so `ih` is the
    displayed height and the output carries no rotation.
    """
    video, audio = _first_video_and_audio(src)
    scaled = video.filter("scale", -2, f"trunc(min(ih,{max_height})/2)*2").filter(
        "format", "yuv420p"
    )
    return ffmpeg.output(
        scaled,
        audio,
        str(dst),
        **video_codec(encoder, preset, crf),
        **{"c:a": "aac", "b:a": "128k"},
        force_key_frames=f"expr:gte(t,n_forced*{keyframe_interval_s})",
        **MP4,
    )


def cut_clip(
    src: str | Path,
    dst: str | Path,
    *,
    start_s: float,
    duration_s: float,
    copy: bool,
    crf: int,
    preset: str,
) -> Graph:
    """The span as its own MP4: stream copy (the span starts on a keyframe) or a re-encode
    after an accurate seek; either way the end is cut by duration on frame starts."""
    video, audio = _first_video_and_audio(src, ss=f"{start_s:.6f}")
    codec = {"c": "copy"} if copy else {
        "c:v": "libx264", "preset": preset, "crf": crf, "pix_fmt": "yuv420p", "c:a": "aac",
    }  # fmt: skip
    return ffmpeg.output(
        video, audio, str(dst), t=f"{duration_s:.6f}", avoid_negative_ts="make_zero",
        movflags="+faststart", **codec,
    )  # fmt: skip


def encode_rgb_frames(
    dst: str | Path,
    *,
    width: int,
    height: int,
    fps: float,
    crf: int,
    preset: str,
    gop: int | None = None,
    bframes: int | None = None,
) -> Graph:
    """rgb24 frames on stdin -> H.264 yuv420p at `fps` (a NIAH sample as a video; hard
    footage for the detectors, with its GOP length and B-frames when given)."""
    frames = ffmpeg.input("pipe:0", format="rawvideo", pix_fmt="rgb24", s=f"{width}x{height}",
                          r=str(fps))  # fmt: skip
    structure = {"g": gop, "bf": bframes}
    return ffmpeg.output(
        frames, str(dst), **{"c:v": "libx264"}, preset=preset, crf=crf, pix_fmt="yuv420p",
        **{key: value for key, value in structure.items() if value is not None},
    )  # fmt: skip


def encode_demo_video(
    dst: str | Path,
    *,
    width: int,
    height: int,
    fps: int,
    duration_s: float,
    tone_hz: int,
    keyframes_s: list[float],
) -> Graph:
    """yuv420p frames on stdin and a quiet sine tone -> H.264 (a keyframe at least every
    2 s and at each of `keyframes_s`, BT.601 limited range tagged) + mono AAC."""
    frames = ffmpeg.input("pipe:0", format="rawvideo", pix_fmt="yuv420p",
                          s=f"{width}x{height}", framerate=str(fps))  # fmt: skip
    tone = ffmpeg.input(
        f"sine=frequency={tone_hz}:sample_rate=22050:duration={duration_s:.6f}", format="lavfi"
    )
    quiet = tone["a"].filter("volume", 0.3)
    forced = ",".join(f"{time:.6f}" for time in keyframes_s) or "0"
    video = {"c:v": "libx264", "preset": "ultrafast", "pix_fmt": "yuv420p", "g": 2 * fps,
             "force_key_frames": forced}  # fmt: skip
    colour = {"colorspace": "smpte170m", "color_primaries": "smpte170m",
              "color_trc": "smpte170m", "color_range": "tv"}  # fmt: skip
    audio = {"c:a": "aac", "b:a": "48k", "ac": 1}
    return ffmpeg.output(
        frames["v"], quiet, str(dst), **video, **colour, **audio, shortest=None, **MP4
    )
