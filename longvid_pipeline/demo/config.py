"""The demo world's recipe section, apart from planning and rendering so that validating
a recipe imports neither PIL nor the renderer."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from longvid_pipeline.config import param

GENERATOR_VERSION = 1
"""Bumped whenever the same seed would render a different world (invalidates caches)."""


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
