"""Hard footage for shot detectors: camera motion, flashes, strobes and noise, cuts known.

The demo world (flat shapes on flat backgrounds, a still camera) is easy for a cut
detector; real footage is not. A flash, a strobe, a whip pan over texture, a shaking
hand-held camera or a large object crossing the frame change most pixels at once, and a
cut between two views of one room changes the colours little. This module renders
footage that behaves that way, with every cut on a known frame:

- scenes are natural-looking images larger than the frame (1/f noise mapped through a
  palette of a few colours, soft-edged shapes, fine texture); scenes share palettes, so
  some cuts join two scenes of similar colour, and some cuts jump to another view of
  the same scene;
- a virtual camera looks at the scene: tripod, hand-held (wander, jitter, sudden jerks),
  pan, fast pan with motion blur (up to 7% of the width per frame), zoom;
- events inside shots: camera flashes (one or two washed-out frames), strobes (light
  alternating every few frames for up to two seconds, tinted), a large object crossing
  the frame within half a second;
- sensor noise on every frame; x264 with long GOPs and B-frames; any even size.

`render_footage` writes the file and returns the truth: cut times (frame k at k / fps)
and where each event is, so a benchmark can say which kind of event caused a false cut.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from longvid_pipeline.demo.render import pipe_frames
from longvid_pipeline.demo.scenery import palette, scene_image
from longvid_pipeline.media.ffmpeg import encode_rgb_frames

CAMERAS = ("tripod", "handheld", "pan", "fast_pan", "zoom")
EVENTS = ("flash", "strobe", "crossing")
PALETTES = 3  # scenes share palettes: a cut between two of them changes colours little
EVENT_MARGIN = 4  # frames between an event and a cut (the truth stays unambiguous)


@dataclass(frozen=True)
class FootageSpec:
    """What to render: size, length, encoding, and the seed of every random choice."""

    seconds: float = 30.0
    width: int = 640
    height: int = 360
    fps: int = 30
    seed: int = 0
    gop: int = 250
    bframes: int = 3
    crf: int = 23
    noise: float = 4.0  # sensor noise sigma, 0..255
    min_shot_s: float = 1.5
    max_shot_s: float = 6.0


@dataclass
class Shot:
    """Frames [start, start + frames) of one camera looking at one scene."""

    start: int
    frames: int
    scene: int
    camera: str
    origin: tuple[float, float]
    velocity: tuple[float, float] = (0.0, 0.0)
    zoom: tuple[float, float] = (1.0, 1.0)

    def end(self) -> tuple[float, float]:
        """Where the camera looks at the shot's last frame (wander and jerks aside)."""
        travelled = (
            _eased(self.frames - 1, self.frames) if self.camera == "fast_pan" else (self.frames - 1)
        )
        return (
            self.origin[0] + self.velocity[0] * travelled,
            self.origin[1] + self.velocity[1] * travelled,
        )


@dataclass
class Event:
    """Something inside a shot that is not a cut: its kind and frames [start, start + frames)."""

    kind: str
    start: int
    frames: int
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Footage:
    """A rendered file and its truth."""

    path: Path
    fps: int
    frames: int
    cuts_s: list[float]
    shots: list[Shot]
    events: list[Event]

    def event_at(self, time_s: float, slack: int = 2) -> str | None:
        """The kind of event (or camera) around `time_s`: what a false cut there was."""
        frame = int(round(time_s * self.fps))
        for event in self.events:
            if event.start - slack <= frame < event.start + event.frames + slack:
                return event.kind
        for shot in self.shots:
            if shot.start <= frame < shot.start + shot.frames:
                return f"camera {shot.camera}"
        return None


# ----------------------------------------------------------------------------- plan


