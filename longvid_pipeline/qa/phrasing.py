"""English helpers the question templates share: articles, verb forms, quoting events,
and picking distinct values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from longvid_pipeline.qa.timeline import ORDER_TOLERANCE_S, Event


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


def others(values: Iterable[str], answer: str) -> tuple[str, ...]:
    """Distinct values other than `answer`, in first-seen order: a distractor pool."""
    return tuple(dict.fromkeys(value for value in values if value != answer))


def nearby_counts(count: int) -> tuple[str, ...]:
    """Wrong counts close to the right one (never negative), as option texts."""
    return tuple(str(n) for n in range(max(0, count - 3), count + 4) if n != count)


def overlaps(a: Event, b: Event) -> bool:
    return min(a.end_s, b.end_s) > max(a.start_s, b.start_s)


def with_fields(events: Iterable[Event], *names: str) -> list[Event]:
    return [e for e in events if all(getattr(e, name) for name in names)]


def neighbor(events: tuple[Event, ...], target: Event, after: bool) -> Event | None:
    """The event right after (or before) `target`, or None when that is not clear-cut.

    Unclear means: another event overlaps the target, or the two nearest candidates
    start (end) within ORDER_TOLERANCE_S of each other.
    """
    rest = [e for e in events if e is not target]
    if any(overlaps(e, target) for e in rest):
        return None
    if after:
        side = sorted((e for e in rest if e.start_s >= target.end_s), key=lambda e: e.start_s)
        gaps = [e.start_s for e in side]
    else:
        side = sorted((e for e in rest if e.end_s <= target.start_s), key=lambda e: -e.end_s)
        gaps = [-e.end_s for e in side]
    if not side or (len(side) > 1 and gaps[1] - gaps[0] < ORDER_TOLERANCE_S):
        return None
    return side[0]


def quote(event: Event) -> str:
    return f'"{event.phrase}"'


def sentence(event: Event) -> str:
    text = event.caption.strip()
    return text if text.endswith((".", "!", "?")) else text + "."
