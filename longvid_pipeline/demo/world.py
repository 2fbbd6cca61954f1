"""The demo world: seeded long videos of hard-cut scenes with a sidecar of ground truth.

Why it exists: the pipeline needs long videos whose every label is known, so that shot
detection, captions, grounding spans, counting and ordering answers can be checked
against truth, offline and without licensing questions. Each video is a sequence of
scenes on visibly different backgrounds; in each scene one to three objects (a shape
in a color) do one action each. A small vocabulary makes objects and actions recur
across scenes and videos, so "how many times..." and "what happened first..." have
non-trivial answers.

This module plans (the sidecar is a pure function of the seed) and manages the cached
world; `demo_render` holds the vocabulary's looks and draws and encodes the frames.

Example::

    from pathlib import Path
    from longvid_pipeline.demo.world import DemoWorldConfig, generate_world
    videos = generate_world(Path("/tmp/world"), DemoWorldConfig(videos=2))
    print(videos[0].video_path, videos[0].duration_s)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longvid_pipeline.demo.config import GENERATOR_VERSION, DemoWorldConfig
from longvid_pipeline.demo.render import ACTIONS, BACKGROUNDS, OBJECT_COLORS, SHAPES, encode_video
from longvid_pipeline.files import atomic_path, write_atomic

MIN_BACKGROUND_L1 = 120
"""Least sum of per-channel differences between consecutive backgrounds (a hard cut)."""
MIN_EVENT_S = 1.0
CAST_SIZE = 5
"""Objects per video that most events draw from, so the same object recurs across scenes."""


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
    scenes: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    start = 0
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


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    """Readable JSON, appearing atomically (the shared temp-name-then-rename writer)."""
    write_atomic(path, (json.dumps(payload, indent=1) + "\n").encode())


def render_video(video_path: Path, sidecar_path: Path, **plan_args: Any) -> dict[str, Any]:
    """Render one demo video and its sidecar; return the sidecar dict.

    `plan_args` are `plan_video`'s keyword arguments (duration_s, seed, width, height,
    fps, min_scene_s, max_scene_s); the video is named after `video_path`'s stem.

    Both files appear atomically (`files.atomic_path`), the mp4 first, so a sidecar on
    disk always describes a complete mp4 next to it. The name is `video_path`'s stem.
    """
    sidecar = plan_video(video_path.stem, **plan_args)
    video_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(video_path, suffix=".mp4") as temporary:
        encode_video(sidecar, temporary)
    _write_json(sidecar_path, sidecar)
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
        _write_json(world_path, world)
    return videos
