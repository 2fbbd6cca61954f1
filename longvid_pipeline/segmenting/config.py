"""The segment stage's parameters (recipe key `stages.segment`) and default resources.

One section per part of the stage, so a recipe reads like the stage works: `detector`
(which shot detector, with each detector's own options), `decode` (the one decode pass),
`filters` (the sampled frames and the black/static/quality scores), `assembly` (shots to
clip spans), `sampling` (the frame plan stored with the video) and `clip_files`.

Kept apart from the stage so that validating a recipe (`run --check`) imports only this
light module, never PyAV, numpy or the TransNetV2 model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from longvid_pipeline.config import param, section
from longvid_pipeline.segmenting.sampling import SamplingConfig
from longvid_pipeline.stage import Resources

DETECTOR_NAMES = ("content", "transnetv2", "fixed", "annotations")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")


@dataclass
class ContentOptions:
    """The `content` detector: frame differences against an adaptive threshold, with the
    camera's motion undone and changes of light (flashes, strobes) filtered out."""

    min_score: float = param(8.0, "min mean |RGB difference| (0..255) of a cut frame", min=0.0)
    adaptive_ratio: float = param(
        3.0, "min ratio of a cut's score to its neighbours' mean", min=1.0
    )
    window: int = param(2, "neighbour frames each side for the adaptive ratio", min=1)
    motion_shift: float = param(
        0.1,
        "largest camera motion per frame undone before differencing, as a fraction of the"
        " frame width (0 = off)",
        min=0.0,
        max=0.25,
    )
    motion_floor: float = param(
        0.3,
        "a cut's score must also stand out against this share of its neighbours'"
        " differences before motion was undone (fast motion is never undone perfectly)",
        min=0.0,
        max=1.0,
    )
    flash_frames: int = param(
        6,
        "a spike whose picture returns within this many frames is a flash, not a cut;"
        " a change that relighting explains is none either (0 = off)",
        min=0,
    )
    flash_match: float = param(
        0.5,
        "'returns' = a difference to the frame before the spike of at most this share of"
        " the spike's own (for a strobe: of its colour-histogram change)",
        min=0.0,
        max=1.0,
    )
    flash_max_s: float = param(
        2.5, "longest strobe (a run of spikes) that can end where it began (seconds)", min=0.0
    )
    width: int = param(48, "width of the detector frames", min=8)
    height: int = param(27, "height of the detector frames", min=8)
    resize: str = param(
        "box",
        "how detector frames are scaled: box (numpy block means where the frame tiles,"
        " several times cheaper) or area (swscale's area average of the whole frame)",
        choices=("box", "area"),
    )


@dataclass
class TransNetV2Options:
    """The `transnetv2` network (its frames are fixed: 48x27, swscale area, as trained)."""

    threshold: float = param(0.5, "cut probability threshold", min=0.0, max=1.0)
    device: str = param("auto", "torch device (auto = cuda when present)")


@dataclass
class FixedOptions:
    """The `fixed` detector: a cut every `stride_s`."""

    stride_s: float = param(10.0, "seconds between cuts", min=0.1)


@dataclass
class DetectorConfig:
    """Which shot detector runs on the decode pass, and each detector's options."""

    name: str = param(
        "content",
        "shot detector (transnetv2 is the better choice on a GPU; annotations reads the"
        " sidecar's scenes)",
        choices=DETECTOR_NAMES,
    )
    min_shot_s: float = param(
        0.6, "content, transnetv2: cuts closer than this keep only the strongest (s)", min=0.0
    )
    content: ContentOptions = section(ContentOptions, "options of detector content")
    transnetv2: TransNetV2Options = section(TransNetV2Options, "options of detector transnetv2")
    fixed: FixedOptions = section(FixedOptions, "options of detector fixed")


@dataclass
class DecodeConfig:
    """The one decode pass that feeds the detector, the filters and decode health."""

    threads: int = param(
        1,
        "decoder threads per worker (0 = ffmpeg's choice); 1 costs 5-15% less CPU per video and"
        " workers already run videos in parallel",
        min=0,
    )
    hole_s: float = param(
        0.5, "a gap between frames longer than this is missing video (seconds)", min=0.0
    )


@dataclass
class FilterConfig:
    """Sampled frames, the scores computed from them, and what drop mode rejects."""

    sample_fps: float = param(
        2.0, "frames per second sampled for filter scores (and merge_similar)", min=0.05
    )
    width: int = param(160, "width of the sampled frames", min=8)
    height: int = param(90, "height of the sampled frames", min=8)
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
    mode: str = param(
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


@dataclass
class AssemblyConfig:
    """How shots become clip spans: length bounds and the optional similarity merge."""

    min_clip_s: float = param(2.0, "shorter shots merge with a neighbour (seconds)", min=0.0)
    max_clip_s: float = param(30.0, "longer spans split evenly (seconds)", min=0.1)
    merge_similar: bool = param(False, "merge adjacent shots whose sampled frames look alike")
    similarity_threshold: float = param(
        0.9, "colour-histogram intersection that counts as alike", min=0.0, max=1.0
    )

    def __post_init__(self) -> None:
        if self.min_clip_s * 2 > self.max_clip_s:
            raise ValueError(
                f"min_clip_s ({self.min_clip_s}) must be at most half of max_clip_s "
                f"({self.max_clip_s}) so that evenly split spans stay above min_clip_s"
            )


@dataclass
class ClipFilesConfig:
    """Optional mp4 files of the kept clips (stream-copied when a clip starts on a keyframe)."""

    write: bool = param(False, "also write each kept clip as its own mp4 under OUT/clips")
    crf: int = param(20, "x264 CRF of clip files that cannot be stream-copied", min=0, max=51)
    preset: str = param("veryfast", "x264 preset of re-encoded clip files", choices=X264_PRESETS)


@dataclass
class SegmentConfig:
    """Parameters of the segment stage (recipe section `segment`), one section per part."""

    default_resources: ClassVar[Resources] = Resources()

    detector: DetectorConfig = section(DetectorConfig, "shots: which detector, its options")
    decode: DecodeConfig = section(DecodeConfig, "the one decode pass")
    filters: FilterConfig = section(FilterConfig, "filter scores of each clip")
    assembly: AssemblyConfig = section(AssemblyConfig, "shots to clip spans")
    sampling: SamplingConfig = section(SamplingConfig, "the frame plan stored with the video")
    clip_files: ClipFilesConfig = section(ClipFilesConfig, "mp4 files of the clips (optional)")
