"""Caption stage: give every clip a caption (and structured events when known).

Captions are what the QA stage builds questions from, so where they come from is a
backend chosen by name from `CAPTION_BACKENDS`: the ground-truth sidecar of the demo
world ("annotations"), the site's subtitle cues ("subtitles"), and later a VLM on GPU
actors. Registry entries are import paths so a recipe that never names the VLM never
imports a model library; the stage runs in an actor pool (`uses_actor`) so that a model
backend loads once per actor in `setup()`, while the two sidecar backends load nothing.

A clip with nothing to say (no event or cue overlaps it) keeps its row with caption
None: it is still a valid span of the video, and "known empty" is information the QA
stage needs to tell a complete timeline from a gappy one. Such clips are counted in
`item.validation["clips"]["caption_stage.caption_present"]`.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from longvid_pipeline.config import param
from longvid_pipeline.item import WorkItem
from longvid_pipeline.stage import Reject, Stage

# Backend name -> "module:Class". A VLM backend is one more line here, e.g.
# "vlm": "longvid_pipeline.models.captioner:VLMCaptioner".
CAPTION_BACKENDS: dict[str, str] = {
    "annotations": "longvid_pipeline.stages.caption:AnnotationCaptioner",
    "subtitles": "longvid_pipeline.stages.caption:SubtitleCaptioner",
}


@dataclass
class CaptionConfig:
    """Parameters of the caption stage (recipe key `stages.caption`)."""

    backend: str = param("annotations", "where captions come from", choices=tuple(CAPTION_BACKENDS))
    min_overlap_s: float = param(
        0.25,
        "an event or cue captions a clip when it overlaps it by at least this much "
        "(an event shorter than that still captions the clip holding most of it)",
        min=0.0,
    )
    max_caption_chars: int = param(1000, "captions longer than this are cut at a word", min=16)


@dataclass(frozen=True)
class ClipCaption:
    """What a backend says about one clip: text (None: nothing) and structured events."""

    caption: str | None
    attributes: list[dict[str, Any]] | None = None


class Captioner(Protocol):
    """A caption backend: built from the stage config, set up once, then called per video."""

    source: ClassVar[str]

    def __init__(self, config: CaptionConfig) -> None: ...

    def setup(self) -> None: ...

    def model_name(self, item: WorkItem) -> str: ...

    def caption_clips(self, item: WorkItem, clips: list[dict[str, Any]]) -> list[ClipCaption]: ...


def backend_class(name: str) -> type[Captioner]:
    """Import and return the caption backend registered under `name`."""
    module_name, class_name = CAPTION_BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def overlap_s(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Length of the intersection of two spans (0 when they only touch or are apart)."""
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def assign_to_clips(
    spans: list[tuple[float, float]], clips: list[dict[str, Any]], min_overlap_s: float
) -> list[list[int]]:
    """For each clip, the indices of `spans` that caption it.

    A span captions every clip it overlaps by at least `min_overlap_s`; a span that
    reaches that in no clip (shorter than the threshold, or cut in small pieces) still
    captions the clip holding its largest share, so no event or cue is silently lost.
    """
    per_clip: list[list[int]] = [[] for _ in clips]
    for span_index, (start, end) in enumerate(spans):
        overlaps = [overlap_s(start, end, c["start_s"], c["end_s"]) for c in clips]
        chosen = [i for i, ov in enumerate(overlaps) if ov > 0 and ov >= min_overlap_s]
        if not chosen and overlaps and max(overlaps) > 0:
            chosen = [overlaps.index(max(overlaps))]
        for clip_index in chosen:
            per_clip[clip_index].append(span_index)
    return per_clip


def shorten(text: str, max_chars: int) -> str:
    """Cut `text` at a word boundary so it fits `max_chars`, marking the cut with '...'."""
    if len(text) <= max_chars:
        return text
    head = text[: max_chars - 3]
    if text[max_chars - 3] != " " and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:.") + "..."


