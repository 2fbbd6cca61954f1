"""The segment stage's parameters (recipe key `stages.segment`) and default resources.

Kept apart from the stage so that validating a recipe (`run --check`) imports only this
light module, never PyAV, numpy or the TransNetV2 model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from longvid_pipeline.config import param
from longvid_pipeline.segmenting.sampling import SamplingConfig
from longvid_pipeline.stage import Resources

DETECTOR_NAMES = ("content", "transnetv2", "fixed", "annotations")


@dataclass
class SegmentConfig:
    """Parameters of the segment stage (recipe section `segment`)."""

    default_resources: ClassVar[Resources] = Resources()

    detector: str = param(
        "content",
        "shot detector (transnetv2 is the better choice on a GPU)",
        choices=DETECTOR_NAMES,
    )
    content_min_score: float = param(
        8.0, "content: min mean |RGB difference| (0..255) of a cut frame", min=0.0
    )
    content_adaptive_ratio: float = param(
        3.0, "content: min ratio of a cut's score to its neighbours' mean", min=1.0
    )
    content_window: int = param(
        2, "content: neighbour frames each side for the adaptive ratio", min=1
    )
    transnetv2_threshold: float = param(
        0.5, "transnetv2: cut probability threshold", min=0.0, max=1.0
    )
    transnetv2_device: str = param("auto", "transnetv2: torch device (auto = cuda when present)")
    stride_s: float = param(10.0, "fixed: seconds between cuts", min=0.1)
    min_shot_s: float = param(
        0.6, "cuts closer than this keep only the strongest (seconds)", min=0.0
    )
    min_clip_s: float = param(2.0, "shorter shots merge with a neighbour (seconds)", min=0.0)
    max_clip_s: float = param(30.0, "longer spans split evenly (seconds)", min=0.1)
    merge_similar: bool = param(False, "merge adjacent shots whose sampled frames look alike")
    similarity_threshold: float = param(
        0.9, "colour-histogram intersection that counts as alike", min=0.0, max=1.0
    )
    analysis_width: int = param(48, "content: width of the detector frames", min=8)
    analysis_height: int = param(27, "content: height of the detector frames", min=8)
    stats_fps: float = param(2.0, "frames per second sampled for filter scores", min=0.05)
    stats_width: int = param(160, "width of the frames filter scores look at", min=8)
    stats_height: int = param(90, "height of the frames filter scores look at", min=8)
    decode_threads: int = param(
        1,
        "decoder threads per worker (0 = ffmpeg's choice); 1 costs 5-15% less CPU per video and"
        " workers already run videos in parallel",
        min=0,
    )
    hole_s: float = param(
        0.5, "a gap between frames longer than this is missing video (seconds)", min=0.0
    )
    black_luma: float = param(
        24.0, "luma (0..255) below which a pixel counts as black", min=0.0, max=255.0
    )
    black_pixel_share: float = param(
        0.98, "share of black pixels that makes a sampled frame black", min=0.0, max=1.0
    )
    blank_std: float = param(4.0, "a sampled frame with luma std below this is blank", min=0.0)
    static_motion_scale: float = param(
        6.0, "mean luma change between samples that scores static 0", min=0.01
    )
    quality_half_sharpness: float = param(
        50.0, "Laplacian variance that scores quality 0.5", min=0.01
    )
    filter_mode: str = param(
        "score",
        "score: keep every clip; drop: reject clips past thresholds",
        choices=("score", "drop"),
    )
    max_black_score: float = param(
        0.9, "drop mode: reject clips with black_score above this", min=0.0, max=1.0
    )
    max_static_score: float = param(
        1.0, "drop mode: reject clips with static_score above this", min=0.0, max=1.0
    )
    min_quality_score: float = param(
        0.0, "drop mode: reject clips with quality_score below this", min=0.0, max=1.0
    )
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    write_clip_files: bool = param(
        False, "also write each kept clip as its own mp4 under OUT/clips"
    )
    clip_crf: int = param(20, "x264 CRF of clip files that cannot be stream-copied", min=0, max=51)
    clip_preset: str = param("veryfast", "x264 preset of re-encoded clip files")

    def __post_init__(self) -> None:
        if self.min_clip_s * 2 > self.max_clip_s:
            raise ValueError(
                f"min_clip_s ({self.min_clip_s}) must be at most half of max_clip_s ({self.max_clip_s}) "
                "so that evenly split spans stay above min_clip_s"
            )
