"""Recipe sections of the caption and summarize stages and their default resources
(light: no model imports, so `run --check` validates a captioning recipe without loading
torch or transformers).

`stages.caption.backends` lists where captions come from, in order; each backend has its
own section (`annotations`, `subtitles`, `transformers`, `vllm`). Several combine: the
first backend with something to say about a clip gives its caption, each later one adds
its text after its label ("Speech: ..."), and the clip row names every contributor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from longvid_pipeline.captioning.formats import FORMATS
from longvid_pipeline.config import param
from longvid_pipeline.models.config import DTYPES, TextLLMConfig, VLLMEngineConfig
from longvid_pipeline.models.registry import CAPTIONERS, VLM_FAMILIES, missing_extra
from longvid_pipeline.stage import Resources

# Backend name -> "module:Class": the sidecar backends here, the model backends from models/.
CAPTION_BACKENDS: dict[str, str] = {
    "annotations": "longvid_pipeline.captioning.annotations:AnnotationCaptioner",
    "subtitles": "longvid_pipeline.captioning.subtitles:SubtitleCaptioner",
    **CAPTIONERS,
}
MODEL_BACKENDS = tuple(CAPTIONERS)

DEFAULT_CAPTION_PROMPT = (
    "Describe this video clip in detail and in the order things happen: the setting, "
    "the people, animals and objects, what each of them does, and any visible text."
)
DEFAULT_SUMMARY_PROMPT = (
    "Below is a timeline of a video: each line is a time span in seconds and what happens "
    "in it. Write a detailed description of the whole video in time order, in one "
    "paragraph, without inventing anything the timeline does not say.\n\n{timeline}"
)


@dataclass
class AnnotationsConfig:
    """Backend `annotations`: timestamped labels a dataset already has."""

    path: str | None = param(
        None,
        "one annotation file for every video (matched by id or URL); null: each input "
        "row's annotations_path / annotations_url",
    )
    format: str = param("auto", "demo | activitynet | coin | jsonl (auto: detect)", choices=FORMATS)
    label: str = param("Labels", "prefix of this backend's text when it is not the first")


@dataclass
class SubtitlesConfig:
    """Backend `subtitles`: subtitle cues and chapter titles aligned to clip spans."""

    chapters: bool = param(True, "start a clip's text with the title of its chapter")
    label: str = param("Speech", "prefix of this backend's text when it is not the first")


@dataclass
class VLMConfig:
    """What every vision-language backend shares: the model, the prompt, the frames."""

    model: str | None = param(
        None, "hub id or local path of a vision-language model; null: none configured"
    )
    family: str = param(
        "auto", "model family (auto: from the model's config)", choices=("auto", *VLM_FAMILIES)
    )
    prompt: str = param(DEFAULT_CAPTION_PROMPT, "instruction given with every clip")
    prompt_template: str | None = param(
        None, "chat format holding {video} and {prompt}; null: the family's own"
    )
    max_new_tokens: int = param(160, "tokens the model may write per clip", min=1)
    frames_per_clip: int = param(8, "frames sampled evenly over each clip", min=1, max=256)
    max_frame_pixels: int | None = param(
        448 * 448,
        "Qwen families: cap on pixels per frame (fewer tokens per clip); null: the model's",
        min=28 * 28,
    )
    clips_per_batch: int = param(8, "clips per generate call (halved on out-of-memory)", min=1)
    label: str = param("Visual", "prefix of this backend's text when it is not the first")


@dataclass
class TransformersConfig(VLMConfig):
    """Backend `transformers`: a Hugging Face VLM in each actor of the stage's pool."""

    dtype: str = param("auto", "auto: bfloat16 on GPU, float32 on CPU", choices=DTYPES)
    device: str = param("auto", "auto: cuda when the actor has a GPU, else cpu")


@dataclass
class VLLMCaptionConfig(VLMConfig):
    """Backend `vllm`: a vLLM engine per actor of the stage's pool (optional extra)."""

    engine: VLLMEngineConfig = param(VLLMEngineConfig(), "the vLLM engine of each actor")


