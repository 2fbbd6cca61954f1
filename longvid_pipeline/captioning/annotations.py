"""Captions from timestamped labels: the demo world's sidecar or a dataset's annotations.

The labels come from the input row's own file (`annotations_path` / `annotations_url`,
read by fetch) or from one file for the whole source (`stages.caption.annotations.path`,
read once per worker); either may hold many videos, matched to this one by id or URL
(`captioning.formats`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from longvid_pipeline.captioning.base import Captions, ClipCaption, assign_to_clips
from longvid_pipeline.captioning.formats import (
    AnnotationFormatError,
    Segment,
    detect_format,
    match_keys,
    parse_annotations,
    read_annotation_file,
    segments_for,
)
from longvid_pipeline.item import WorkItem
from longvid_pipeline.stage import Reject

DEMO_KEYS = ("index", "scene_index", "shape", "color", "action", "caption", "background")
DATASET_KEYS = ("index", "caption", "label")


class AnnotationCaptioner:
    """Captions from labelled spans: the events overlapping each clip, in order.

    Each clip's attributes list those events with their span clipped to the clip plus
    the whole event span (`event_start_s`, `event_end_s`), so the QA stage can rebuild
    exact event spans from clips alone; demo-world events also carry shape, colour,
    action and the scene background.
    """

    source: ClassVar[str] = "annotations"

    def __init__(self, config: Any) -> None:
        self.config = config
        self.settings = config.annotations
        self.shared: dict[str | None, list[Segment]] | None = None
        self.shared_format = ""

    def setup(self) -> None:
        """Read the source-wide annotation file once per worker (when the recipe names one)."""
        if self.settings.path:
            raw = read_annotation_file(Path(self.settings.path))
            fmt = self.settings.format
            self.shared_format = detect_format(raw) if fmt == "auto" else fmt
            self.shared = parse_annotations(raw, self.shared_format)

    def caption_clips(
        self, item: WorkItem, clips: list[dict[str, Any]], prepared: Any = None
    ) -> Captions:
        events, model, keys = self._events(item)
        spans = [(float(e["start_s"]), float(e["end_s"])) for e in events]
        assigned = assign_to_clips(spans, clips, self.config.min_overlap_s)
        return Captions(
            model=model,
            clips=[
                _describe(clip, [events[i] for i in idx], keys)
                for clip, idx in zip(clips, assigned, strict=True)
            ],
        )

    def _events(self, item: WorkItem) -> tuple[list[dict[str, Any]], str, tuple[str, ...]]:
        """This video's events in time order, what they came from, and the attribute keys."""
        raw = item.annotations
        raw_format = self._format_of(raw)
        if raw_format == "demo":
            return _demo_events(raw or {}), "demo-world-sidecar", DEMO_KEYS
        keys = match_keys(item.source, self._site_id(item))
        found: list[Segment] | None = None
        origin = ""
        if raw is not None and raw_format is not None:
            try:
                found = segments_for(parse_annotations(raw, raw_format), keys)
            except AnnotationFormatError as exc:
                raise Reject("bad_annotations", str(exc)) from exc
            origin = str(item.source.get("annotations_path") or item.source.get("annotations_url"))
        if found is None and self.shared is not None:
            found, origin = segments_for(self.shared, keys), str(self.settings.path)
        if found is None:
            raise Reject(
                "no_captions_source",
                "backend 'annotations' found no labels for this video "
                f"(a sidecar with 'events', or a dataset file matching one of {keys[:6]})",
            )
        fmt = self.shared_format if origin == str(self.settings.path) else raw_format
        model = f"{fmt}:{Path(origin).name}"
        return [_segment_event(segment) for segment in found], model, DATASET_KEYS

    def _format_of(self, raw: dict[str, Any] | None) -> str | None:
        """The format of the row's own annotations; None when absent or not one we read
        (a folder's `<name>.json` may hold anything)."""
        if raw is None:
            return None
        if self.settings.format != "auto":
            return str(self.settings.format)
        try:
            return detect_format(raw)
        except AnnotationFormatError:
            return None

    def _site_id(self, item: WorkItem) -> str | None:
        """The site's own id of the video (YouTube id etc.) from the kept info JSON."""
        if not item.media_path:
            return None
        info = Path(item.media_path).with_suffix(".info.json")
        try:
            return str(json.loads(info.read_text()).get("id") or "") or None
        except (OSError, ValueError):
            return None


def _demo_events(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """Demo sidecar events in time order, each with its scene's background attached."""
    backgrounds = {scene["index"]: scene.get("background") for scene in raw.get("scenes", [])}
    events = [
        {**event, "background": backgrounds.get(event.get("scene_index"))}
        for event in raw["events"]
    ]
    return sorted(events, key=lambda e: (float(e["start_s"]), e.get("index", 0)))


def _segment_event(segment: Segment) -> dict[str, Any]:
    return {
        "index": segment.index,
        "start_s": segment.start_s,
        "end_s": segment.end_s,
        "caption": segment.text,
        "label": segment.label,
    }


def _describe(
    clip: dict[str, Any], events: list[dict[str, Any]], keys: tuple[str, ...]
) -> ClipCaption:
    attributes = [_clipped_event(event, clip, keys) for event in events]
    text = " ".join(str(event["caption"]).strip() for event in events).strip()
    return ClipCaption(caption=text or None, attributes=attributes)


def _clipped_event(
    event: dict[str, Any], clip: dict[str, Any], keys: tuple[str, ...]
) -> dict[str, Any]:
    """One attributes entry: the event restricted to the clip, plus its whole span."""
    entry = {key: event.get(key) for key in keys}
    entry["start_s"] = max(float(event["start_s"]), float(clip["start_s"]))
    entry["end_s"] = min(float(event["end_s"]), float(clip["end_s"]))
    entry["event_start_s"] = float(event["start_s"])
    entry["event_end_s"] = float(event["end_s"])
    return entry
