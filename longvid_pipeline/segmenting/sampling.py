"""Duration-based frame sampling plans, shared by the pipeline and the model side.

VideoChat-Flash samples long videos at about 1 fps, in multiples of the 4-frame clip its
HiCo compressor works on, between 64 and 512 frames. The plan is computed once here
and stored with the video and QA rows, so trainer and evaluator see exactly the frames
the data was built for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from longvid_pipeline.config import param

TIMESTAMP_PROMPT = (
    "The video lasts for {duration:.2f} seconds, and {frames} frames are uniformly sampled from it."
)
# Any timestamp prompt in a text: this format, and VideoChat-Flash's long variant that lists
# the times ("... uniformly sampled at 0.5, 1.5 seconds."), so a reader can replace it.
TIMESTAMP_PROMPT_PATTERN = re.compile(
    r"The video lasts for [0-9.]+ seconds, and [0-9]+ frames are uniformly sampled "
    r"(?:from it|at [0-9., ]*seconds)\."
)


def timestamp_prompt(duration_s: float, frames: int) -> str:
    """The sentence that tells the model how long the video is and how many frames it sees."""
    return TIMESTAMP_PROMPT.format(duration=duration_s, frames=frames)


@dataclass
class SamplingConfig:
    """The four numbers of a sampling plan (recipe key `sampling`)."""

    fps: float = param(1.0, "sampling rate before clamping (frames per second of video)", min=0.01)
    min_frames: int = param(64, "lower bound Tmin on the frame count", min=1)
    max_frames: int = param(512, "upper bound Tmax on the frame count", min=1)
    multiple: int = param(
        4, "frame count is a multiple of this (the compressor's clip size)", min=1
    )

    def __post_init__(self) -> None:
        if self.min_frames > self.max_frames:
            raise ValueError(f"min_frames ({self.min_frames}) > max_frames ({self.max_frames})")


@dataclass(frozen=True)
class SamplingPlan:
    """T frames at the given timestamps, and the prompt that tells the model so."""

    frames: int
    fps: float
    timestamps: list[float]
    prompt: str


def frame_count(duration_s: float, config: SamplingConfig) -> int:
    """T = min(Tmax, max(D*fps, Tmin)), rounded to the nearest multiple of `multiple`."""
    raw = min(config.max_frames, max(duration_s * config.fps, config.min_frames))
    rounded = max(config.multiple, int(round(raw / config.multiple)) * config.multiple)
    ceiling = (config.max_frames // config.multiple) * config.multiple or config.multiple
    return min(rounded, ceiling)


def plan_for(duration_s: float, config: SamplingConfig, start_s: float = 0.0) -> SamplingPlan:
    """Uniform plan over [start_s, start_s + duration_s]: one frame at each segment's middle."""
    frames = frame_count(duration_s, config)
    step = duration_s / frames
    timestamps = [round(start_s + (index + 0.5) * step, 4) for index in range(frames)]
    prompt = timestamp_prompt(duration_s, frames)
    return SamplingPlan(frames=frames, fps=config.fps, timestamps=timestamps, prompt=prompt)
