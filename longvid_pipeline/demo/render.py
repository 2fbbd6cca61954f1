"""How the demo world looks: its vocabulary, and frames drawn and encoded fast.

Frames are composed directly in yuv420p with numpy (a precomputed background buffer per
scene, cached sprite masks per shape/size/angle, slice-assigned) and piped as rawvideo
into one ffmpeg process per video (libx264 ultrafast, a keyframe at every cut and at
least every 2 s, plus a quiet AAC tone). `demo_world` plans what to draw.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from longvid_pipeline.media.ffmpeg import encode_demo_video, open_ffmpeg

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
            yield canvas.buffer.data


def _encode_graph(sidecar: dict[str, Any], output: Path) -> Any:
    """rawvideo on stdin + a quiet sine tone → H.264 (keyframe every ≤2 s and at cuts) + AAC."""
    fps = sidecar["fps"]
    # Slightly before each cut so float rounding can never push the keyframe one frame late.
    return encode_demo_video(
        output,
        width=sidecar["width"],
        height=sidecar["height"],
        fps=fps,
        duration_s=sidecar["duration_s"],
        tone_hz=220 + 40 * (sidecar["seed"] % 8),
        keyframes_s=[max(cut - 0.25 / fps, 0) for cut in sidecar["cuts_s"]],
    )


def encode_video(sidecar: dict[str, Any], output: Path) -> None:
    """Pipe every frame into ffmpeg; raise RuntimeError with ffmpeg's stderr on failure."""
    pipe_frames(_encode_graph(sidecar, output), _frames(sidecar), output.name)


def pipe_frames(graph: Any, frames: Iterable[bytes | memoryview], name: str) -> None:
    """Write raw frames into the ffmpeg `graph` reading stdin; RuntimeError with its
    stderr on failure (the demo world and the hard footage both render this way)."""
    with open_ffmpeg(graph) as process:
        stdin, stderr_pipe = process.stdin, process.stderr
        if stdin is None or stderr_pipe is None:
            raise RuntimeError("ffmpeg pipes were not opened")
        try:
            for frame in frames:
                stdin.write(frame)
            stdin.close()
        except BrokenPipeError:
            pass  # ffmpeg died; its stderr below says why
        stderr = stderr_pipe.read().decode(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"ffmpeg failed rendering {name}: {stderr.strip()[-2000:]}")
