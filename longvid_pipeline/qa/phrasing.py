"""English and timing helpers the question templates share: articles, verb forms, quoting
events, naming scenes, and the order relations questions are defined on."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from longvid_pipeline.ids import stable_hash
from longvid_pipeline.qa.timeline import Event, Scene, Timeline


def with_article(noun_phrase: str) -> str:
    """'a red circle', 'an orange square'."""
    article = "an" if noun_phrase[:1].lower() in "aeiou" else "a"
    return f"{article} {noun_phrase}"


def third_person(action: str) -> str:
    """'bounce left' -> 'bounces left'; already inflected actions stay as they are."""
    verb, _, rest = action.strip().partition(" ")
    if _is_third_person(verb):
        return action.strip()
    if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
        verb += "es"
    elif verb.endswith("y") and verb[-2:-1] not in tuple("aeiou"):
        verb = verb[:-1] + "ies"
    else:
        verb += "s"
    return f"{verb} {rest}".strip()


def base_form(action: str) -> str:
    """'bounces left' -> 'bounce left', for 'does an object ...' questions."""
    verb, _, rest = action.strip().partition(" ")
    if _is_third_person(verb):
        if verb.endswith("ies"):
            verb = verb[:-3] + "y"
        elif verb.endswith(("sses", "shes", "ches", "xes", "zes", "oes")):
            verb = verb[:-2]
        else:
            verb = verb[:-1]
    return f"{verb} {rest}".strip()


def _is_third_person(verb: str) -> bool:
    return verb.endswith("s") and not verb.endswith(("ss", "us", "is"))


def unique_by(events: Iterable[Event], key: Callable[[Event], Any]) -> list[Event]:
    """The events whose `key` no other event shares (so a question naming it is unique)."""
    events = list(events)
    counts = Counter(key(event) for event in events)
    return [event for event in events if counts[key(event)] == 1]


def described(timeline: Timeline) -> list[Event]:
    """Events whose description names them alone in the video (quotable in a question)."""
    return unique_by(timeline.events, lambda e: e.description.lower())


def quote(event: Event) -> str:
    return f'"{event.description}"'


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True when two spans share more than a point."""
    return min(a[1], b[1]) > max(a[0], b[0])


def apart(a: Event, b: Event, tolerance_s: float) -> bool:
    """One event ends at least `tolerance_s` before the other starts (either order)."""
    return a.end_s + tolerance_s <= b.start_s or b.end_s + tolerance_s <= a.start_s


def seconds(value: float) -> str:
    """A moment as questions write it: '45.6s'."""
    return f"{value:.1f}s"


def scene_handle(scene: Scene, scenes: tuple[Scene, ...]) -> str:
    """How a question names a scene: by its background when no other scene shares it,
    else by a moment inside it (its middle)."""
    if scene.background and sum(1 for s in scenes if s.background == scene.background) == 1:
        return f"the scene with the {scene.background} background"
    return f"the scene that includes the moment {seconds((scene.start_s + scene.end_s) / 2)}"


def coin(*parts: Any) -> bool:
    """A fair, deterministic coin from a hash (facts stay pure functions of the timeline)."""
    return int(stable_hash("coin", *parts), 16) % 2 == 0


def sentence(event: Event) -> str:
    """The event's caption as a full sentence."""
    text = event.caption.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


@functools.lru_cache(maxsize=1 << 17)  # bank captions are compared again for every video
def sentences_of(text: str) -> frozenset[str]:
    """The sentences of a caption, lowercased: two captions sharing one say the same thing
    in part (so neither is a fair wrong option for the other)."""
    return frozenset(s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip())