@dataclass
class PrepConfig:
    """The CPU workers that decode and resize frames for a model backend."""

    num_cpus: float = param(1.0, "CPUs per prep worker", min=0.0)
    concurrency: int = param(2, "prep workers at once", min=1)
    max_payload_mb: int = param(
        1024,
        "frames of one video sent to the model actor at most (uint8); clips past it are "
        "decoded by the model actor itself",
        min=1,
    )


@dataclass
class CaptionConfig:
    """Parameters of the caption stage (recipe key `stages.caption`)."""

    default_resources: ClassVar[Resources] = Resources()

    backends: list[str] = param(
        ["annotations"], f"where captions come from, in order (among {list(CAPTION_BACKENDS)})"
    )
    missing_source: str = param(
        "reject",
        "a video no backend can caption: reject it (no_captions_source) or keep its clips "
        "uncaptioned",
        choices=("reject", "keep"),
    )
    min_overlap_s: float = param(
        0.25,
        "an event or cue captions a clip when it overlaps it by at least this much "
        "(an event shorter than that still captions the clip holding most of it)",
        min=0.0,
    )
    max_caption_chars: int = param(1000, "captions longer than this are cut at a word", min=16)
    annotations: AnnotationsConfig = param(AnnotationsConfig(), "backend annotations")
    subtitles: SubtitlesConfig = param(SubtitlesConfig(), "backend subtitles")
    transformers: TransformersConfig = param(TransformersConfig(), "backend transformers")
    vllm: VLLMCaptionConfig = param(VLLMCaptionConfig(), "backend vllm")
    prep: PrepConfig = param(PrepConfig(), "frame decoding for model backends")

    def __post_init__(self) -> None:
        problems = [
            f"backends: unknown backend {name!r}"
            for name in self.backends
            if name not in CAPTION_BACKENDS
        ]
        if not self.backends:
            problems.append("backends: name at least one")
        if len(set(self.backends)) != len(self.backends):
            problems.append("backends: each backend at most once")
        if len(set(self.backends) & set(MODEL_BACKENDS)) > 1:
            problems.append("backends: one model backend at a time (transformers or vllm)")
        problems += [why for name in self.backends if (why := missing_extra(name))]
        path = self.annotations.path
        if "annotations" in self.backends and path and not Path(path).is_file():
            problems.append(f"annotations.path: no file at {path}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def model_backend(self) -> str | None:
        """The configured model backend with a model named, if any."""
        for name in self.backends:
            if name in MODEL_BACKENDS and getattr(self, name).model:
                return name
        return None

    def notices(self) -> list[str]:
        """What a user should know before looking at the output (printed in the summary)."""
        unset = [name for name in self.backends if name in MODEL_BACKENDS]
        if unset and self.model_backend is None:
            name = unset[0]
            return [
                f"caption: no captioner configured (stages.caption.{name}.model is null), so "
                "clips are captioned only from annotations or subtitles when a video has "
                f"them; set one with --set stages.caption.{name}.model=Qwen/Qwen2-VL-2B-Instruct"
                " (a hub id or a local folder)"
            ]
        return []


@dataclass
class SummarizeConfig:
    """Parameters of the summarize stage (recipe key `stages.summarize`)."""

    default_resources: ClassVar[Resources] = Resources(concurrency=1)

    llm: TextLLMConfig = param(TextLLMConfig(), "the text LLM that writes the summary")
    prompt: str = param(DEFAULT_SUMMARY_PROMPT, "instruction; {timeline} is the video's timeline")
    max_timeline_chars: int = param(
        12000, "the timeline given to the model is cut to this many characters", min=100
    )

    def __post_init__(self) -> None:
        if "{timeline}" not in self.prompt:
            raise ValueError("prompt: must contain {timeline}")
        if why := missing_extra(self.llm.backend):
            raise ValueError(why)

    def notices(self) -> list[str]:
        if self.llm.model:
            return []
        return [
            "summarize: no text LLM configured (stages.summarize.llm.model is null), so each "
            "video's summary is its timeline in order; set one with "
            "--set stages.summarize.llm.model=Qwen/Qwen2.5-1.5B-Instruct"
        ]
