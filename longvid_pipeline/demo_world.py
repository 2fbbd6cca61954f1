"""The demo world: seeded long videos of hard-cut scenes with a sidecar of ground truth.

Why it exists: the pipeline needs long videos whose every label is known, so that shot
detection, captions, grounding spans, counting and ordering answers can be checked
against truth, offline and without licensing questions. Each video is a sequence of
scenes on visibly different backgrounds; in each scene one to three objects (a shape
in a color) do one action each. A small vocabulary makes objects and actions recur
across scenes and videos, so "how many times..." and "what happened first..." have
non-trivial answers.

How it stays fast: frames are composed directly in yuv420p with numpy (a precomputed
background buffer per scene, cached sprite masks per shape/size/angle, slice-assigned),
piped as rawvideo into one ffmpeg process per video (libx264 ultrafast + AAC tone).

Example::

    from pathlib import Path
    from longvid_pipeline.demo_world import DemoWorldConfig, generate_world
    videos = generate_world(Path("/tmp/world"), DemoWorldConfig(videos=2))
    print(videos[0].video_path, videos[0].duration_s)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import random
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from longvid_pipeline.config import param
from longvid_pipeline.media import ffmpeg_binary

GENERATOR_VERSION = 1
"""Bumped whenever the same seed would render a different world (invalidates caches)."""

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "diamond")
OBJECT_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "green": (40, 200, 70),
    "blue": (70, 120, 255),
    "yellow": (250, 220, 40),
    "white": (245, 245, 245),
    "orange": (255, 140, 20),
}
# Dark backgrounds so that every (bright) object color stands out on every background.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "dark blue": (20, 30, 120),
    "dark green": (20, 95, 40),
    "maroon": (115, 20, 35),
    "gray": (110, 110, 110),
    "black": (12, 12, 12),
    "purple": (90, 30, 130),
    "teal": (10, 110, 110),
    "brown": (110, 65, 20),
}
ACTIONS: tuple[str, ...] = (
    "moves",
    "bounces",
    "spins",
    "grows",
    "shrinks",
    "blinks",
    "orbits",
    "shakes",
)

MIN_BACKGROUND_L1 = 120
"""Least sum of per-channel differences between consecutive backgrounds (a hard cut)."""
MIN_EVENT_S = 1.0
CAST_SIZE = 5
"""Objects per video that most events draw from, so the same object recurs across scenes."""


@dataclass
class DemoWorldConfig:
    """How many demo videos to make and how they look (a recipe section)."""

    videos: int = param(6, "number of demo videos", min=1, max=1000)
    min_duration_s: float = param(180.0, "shortest video, seconds", min=1.0)
    max_duration_s: float = param(360.0, "longest video, seconds", min=1.0)
    min_scene_s: float = param(3.0, "shortest scene (shot), seconds", min=0.5)
    max_scene_s: float = param(40.0, "longest scene (shot), seconds", min=1.0)
    width: int = param(640, "frame width, pixels (even)", min=64, max=3840)
    height: int = param(360, "frame height, pixels (even)", min=64, max=2160)
    fps: int = param(30, "frames per second", min=1, max=120)
    seed: int = param(0, "world seed: the same seed gives the same ground truth", min=0)

    def __post_init__(self) -> None:
        """Reject combinations no video can satisfy, before any rendering starts."""
        problems = []
        if self.min_duration_s > self.max_duration_s:
            problems.append("min_duration_s must be <= max_duration_s")
        if 2 * self.min_scene_s > self.max_scene_s:
            problems.append("max_scene_s must be >= 2 * min_scene_s (so any duration tiles)")
        if self.min_duration_s < self.min_scene_s:
            problems.append("min_duration_s must be >= min_scene_s")
        if self.width % 2 or self.height % 2:
            problems.append("width and height must be even (yuv420p)")
        if problems:
            raise ValueError("; ".join(problems))

    def digest(self) -> str:
        """A short hash of everything that changes the rendered files."""
        payload = json.dumps(
            {"version": GENERATOR_VERSION, **dataclasses.asdict(self)}, sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DemoVideo:
    """One rendered demo video and its ground-truth sidecar."""

    name: str
    video_path: Path
    sidecar_path: Path
    duration_s: float


# ----------------------------------------------------------------------------- planning


def _scene_lengths(rng: random.Random, frames: int, min_f: int, max_f: int) -> list[int]:
    """Split `frames` into scene lengths within [min_f, max_f], each draw kept feasible."""
    low, high = math.ceil(frames / max_f), frames // min_f
    if low > high or frames < min_f:
        raise ValueError(f"{frames} frames cannot be tiled by scenes of {min_f}..{max_f} frames")
    count = min(max(round(frames / ((min_f + max_f) / 2)), low), high)
    lengths, remaining = [], frames
    for left in range(count, 0, -1):
        lo = max(min_f, remaining - (left - 1) * max_f)
        hi = min(max_f, remaining - (left - 1) * min_f)
        length = rng.randint(lo, hi)
        lengths.append(length)
        remaining -= length
    return lengths


def _backgrounds(rng: random.Random, count: int) -> list[str]:
    """Background names where consecutive ones differ strongly (every cut is visible)."""
    names: list[str] = []
    for _ in range(count):
        options = [
            name
            for name, rgb in BACKGROUNDS.items()
            if not names
            or sum(abs(a - b) for a, b in zip(rgb, BACKGROUNDS[names[-1]], strict=True))
            >= MIN_BACKGROUND_L1
        ]
        names.append(rng.choice(options))
    return names


def _pick_object(
    rng: random.Random, cast: list[tuple[str, str]], taken: set[tuple[str, str]]
) -> tuple[str, str]:
    """Mostly a cast member (recurrence), sometimes any object; never one already in the scene."""
    pool = cast if rng.random() < 0.8 else [(s, c) for s in SHAPES for c in OBJECT_COLORS]
    options = [obj for obj in pool if obj not in taken] or [
        (s, c) for s in SHAPES for c in OBJECT_COLORS if (s, c) not in taken
    ]
    return rng.choice(options)


def _pick_action(rng: random.Random, shape: str, taken: set[str]) -> str:
    """An action not yet used in the scene; a circle never "spins" (it would look still)."""
    options = [a for a in ACTIONS if a not in taken and not (shape == "circle" and a == "spins")]
    return rng.choice(options)


def _event_spans(
    rng: random.Random, start: int, end: int, fps: int, count: int
) -> list[tuple[int, int]]:
    """Frame spans of `count` objects: the first fills the scene, later ones enter mid-scene."""
    spans = [(start, end)]
    length = end - start
    for _ in range(count - 1):
        enter = start + max(round(MIN_EVENT_S * fps), round(length * rng.uniform(0.15, 0.6)))
        leave = end if rng.random() < 0.6 else enter + round((end - enter) * rng.uniform(0.5, 0.85))
        spans.append((enter, max(leave, min(end, enter + round(MIN_EVENT_S * fps)))))
    return sorted(spans)


def _object_count(rng: random.Random, length_s: float) -> int:
    """One object in short scenes; up to three in long ones."""
    if length_s < 6.0:
        return 1
    return rng.choices((1, 2, 3), weights=(0.45, 0.4, 0.15))[0]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _event_caption(color: str, shape: str, action: str, background: str) -> str:
    return f"{_article(color).capitalize()} {color} {shape} {action} on {_article(background)} {background} background."


def _scene_caption(
    background: str, start: int, end: int, events: list[dict[str, Any]], fps: int
) -> str:
    """One sentence per object, saying when a later object enters and whether it leaves."""
    first = events[0]
    parts = [_event_caption(first["color"], first["shape"], first["action"], background)]
    for event in events[1:]:
        obj = f"{_article(event['color'])} {event['color']} {event['shape']}"
        enter_s = (event["start_frame"] - start) / fps
        stay_s = (event["end_frame"] - event["start_frame"]) / fps
        leaves = f" and leaves {stay_s:.0f} seconds later" if event["end_frame"] < end else ""
        parts.append(f"After {enter_s:.0f} seconds, {obj} appears and {event['action']}{leaves}.")
    return " ".join(parts)


def _plan_scene(
    rng: random.Random,
    index: int,
    start: int,
    end: int,
    background: str,
    fps: int,
    cast: list[tuple[str, str]],
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One scene's record and its events (without global event indices yet)."""
    spans = _event_spans(rng, start, end, fps, _object_count(rng, (end - start) / fps))
    taken_objects: set[tuple[str, str]] = set()
    taken_actions: set[str] = set()
    events = []
    for slot, (enter, leave) in enumerate(spans):
        shape, color = _pick_object(rng, cast, taken_objects)
        action = _pick_action(rng, shape, taken_actions)
        taken_objects.add((shape, color))
        taken_actions.add(action)
        events.append({
            "scene_index": index, "start_s": enter / fps, "end_s": leave / fps,
            "start_frame": enter, "end_frame": leave, "shape": shape, "color": color,
            "action": action, "caption": _event_caption(color, shape, action, background),
            "slot": slot, "slots": len(spans), "phase": round(rng.random(), 6),
        })  # fmt: skip
    scene = {
        "index": index, "start_s": start / fps, "end_s": end / fps, "start_frame": start,
        "end_frame": end, "background": background,
        "caption": _scene_caption(background, start, end, events, fps),
    }  # fmt: skip
    return scene, events