def plan_footage(spec: FootageSpec) -> tuple[list[Shot], list[Event], int]:
    """Shots (cameras cycled so short videos get every kind), events, total frames."""
    rng = np.random.default_rng(spec.seed)
    total = int(round(spec.seconds * spec.fps))
    scale = spec.width / 640
    cameras = list(rng.permutation(CAMERAS))
    shots: list[Shot] = []
    start = 0
    while start < total:
        frames = int(rng.uniform(spec.min_shot_s, spec.max_shot_s) * spec.fps)
        if total - start - frames < spec.min_shot_s * spec.fps:
            frames = total - start
        camera = cameras[len(shots) % len(cameras)]
        shots.append(_shot(rng, start, frames, camera, shots[-1] if shots else None, scale))
        start += frames
    return shots, _events(rng, spec, shots), total


def _shot(
    rng: np.random.Generator, start: int, frames: int, camera: str, previous: Shot | None,
    scale: float,
) -> Shot:  # fmt: skip
    scene = int(rng.integers(0, 2 * PALETTES))
    if previous is not None and scene == previous.scene:
        scene = (scene + 1) % (2 * PALETTES)
    origin = (rng.uniform(0, 4000), rng.uniform(0, 4000))
    zoom_from = 1.0
    if previous is not None and rng.random() < 0.35:  # another look at the same scene
        scene, (x, y), zoom_from = previous.scene, previous.end(), previous.zoom[1]
        if rng.random() < 0.3:  # a punch-in (or out): the same place, closer or wider
            origin, zoom_from = (x, y), zoom_from * float(rng.choice([0.6, 1.6]))
        else:  # a jump of 0.4-1 frame widths (the scene wraps at 2 widths): part stays alike
            jump = rng.uniform(0.4, 1.0) * 640 * scale / zoom_from * rng.choice([-1, 1])
            origin = (x + jump, y + rng.uniform(-0.3, 0.3) * abs(jump) * 9 / 16)
    angle = rng.uniform(-0.4, 0.4) + (math.pi if rng.random() < 0.5 else 0.0)
    speed = {"pan": rng.uniform(2, 8), "fast_pan": rng.uniform(15, 45)}.get(camera, 0.0) * scale
    zoom = (zoom_from, zoom_from * (rng.uniform(1.3, 1.8) if camera == "zoom" else 1.0))
    if camera == "zoom" and rng.random() < 0.5:
        zoom = (zoom[1], zoom[0])
    velocity = (speed * math.cos(angle), speed * math.sin(angle))
    return Shot(start, frames, scene, camera, origin, velocity, zoom)


def _events(rng: np.random.Generator, spec: FootageSpec, shots: list[Shot]) -> list[Event]:
    """Flashes, strobes and crossings, each inside one shot, clear of its cuts."""
    counts = {
        "flash": max(2, round(spec.seconds / 8)),
        "strobe": max(1, round(spec.seconds / 25)),
        "crossing": max(1, round(spec.seconds / 25)),
    }
    events: list[Event] = []
    for kind, count in counts.items():
        for _ in range(count):
            length = {
                "flash": int(rng.integers(1, 3)),
                "strobe": int(rng.uniform(0.5, 2.5) * spec.fps),
                "crossing": int(rng.uniform(0.25, 0.5) * spec.fps),
            }[kind]
            slot = _free_slot(rng, shots, events, length)
            if slot is not None:
                events.append(Event(kind, slot, length, _event_params(rng, kind)))
    return sorted(events, key=lambda event: event.start)


def _free_slot(
    rng: np.random.Generator, shots: list[Shot], events: list[Event], length: int
) -> int | None:
    for _ in range(50):
        shot = shots[int(rng.integers(len(shots)))]
        room = shot.frames - length - 2 * EVENT_MARGIN
        if room <= 0:
            continue
        start = shot.start + EVENT_MARGIN + int(rng.integers(0, room))
        if all(
            start + length + EVENT_MARGIN <= e.start or e.start + e.frames + EVENT_MARGIN <= start
            for e in events
        ):
            return start
    return None


