"""Captions from ground-truth annotations (the demo world's sidecar)."""

from __future__ import annotations

from typing import Any, ClassVar

from longvid_pipeline.captioning.base import ClipCaption, assign_to_clips
from longvid_pipeline.item import WorkItem
from longvid_pipeline.stage import Reject


class AnnotationCaptioner:
    """Captions from a ground-truth sidecar: the events overlapping each clip, in order.

    Each clip's attributes list those events with their span clipped to the clip, plus
    the whole event span (`event_start_s`, `event_end_s`) and the scene background, so
    the QA stage can rebuild exact event spans and scene facts from clips alone.
    """

    source: ClassVar[str] = "annotations"

    def __init__(self, config: Any) -> None:
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