def plan_video(
    name: str,
    *,
    duration_s: float,
    seed: int,
    width: int,
    height: int,
    fps: int,
    min_scene_s: float,
    max_scene_s: float,
) -> dict[str, Any]:
    """The sidecar (ground truth) of a video, computed without rendering anything.

    Pure function of its arguments: the same seed always gives the same dict, so tests and
    other stages can reason about a video without its mp4. `render_video` draws exactly this.
    """
    rng = random.Random(seed)
    frame_count = round(duration_s * fps)
    lengths = _scene_lengths(rng, frame_count, round(min_scene_s * fps), round(max_scene_s * fps))
    backgrounds = _backgrounds(rng, len(lengths))
    cast = rng.sample([(s, c) for s in SHAPES for c in OBJECT_COLORS], CAST_SIZE)
    scenes, events, start = [], [], 0
    for index, (length, background) in enumerate(zip(lengths, backgrounds, strict=True)):
        scene, scene_events = _plan_scene(rng, index, start, start + length, background, fps, cast)
        scene["event_indices"] = list(range(len(events), len(events) + len(scene_events)))
        for event in scene_events:
            events.append({"index": len(events), **event})
        scenes.append(scene)
        start += length
    return {
        "name": name, "duration_s": frame_count / fps, "fps": fps, "width": width, "height": height,
        "frame_count": frame_count, "seed": seed, "generator_version": GENERATOR_VERSION,
        "min_scene_s": float(min_scene_s), "max_scene_s": float(max_scene_s),
        "scenes": scenes, "events": events, "cuts_s": [scene["start_s"] for scene in scenes[1:]],
        "cut_frames": [scene["start_frame"] for scene in scenes[1:]],
    }  # fmt: skip