class AnnotationCaptioner:
    """Captions from a ground-truth sidecar: the events overlapping each clip, in order.

    Each clip's attributes list those events with their span clipped to the clip, plus
    the whole event span (`event_start_s`, `event_end_s`) and the scene background, so
    the QA stage can rebuild exact event spans and scene facts from clips alone.
    """

    source: ClassVar[str] = "annotations"

    def __init__(self, config: CaptionConfig) -> None:
        self.config = config

    def setup(self) -> None:
        """Nothing to load: the sidecar travels with the item."""

    def model_name(self, item: WorkItem) -> str:
        return "demo-world-sidecar"

    def caption_clips(self, item: WorkItem, clips: list[dict[str, Any]]) -> list[ClipCaption]:
        events = self._events(item)
        spans = [(float(e["start_s"]), float(e["end_s"])) for e in events]
        assigned = assign_to_clips(spans, clips, self.config.min_overlap_s)
        return [
            self._describe(clip, [events[i] for i in idx])
            for clip, idx in zip(clips, assigned, strict=True)
        ]

    def _events(self, item: WorkItem) -> list[dict[str, Any]]:
        """Sidecar events in time order, each with its scene's background attached."""
        if not item.annotations or not isinstance(item.annotations.get("events"), list):
            raise Reject(
                "no_captions_source", "backend 'annotations' needs a sidecar with 'events'"
            )
        backgrounds = {
            scene["index"]: scene.get("background") for scene in item.annotations.get("scenes", [])
        }
        events = [
            {**event, "background": backgrounds.get(event.get("scene_index"))}
            for event in item.annotations["events"]
        ]
        return sorted(events, key=lambda e: (float(e["start_s"]), e.get("index", 0)))

    def _describe(self, clip: dict[str, Any], events: list[dict[str, Any]]) -> ClipCaption:
        attributes = [_clipped_event(event, clip) for event in events]
        text = " ".join(str(event["caption"]).strip() for event in events).strip()
        return ClipCaption(caption=text or None, attributes=attributes)


def _clipped_event(event: dict[str, Any], clip: dict[str, Any]) -> dict[str, Any]:
    """One attributes entry: the event restricted to the clip, plus its whole span."""
    keys = ("index", "scene_index", "shape", "color", "action", "caption", "background")
    entry = {key: event.get(key) for key in keys}
    entry["start_s"] = max(float(event["start_s"]), float(clip["start_s"]))
    entry["end_s"] = min(float(event["end_s"]), float(clip["end_s"]))
    entry["event_start_s"] = float(event["start_s"])
    entry["event_end_s"] = float(event["end_s"])
    return entry


class SubtitleCaptioner:
    """Captions from subtitle cues: the text of the cues overlapping each clip.

    Auto-generated captions often repeat a line in consecutive cues; a cue whose text
    equals the previous one kept for the same clip is dropped. No structured events are
    known, so attributes stay None and the QA stage asks only generic questions.
    """

    source: ClassVar[str] = "subtitles"

    def __init__(self, config: CaptionConfig) -> None:
        self.config = config

    def setup(self) -> None:
        """Nothing to load: the cues travel with the item."""

    def model_name(self, item: WorkItem) -> str:
        return "subtitle-cues"

    def caption_clips(self, item: WorkItem, clips: list[dict[str, Any]]) -> list[ClipCaption]:
        if not item.subtitles:
            raise Reject(
                "no_captions_source", "backend 'subtitles' needs subtitle cues; none were kept"
            )
        cues = sorted(item.subtitles, key=lambda cue: float(cue["start_s"]))
        spans = [(float(cue["start_s"]), float(cue["end_s"])) for cue in cues]
        assigned = assign_to_clips(spans, clips, self.config.min_overlap_s)
        return [ClipCaption(caption=_join_cues([cues[i] for i in idx])) for idx in assigned]


def _join_cues(cues: list[dict[str, Any]]) -> str | None:
    """Cue texts in order, whitespace normalized, consecutive repeats dropped."""
    lines: list[str] = []
    for cue in cues:
        text = " ".join(str(cue.get("text", "")).split())
        if text and (not lines or lines[-1] != text):
            lines.append(text)
    return " ".join(lines) or None


class CaptionStage(Stage):
    """Fill caption, caption_source, caption_model and attributes of every clip."""

    name: ClassVar[str] = "caption"
    uses_actor: ClassVar[bool] = True
    Config: ClassVar[type] = CaptionConfig

    def setup(self) -> None:
        """Build the backend once per worker (a model backend loads its weights here)."""
        self.backend: Captioner = backend_class(self.config.backend)(self.config)
        self.backend.setup()

    def process(self, item: WorkItem) -> WorkItem:
        if not item.clips:
            return item
        captions = self.backend.caption_clips(item, item.clips)
        model = self.backend.model_name(item)
        item.clips = [
            self._fill(clip, caption, model)
            for clip, caption in zip(item.clips, captions, strict=True)
        ]
        missing = sum(1 for clip in item.clips if clip["caption"] is None)
        item.validation.setdefault("clips", {})["caption_stage.caption_present"] = {
            "evaluated": len(item.clips),
            "failed": missing,
        }
        return item

    def _fill(self, clip: dict[str, Any], caption: ClipCaption, model: str) -> dict[str, Any]:
        """The clip row with the caption columns set (source and model even when empty)."""
        text = shorten(caption.caption, self.config.max_caption_chars) if caption.caption else None
        attributes = (
            json.dumps(caption.attributes, sort_keys=True)
            if caption.attributes is not None
            else None
        )
        return {
            **clip,
            "caption": text,
            "caption_source": self.backend.source,
            "caption_model": model,
            "attributes": attributes,
        }
