"""Recipe key `stages.niah`: the benchmark grid, needles, clues and prompts.

Light on purpose (no PIL, no pyarrow): `run --check` validates a recipe by building this
config, and the driver reads the grid from it to enumerate the build's inputs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from longvid_pipeline.config import param
from longvid_pipeline.stage import Resources

DEPTHS = [0, 20, 40, 60, 80, 100]
CLUE_FIELD = "{caption}"


@dataclass
class MultiHopGrid:
    """MH-NIAH (VideoChat-Flash): a chain of clue needles to a final needle, plus a
    distractor chain of the same shape. Every (length, depth) cell gets the same count."""

    lengths: list[int] = param(
        [500, 1000, 1500, 2000, 2500, 3000],
        "frames per sample: haystack frames plus needle frames",
    )
    depths: list[int] = param(
        list(DEPTHS), "percent of the way through the sample where the final needle starts"
    )
    hops: list[int] = param(
        [1, 2, 3], "clue needles before the final needle; the samples of a cell cycle through them"
    )
    distractor_needles: int = param(
        3, "needles of the distractor chain (its own clues, its own final needle)", min=0
    )
    samples_per_cell: int = param(3, "samples per (length, depth) cell; 0 turns MH-NIAH off", min=0)

    def __post_init__(self) -> None:
        _check_grid(self.lengths, self.depths)
        if not self.hops or min(self.hops) < 1:
            raise ValueError("hops: every entry must be >= 1 (single-hop is `single_hop`)")


@dataclass
class SingleHopGrid:
    """Single-hop V-NIAH (LongVA): one needle, no clue, no distractor chain."""

    lengths: list[int] = param(
        [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000],
        "frames per sample: haystack frames plus needle frames",
    )
    depths: list[int] = param(list(DEPTHS), "percent of the way through the sample of the needle")
    samples_per_cell: int = param(1, "samples per (length, depth) cell; 0 turns V-NIAH off", min=0)

    def __post_init__(self) -> None:
        _check_grid(self.lengths, self.depths)


def _check_grid(lengths: list[int], depths: list[int]) -> None:
    if not lengths or min(lengths) < 1:
        raise ValueError("lengths: need at least one length, each >= 1 frame")
    if not depths or min(depths) < 0 or max(depths) > 100:
        raise ValueError("depths: need at least one depth, each in 0..100 (percent)")
    if len(set(lengths)) != len(lengths) or len(set(depths)) != len(depths):
        raise ValueError("lengths and depths must not repeat")


@dataclass
class FramesConfig:
    """How a sample is laid out in time and space."""

    fps: float = param(
        1.0, "haystack frames per second of dataset video (and the sample's rate)", min=0.01
    )
    width: int = param(640, "frame width of needles and rendered samples (pixels, even)", min=64)
    height: int = param(360, "frame height of needles and rendered samples (pixels, even)", min=64)
    hold_frames: int = param(1, "consecutive frames each needle is shown", min=1)
    min_gap_frames: int = param(1, "haystack frames at least between two needles", min=0)
    allow_repeat: bool = param(
        True, "when the dataset has fewer frames than a haystack needs, loop over its videos again"
    )

    def __post_init__(self) -> None:
        if self.width % 2 or self.height % 2:
            raise ValueError("width and height must be even (H.264 yuv420p)")


@dataclass
class NeedlesConfig:
    """Where needle images come from."""

    kind: str = param(
        "synthetic",
        "synthetic: rendered cards with exact attributes; manifest: user images",
        choices=("synthetic", "manifest"),
    )
    manifest: str | None = param(
        None,
        "manifest kind: CSV/JSONL with url (image path or URL), caption, question, options, answer",
    )
    allow_loopback: bool = param(False, "manifest URLs may resolve to loopback addresses")
    allow_private: bool = param(False, "manifest URLs may resolve to private addresses")
    max_image_mb: float = param(20.0, "reject manifest images larger than this (MiB)", min=0.01)
    timeout_s: float = param(30.0, "socket timeout of each image request (seconds)", min=0.1)

    def __post_init__(self) -> None:
        if self.kind == "manifest" and not self.manifest:
            raise ValueError("needles.manifest is required when needles.kind is manifest")


@dataclass
class CluesConfig:
    """The instruction rendered onto each clue needle, and the prompts."""

    position: str = param(
        "top", "band of the needle that holds the clue text", choices=("top", "bottom")
    )
    font_size: int = param(20, "clue text size (pixels)", min=8)
    padding: int = param(8, "space around the clue text inside its box (pixels)", min=0)
    max_lines: int = param(
        3, "lines of clue text the band holds (longer clues reject the sample)", min=1
    )
    clue_template: str = param(
        "Find the frame of {caption}.", "text on a clue needle; {caption} names the next needle"
    )
    multi_hop_prompt: str = param(
        "Find the frame of {caption}. Each frame you are sent to tells you which frame to find"
        " next; follow them until a frame gives no instruction: that is the final frame.",
        "MH-NIAH prompt; {caption} names the first needle",
    )
    single_hop_prompt: str = param(
        "One frame of this video is an inserted card that is not part of the video:"
        " that is the final frame.",
        "V-NIAH prompt",
    )

    def __post_init__(self) -> None:
        for name in ("clue_template", "multi_hop_prompt"):
            if getattr(self, name).count(CLUE_FIELD) != 1:
                raise ValueError(f"{name} must contain {CLUE_FIELD} exactly once")


@dataclass
class NiahConfig:
    """Parameters of the niah stage (recipe key `stages.niah`)."""

    default_resources: ClassVar[Resources] = Resources(num_cpus=1.0, concurrency=2)

    multi_hop: MultiHopGrid = dataclasses.field(default_factory=MultiHopGrid)
    single_hop: SingleHopGrid = dataclasses.field(default_factory=SingleHopGrid)
    frames: FramesConfig = dataclasses.field(default_factory=FramesConfig)
    needles: NeedlesConfig = dataclasses.field(default_factory=NeedlesConfig)
    clues: CluesConfig = dataclasses.field(default_factory=CluesConfig)
    seed: int = param(0, "seed of needles, placements and haystacks (mixed with the run seed)")
    generator: str = param(
        "longvid-niah/1", "name and version of the builder", choices=("longvid-niah/1",)
    )

    def __post_init__(self) -> None:
        frames = self.frames
        slot = frames.hold_frames + frames.min_gap_frames
        tracks = []
        if self.multi_hop.samples_per_cell:
            needles = max(self.multi_hop.hops) + 1 + self.multi_hop.distractor_needles
            tracks.append(("multi_hop", self.multi_hop.lengths, needles))
        if self.single_hop.samples_per_cell:
            tracks.append(("single_hop", self.single_hop.lengths, 1))
        for name, lengths, needles in tracks:
            # Enough for any depth of the final needle: see haystack.place_needles.
            need = needles * slot + frames.hold_frames
            if min(lengths) < need:
                raise ValueError(
                    f"{name}.lengths: {min(lengths)} frames cannot place {needles} needles of"
                    f" {frames.hold_frames} frames {frames.min_gap_frames} apart at every depth"
                    f" (need >= {need})"
                )
