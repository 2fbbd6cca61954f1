"""The captioned timeline the QA generators read: events with spans, captions and, when
known, structured attributes (shape, colour, action, background, scene).

`build_timeline` turns a video's clips (caption + optional `attributes`) into one, and says
whether the captioned clips cover the whole video (`complete`) and whether its events
are structured (`structured`): whole-video facts and attribute questions depend on both.
Clip rows are the source of truth; a video-level summary (when the caption stage stored
one) only travels along for the LLM generator's prompt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Events starting (ending) closer than this are not "one after the other". Fixed, because
# it belongs to the question rather than to a dataset: at the ~1 fps of the sampling plans
# two starts within half a second share a sampled frame or neighbouring ones, so "what
# happens next" would have no single answer a model could see.
ORDER_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class Event:
    """One thing that happens: its span, its caption and, when known, its attributes."""

    start_s: float
    end_s: float
    caption: str
    source: str = "annotations"
    shape: str | None = None
    color: str | None = None
    action: str | None = None
    background: str | None = None
    scene_index: int | None = None

    @property
    def phrase(self) -> str:
        """The caption as a quotable phrase: first letter lowercased, final period dropped."""
        text = self.caption.strip().rstrip(".!")
        return text[:1].lower() + text[1:]

    @property
    def span(self) -> tuple[float, float]:
        return (self.start_s, self.end_s)

    @property
    def thing(self) -> str | None:
        """'red circle' when color and shape are known."""
        return f"{self.color} {self.shape}" if self.color and self.shape else None

    @property
    def description(self) -> str:
        """How questions name the event: 'a red circle bounces' when structured, else the
        caption as a phrase. Structured descriptions leave the background out, so an
        option never gives away which scene it is in."""
        if self.thing and self.action:
            return f"{_article(self.thing)} {self.thing} {self.action}"
        return self.phrase


@dataclass(frozen=True)
class Scene:
    """One scene (shot) of a structured timeline: its span, background and events."""

    index: int
    start_s: float
    end_s: float
    background: str | None
    events: tuple[Event, ...]

    @property
    def span(self) -> tuple[float, float]:
        return (self.start_s, self.end_s)


@dataclass(frozen=True)
class Timeline:
    """What the QA generators know about one video."""

    duration_s: float
    clips: tuple[Event, ...]  # captioned clips as spans with their caption
    events: tuple[Event, ...]  # structured events, else one per captioned clip; by start
    structured: bool  # events carry shape / color / action (ground truth or a VLM's)
    complete: bool  # clips cover the video up to the allowed gap
    summary: str | None = None  # video-level description, when the caption stage wrote one

    @property
    def scenes(self) -> tuple[Scene, ...]:
        """Scenes by start, when events carry scene indices (else none)."""
        grouped: dict[int, list[Event]] = {}
        for event in self.events:
            if event.scene_index is not None:
                grouped.setdefault(event.scene_index, []).append(event)
        scenes = [
            Scene(
                index,
                min(e.start_s for e in members),
                max(e.end_s for e in members),
                members[0].background,
                tuple(members),
            )
            for index, members in grouped.items()
        ]
        return tuple(sorted(scenes, key=lambda scene: scene.start_s))


def _article(noun_phrase: str) -> str:
    return "an" if noun_phrase[:1].lower() in "aeiou" else "a"


def build_timeline(
    clips: list[dict[str, Any]], duration_s: float, max_gap_s: float, summary: str | None = None
) -> Timeline:
    """Timeline of a video from its clip rows (after the caption stage)."""
    ordered = sorted(clips, key=lambda clip: float(clip["start_s"]))
    captioned = tuple(
        Event(float(c["start_s"]), float(c["end_s"]), c["caption"], c.get("caption_source") or "")
        for c in ordered
        if c.get("caption")
    )
    structured = bool(ordered) and all(c.get("attributes") is not None for c in ordered)
    events = _merge_attribute_events(ordered) if structured else captioned
    return Timeline(
        duration_s=duration_s,
        clips=captioned,
        events=events,
        structured=structured and bool(events),
        complete=_covers(ordered, duration_s, max_gap_s),
        summary=summary,
    )


def _merge_attribute_events(clips: list[dict[str, Any]]) -> tuple[Event, ...]:
    """Events from clip attributes; an event cut by a clip boundary becomes one again."""
    merged: dict[Any, dict[str, Any]] = {}
    for clip in clips:
        for entry in json.loads(clip["attributes"]):
            key = entry.get("index")
            if key is None:  # a sidecar without event indices: the event is its caption + start
                key = (entry.get("caption"), entry.get("event_start_s", entry["start_s"]))
            start = entry.get("event_start_s", entry["start_s"])
            end = entry.get("event_end_s", entry["end_s"])
            known = merged.setdefault(key, {**entry, "start_s": start, "end_s": end})
            known["start_s"] = min(known["start_s"], start)
            known["end_s"] = max(known["end_s"], end)
    events = [
        Event(float(e["start_s"]), float(e["end_s"]), str(e["caption"]), **_fields(e))
        for e in merged.values()
    ]
    return tuple(sorted(events, key=lambda e: (e.start_s, e.end_s, e.caption)))


def _fields(entry: dict[str, Any]) -> dict[str, Any]:
    """The structured attributes of an event that questions may name."""
    return {
        name: entry.get(name) for name in ("shape", "color", "action", "background", "scene_index")
    }


def _covers(clips: list[dict[str, Any]], duration_s: float, max_gap_s: float) -> bool:
    """True when no stretch of the video longer than `max_gap_s` lies outside every clip."""
    reached = 0.0
    for clip in clips:
        if float(clip["start_s"]) - reached > max_gap_s:
            return False
        reached = max(reached, float(clip["end_s"]))
    return bool(clips) and duration_s - reached <= max_gap_s