def _event_params(rng: np.random.Generator, kind: str) -> dict[str, Any]:
    tint = [float(v) for v in rng.uniform(0.6, 1.0, 3)]
    if kind == "flash":  # a camera flash, or a local one (an explosion, a lamp, lightning)
        local = bool(rng.random() < 0.4)
        return {"strength": float(rng.uniform(0.45, 0.9)), "tint": tint, "local": local,
                "centre": [float(v) for v in rng.uniform(0.2, 0.8, 2)],
                "radius": float(rng.uniform(0.3, 0.7))}  # fmt: skip
    if kind == "strobe":
        return {"period": int(rng.integers(2, 6)), "low": float(rng.uniform(0.25, 0.6)),
                "high": float(rng.uniform(1.3, 2.0)), "tint": tint}  # fmt: skip
    return {"height": float(rng.uniform(0.5, 0.9)), "width": float(rng.uniform(0.25, 0.5)),
            "leftward": bool(rng.random() < 0.5)}  # fmt: skip


# ----------------------------------------------------------------------------- frames


class _Camera:
    """Where a shot's camera looks at frame k: position (wander, jitter, jerks) and zoom."""

    def __init__(self, shot: Shot, rng: np.random.Generator, scale: float) -> None:
        self.shot, self.scale = shot, scale
        hand = shot.camera in ("handheld", "zoom")
        self.jitter = (1.2 if hand else 0.15) * scale
        self.wander = [
            (rng.uniform(4, 14) * scale * hand, rng.uniform(0.01, 0.05), rng.uniform(0, 6.3))
            for _ in range(4)
        ]
        self.jerks = np.zeros((shot.frames, 2))
        if shot.camera == "handheld":
            for _ in range(max(1, shot.frames // 45)):
                at = int(rng.integers(0, shot.frames))
                self.jerks[at:] += rng.uniform(-25, 25, 2) * scale
        self.rng = rng

    def pose(self, k: int) -> tuple[float, float, float]:
        shot, t = self.shot, k / max(1, self.shot.frames - 1)
        ease = k if shot.camera != "fast_pan" else _eased(k, shot.frames)
        x = shot.origin[0] + shot.velocity[0] * ease + self.jerks[k, 0]
        y = shot.origin[1] + shot.velocity[1] * ease + self.jerks[k, 1]
        for amplitude, frequency, phase in self.wander:
            x += amplitude * math.sin(frequency * k + phase)
            y += amplitude * math.cos(0.7 * frequency * k + phase)
        x, y = x + self.rng.normal(0, self.jitter), y + self.rng.normal(0, self.jitter)
        zoom = shot.zoom[0] + (shot.zoom[1] - shot.zoom[0]) * t
        return x, y, zoom


def _eased(k: int, frames: int) -> float:
    """Frames travelled at constant speed after a 0.3 s-like ramp up (a whip pan starts)."""
    ramp = min(10, frames // 4) or 1
    return k * k / (2 * ramp) if k < ramp else k - ramp / 2


def _view(scene: np.ndarray, pose: tuple[float, float, float], size: tuple[int, int]) -> np.ndarray:
    width, height = size
    x, y, zoom = pose
    xs = (x + (np.arange(width) - width / 2) / zoom).astype(np.int64) % scene.shape[1]
    ys = (y + (np.arange(height) - height / 2) / zoom).astype(np.int64) % scene.shape[0]
    return scene[np.ix_(ys, xs)]


def _frames(spec: FootageSpec, shots: list[Shot], events: list[Event]) -> Iterator[bytes]:
    rng = np.random.default_rng(spec.seed + 1)
    size = (spec.width, spec.height)
    scenes_h, scenes_w = spec.height * 2, spec.width * 2
    palettes = [palette(rng) for _ in range(PALETTES)]
    scenes = [
        scene_image(rng, scenes_h, scenes_w, palettes[i % PALETTES]) for i in range(2 * PALETTES)
    ]
    noise = [
        rng.normal(0, spec.noise, (spec.height, spec.width, 3)).astype(np.float32) for _ in range(8)
    ]
    by_frame = {k: e for e in events for k in range(e.start, e.start + e.frames)}
    for shot in shots:
        camera = _Camera(shot, rng, spec.width / 640)
        previous = camera.pose(0)
        for k in range(shot.frames):
            pose = camera.pose(k)
            frame = _blurred(scenes[shot.scene], previous, pose, size)
            previous = pose
            event = by_frame.get(shot.start + k)
            if event is not None:
                frame = _apply(event, shot.start + k - event.start, frame, scenes, rng)
            frame += noise[int(rng.integers(len(noise)))]
            yield np.clip(frame, 0, 255).astype(np.uint8).tobytes()


def _blurred(
    scene: np.ndarray, start: tuple[float, float, float], end: tuple[float, float, float],
    size: tuple[int, int],
) -> np.ndarray:  # fmt: skip
    """The view at `end`, averaged along the path from `start`: a shutter open during motion."""
    travel = math.hypot(end[0] - start[0], end[1] - start[1])
    samples = int(min(8, max(1, travel / 4)))
    frame = np.zeros((size[1], size[0], 3), dtype=np.float32)
    for index in range(samples):
        f = (index + 1) / samples
        pose = tuple(a + (b - a) * f for a, b in zip(start, end, strict=True))
        frame += _view(scene, pose, size)  # type: ignore[arg-type]
    return frame / samples


def _apply(
    event: Event, k: int, frame: np.ndarray, scenes: list[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    params = event.params
    if event.kind == "flash":
        strength = params["strength"] * (1.0 if k == 0 else 0.45)
        if params["local"]:
            strength = strength * _spot(frame.shape[:2], params["centre"], params["radius"])
        white = 255.0 * np.array(params["tint"], dtype=np.float32)
        return frame * (1 - strength) + white * strength
    if event.kind == "strobe":
        lit = (k // params["period"]) % 2 == 0
        gain = params["high"] if lit else params["low"]
        tint = np.array(params["tint"], dtype=np.float32) if lit else 1.0
        return frame * gain * tint
    height, width = frame.shape[:2]
    box_h, box_w = int(params["height"] * height), int(params["width"] * width)
    travel = (k + 1) / event.frames * (width + box_w) - box_w
    left = int(width - travel - box_w) if params["leftward"] else int(travel)
    top = (height - box_h) // 2
    patch = scenes[-1][:box_h, :box_w].astype(np.float32) * 0.5
    a, b = max(0, left), min(width, left + box_w)
    if b > a:
        frame[top : top + box_h, a:b] = patch[:, a - left : b - left]
    return frame


def _spot(shape: tuple[int, ...], centre: list[float], radius: float) -> np.ndarray:
    """A soft round light [height, width, 1], 1 at `centre` (fractions), 0 past `radius`."""
    height, width = shape
    ys = (np.arange(height)[:, None] / height - centre[1]) * height / width
    xs = np.arange(width)[None, :] / width - centre[0]
    light = np.clip(1.0 - np.sqrt(xs * xs + ys * ys) / radius, 0.0, 1.0)
    return (light * light)[..., None].astype(np.float32)


# ----------------------------------------------------------------------------- encode


def render_footage(spec: FootageSpec, path: Path) -> Footage:
    """Render and encode `spec` to `path` (H.264 MP4); returns the truth."""
    shots, events, total = plan_footage(spec)
    graph = encode_rgb_frames(
        path,
        width=spec.width,
        height=spec.height,
        fps=spec.fps,
        crf=spec.crf,
        preset="veryfast",
        gop=spec.gop,
        bframes=spec.bframes,
    )
    pipe_frames(graph, _frames(spec, shots, events), path.name)
    cuts = [shot.start / spec.fps for shot in shots[1:]]
    return Footage(path, spec.fps, total, cuts, shots, events)
