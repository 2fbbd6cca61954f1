"""The caption stage's parameters (recipe key `stages.caption`), its backends' names and
default resources.

Kept apart from the stage so that validating a recipe (`run --check`) imports only this
light module, never a caption backend or its model library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from longvid_pipeline.config import param
from longvid_pipeline.stage import Resources

# Backend name -> "module:Class". A VLM backend is one more line here, e.g.
# "vlm": "longvid_pipeline.models.captioner:VLMCaptioner".
CAPTION_BACKENDS: dict[str, str] = {
    "annotations": "longvid_pipeline.captioning.annotations:AnnotationCaptioner",
    "subtitles": "longvid_pipeline.captioning.subtitles:SubtitleCaptioner",
}


@dataclass
class CaptionConfig:
    """Parameters of the caption stage (recipe key `stages.caption`)."""

    default_resources: ClassVar[Resources] = Resources()

    backend: str = param("annotations", "where captions come from", choices=tuple(CAPTION_BACKENDS))
    min_overlap_s: float = param(
        0.25,
        "an event or cue captions a clip when it overlaps it by at least this much "
        "(an event shorter than that still captions the clip holding most of it)",
        min=0.0,
    )
    max_caption_chars: int = param(1000, "captions longer than this are cut at a word", min=16)