# ---------------------------------------------------------------------------- rendering


def _to_yuv(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range Y, U, V of RGB values (last axis), as float."""
    matrix = np.array([[0.257, 0.504, 0.098], [-0.148, -0.291, 0.439], [0.439, -0.368, -0.071]])
    return rgb.astype(np.float64) @ matrix.T + np.array([16.0, 128.0, 128.0])


@functools.lru_cache(maxsize=64)
def _background_frame(name: str, width: int, height: int) -> bytes:
    """A full yuv420p frame of background `name`: a vertical light-to-dark gradient."""
    shade = np.linspace(1.15, 0.75, height)[:, None] * np.array(BACKGROUNDS[name], dtype=np.float64)
    yuv = _to_yuv(np.clip(shade, 0, 255))  # (height, 3)
    luma = np.repeat(yuv[:, 0:1], width, axis=1)
    chroma = yuv.reshape(height // 2, 2, 3).mean(axis=1)
    u = np.repeat(chroma[:, 1:2], width // 2, axis=1)
    v = np.repeat(chroma[:, 2:3], width // 2, axis=1)
    planes = [np.rint(p).clip(0, 255).astype(np.uint8).ravel() for p in (luma, u, v)]
    return np.concatenate(planes).tobytes()


def _unit_polygon(shape: str) -> list[tuple[float, float]]:
    """Vertices of `shape` on the unit circle scale (radius 1 around the origin)."""
    if shape == "square":
        return [(-0.8, -0.8), (0.8, -0.8), (0.8, 0.8), (-0.8, 0.8)]
    if shape == "diamond":
        return [(0.0, -1.0), (0.75, 0.0), (0.0, 1.0), (-0.75, 0.0)]
    if shape == "triangle":
        return [(math.cos(a), math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6)]
    if shape == "star":
        return [
            ((1.0 if k % 2 == 0 else 0.42) * math.cos(-math.pi / 2 + k * math.pi / 5),
             (1.0 if k % 2 == 0 else 0.42) * math.sin(-math.pi / 2 + k * math.pi / 5))
            for k in range(10)
        ]  # fmt: skip
    raise ValueError(f"no polygon for shape {shape!r}")


@functools.lru_cache(maxsize=8192)
def _sprite(shape: str, size: int, angle_deg: int) -> tuple[np.ndarray, np.ndarray]:
    """Luma mask (size x size) and chroma mask (half size) of a shape rotated by angle."""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    radius = size / 2 - 0.5
    if shape == "circle":
        draw.ellipse((0, 0, size - 1, size - 1), fill=255)
    else:
        turn = math.radians(angle_deg)
        cos, sin = math.cos(turn), math.sin(turn)
        points = [
            (radius + radius * (x * cos - y * sin), radius + radius * (x * sin + y * cos))
            for x, y in _unit_polygon(shape)
        ]
        draw.polygon(points, fill=255)
    luma = np.asarray(image) > 127
    chroma = luma.reshape(size // 2, 2, size // 2, 2).sum(axis=(1, 3)) >= 2
    return luma, chroma


def _triangle_wave(x: float) -> float:
    """0 → 1 → 0 over one unit of x (smooth back-and-forth motion)."""
    x = x % 1.0
    return 2 * x if x < 0.5 else 2 - 2 * x


def _pose(
    event: dict[str, Any], t: float, width: int, height: int, base: int
) -> tuple[float, float, float, int, bool]:
    """Center x, center y, scale, angle and visibility of an object `t` seconds into its event."""
    left = width * event["slot"] / event["slots"]
    right = width * (event["slot"] + 1) / event["slots"]
    cx, cy, phase = (left + right) / 2, height / 2, event["phase"]
    action, duration = event["action"], max(event["end_s"] - event["start_s"], 1e-6)
    scale, angle, visible = 1.0, 0, True
    if action == "moves":
        margin = base * 0.6
        cx = left + margin + (right - left - 2 * margin) * _triangle_wave(t / 4.0 + phase)
    elif action == "bounces":
        cy = height * 0.8 - base / 2 - abs(math.sin(math.pi * (t / 1.2 + phase))) * height * 0.45
    elif action == "spins":
        angle = int(t * 120 + phase * 360) // 10 * 10 % 360
    elif action == "grows":
        scale = 0.5 + t / duration
    elif action == "shrinks":
        scale = 1.5 - t / duration
    elif action == "blinks":
        visible = int(t / 0.4) % 2 == 0
    elif action == "orbits":
        radius = max(min(right - left, height) / 2 - base * 0.6, base * 0.25)
        turn = 2 * math.pi * (t / 3.0 + phase)
        cx, cy = cx + radius * math.cos(turn), cy + radius * math.sin(turn)
    elif action == "shakes":
        cx += base * 0.15 * math.sin(2 * math.pi * 6 * t)
    return cx, cy, scale, angle, visible


class _FrameCanvas:
    """One reusable yuv420p frame buffer with plane views to draw objects into."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.buffer = np.empty(width * height * 3 // 2, dtype=np.uint8)
        luma_size, chroma_size = width * height, width * height // 4
        self.planes = (
            self.buffer[:luma_size].reshape(height, width),
            self.buffer[luma_size : luma_size + chroma_size].reshape(height // 2, width // 2),
            self.buffer[luma_size + chroma_size :].reshape(height // 2, width // 2),
        )

    def clear(self, background: bytes) -> None:
        self.buffer[:] = np.frombuffer(background, dtype=np.uint8)

    def draw(
        self, masks: tuple[np.ndarray, np.ndarray], left: int, top: int, yuv: tuple[int, int, int]
    ) -> None:
        """Paint the sprite with top-left corner (left, top), both even, clipped to the frame."""
        luma_mask, chroma_mask = masks
        size = luma_mask.shape[0]
        x0, y0 = max(left, 0), max(top, 0)
        x1, y1 = min(left + size, self.width), min(top + size, self.height)
        if x0 >= x1 or y0 >= y1:
            return
        luma_plane, u_plane, v_plane = self.planes
        luma_plane[y0:y1, x0:x1][luma_mask[y0 - top : y1 - top, x0 - left : x1 - left]] = yuv[0]
        window = (slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2))
        crop = chroma_mask[(y0 - top) // 2 : (y1 - top) // 2, (x0 - left) // 2 : (x1 - left) // 2]
        u_plane[window][crop] = yuv[1]
        v_plane[window][crop] = yuv[2]


@functools.lru_cache(maxsize=16)
def _object_yuv(color: str) -> tuple[int, int, int]:
    y, u, v = np.rint(_to_yuv(np.array(OBJECT_COLORS[color]))).astype(int).tolist()
    return y, u, v


def _draw_event(
    canvas: _FrameCanvas, event: dict[str, Any], frame: int, fps: int, base: int
) -> None:
    """Draw one object at `frame` (even-aligned so chroma lines up with luma)."""
    t = (frame - event["start_frame"]) / fps
    cx, cy, scale, angle, visible = _pose(event, t, canvas.width, canvas.height, base)
    if not visible:
        return
    size = max(4, int(round(base * scale / 2)) * 2)
    left, top = int(round((cx - size / 2) / 2)) * 2, int(round((cy - size / 2) / 2)) * 2
    canvas.draw(_sprite(event["shape"], size, angle), left, top, _object_yuv(event["color"]))


def _frames(sidecar: dict[str, Any]) -> Iterator[memoryview]:
    """Every frame of the video, in order, as yuv420p bytes (the same buffer, reused)."""
    width, height, fps = sidecar["width"], sidecar["height"], sidecar["fps"]
    canvas = _FrameCanvas(width, height)
    base = max(8, int(min(height * 0.22, width / 3 * 0.45)) // 2 * 2)
    for scene in sidecar["scenes"]:
        background = _background_frame(scene["background"], width, height)
        events = [sidecar["events"][i] for i in scene["event_indices"]]
        for frame in range(scene["start_frame"], scene["end_frame"]):
            canvas.clear(background)
            for event in events:
                if event["start_frame"] <= frame < event["end_frame"]:
                    _draw_event(canvas, event, frame, fps, base)
            yield memoryview(canvas.buffer)


def _ffmpeg_command(sidecar: dict[str, Any], output: Path) -> list[str]:
    """rawvideo on stdin + a quiet sine tone → H.264 (keyframe every ≤2 s and at cuts) + AAC."""
    fps, duration = sidecar["fps"], sidecar["duration_s"]
    # Slightly before each cut so float rounding can never push the keyframe one frame late.
    forced = ",".join(f"{max(cut - 0.25 / fps, 0):.6f}" for cut in sidecar["cuts_s"]) or "0"
    tone = 220 + 40 * (sidecar["seed"] % 8)
    return [
        ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{sidecar['width']}x{sidecar['height']}",
        "-framerate", str(fps), "-i", "pipe:0",
        "-f", "lavfi", "-i", f"sine=frequency={tone}:sample_rate=22050:duration={duration:.6f}",
        "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
        "-g", str(2 * fps), "-force_key_frames", forced,
        "-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m",
        "-color_range", "tv",
        "-c:a", "aac", "-b:a", "48k", "-ac", "1", "-af", "volume=0.3",
        "-shortest", "-movflags", "+faststart", "-f", "mp4", str(output),
    ]  # fmt: skip


def _encode(sidecar: dict[str, Any], output: Path) -> None:
    """Pipe every frame into ffmpeg; raise RuntimeError with ffmpeg's stderr on failure."""
    with subprocess.Popen(
        _ffmpeg_command(sidecar, output), stdin=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        stdin, stderr_pipe = process.stdin, process.stderr
        if stdin is None or stderr_pipe is None:
            raise RuntimeError("ffmpeg pipes were not opened")
        try:
            for frame in _frames(sidecar):
                stdin.write(frame)
            stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg died; its stderr below says why
        stderr = stderr_pipe.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"ffmpeg failed rendering {output.name}: {stderr.strip()[-2000:]}")


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    temporary.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(temporary, path)


def render_video(
    video_path: Path,
    sidecar_path: Path,
    *,
    duration_s: float,
    seed: int,
    width: int,
    height: int,
    fps: int,
    min_scene_s: float,
    max_scene_s: float,
) -> dict[str, Any]:
    """Render one demo video and its sidecar; return the sidecar dict.

    Both files appear atomically (temp name + os.replace), the mp4 first, so a sidecar on
    disk always describes a complete mp4 next to it. The name is `video_path`'s stem.
    """
    sidecar = plan_video(
        video_path.stem, duration_s=duration_s, seed=seed, width=width, height=height, fps=fps,
        min_scene_s=min_scene_s, max_scene_s=max_scene_s,
    )  # fmt: skip
    video_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = video_path.with_name(f".{video_path.name}.{os.getpid()}.partial")
    try:
        _encode(sidecar, temporary)
        os.replace(temporary, video_path)
    finally:
        temporary.unlink(missing_ok=True)
    _write_json_atomic(sidecar_path, sidecar)
    return sidecar


# -------------------------------------------------------------------------------- world


def _video_specs(config: DemoWorldConfig) -> list[dict[str, Any]]:
    """Name, seed and duration of every video: a pure function of the config."""
    rng = random.Random(f"longvid-demo-world-{config.seed}")
    specs = []
    for index in range(config.videos):
        frames = round(rng.uniform(config.min_duration_s, config.max_duration_s) * config.fps)
        specs.append({
            "name": f"demo-{index:03d}", "seed": config.seed * 100_003 + index,
            "duration_s": frames / config.fps,
        })  # fmt: skip
    return specs


def _is_current(
    spec: dict[str, Any], config: DemoWorldConfig, video_path: Path, sidecar_path: Path
) -> bool:
    """True when both files exist and the sidecar was made by these exact parameters."""
    if not (video_path.is_file() and sidecar_path.is_file()):
        return False
    try:
        sidecar = json.loads(sidecar_path.read_text())
    except (OSError, ValueError):
        return False
    wanted = {
        "seed": spec["seed"], "duration_s": spec["duration_s"], "fps": config.fps,
        "width": config.width, "height": config.height, "min_scene_s": config.min_scene_s,
        "max_scene_s": config.max_scene_s, "generator_version": GENERATOR_VERSION,
    }  # fmt: skip
    return all(sidecar.get(key) == value for key, value in wanted.items())


def _remove_stale(folder: Path, keep: set[str]) -> None:
    """Delete demo videos of an earlier, larger world so the served folder matches this one."""
    for path in folder.glob("demo-*.*"):
        if re.fullmatch(r"demo-\d{3,}\.(mp4|json)", path.name) and path.stem not in keep:
            path.unlink()


def generate_world(folder: Path, config: DemoWorldConfig) -> list[DemoVideo]:
    """Render (or reuse) the demo world in `folder`; return its videos in name order.

    Idempotent: a video whose mp4 and sidecar already match the config is kept untouched,
    so reruns cost nothing and a deleted file is re-rendered alone. Missing videos render
    in parallel (one ffmpeg per CPU). `world.json` records the config and its digest.
    """
    folder.mkdir(parents=True, exist_ok=True)
    specs = _video_specs(config)
    videos = [
        DemoVideo(
            s["name"], folder / f"{s['name']}.mp4", folder / f"{s['name']}.json", s["duration_s"]
        )
        for s in specs
    ]
    missing = [
        (spec, video)
        for spec, video in zip(specs, videos, strict=True)
        if not _is_current(spec, config, video.video_path, video.sidecar_path)
    ]

    def render(job: tuple[dict[str, Any], DemoVideo]) -> None:
        spec, video = job
        render_video(
            video.video_path, video.sidecar_path, duration_s=spec["duration_s"], seed=spec["seed"],
            width=config.width, height=config.height, fps=config.fps,
            min_scene_s=config.min_scene_s, max_scene_s=config.max_scene_s,
        )  # fmt: skip

    with ThreadPoolExecutor(max_workers=max(1, min(len(missing), os.cpu_count() or 1))) as pool:
        list(pool.map(render, missing))
    _remove_stale(folder, {video.name for video in videos})
    world = {
        "config": dataclasses.asdict(config),
        "digest": config.digest(),
        "videos": [v.name for v in videos],
    }
    world_path = folder / "world.json"
    if not world_path.is_file() or json.loads(world_path.read_text()) != world:
        _write_json_atomic(world_path, world)
    return videos
