"""Relationship questions: the order of events, defined on their start and end times.

Every question says which times it compares, so each has exactly one defensible answer:
- after X: the event that starts first once X has ended (the next start comes at least
  the order tolerance later);
- before X: the event that is last to end before X starts (the one before it ends at
  least the tolerance earlier);
- between X and Z: the one event lying between X's end and Z's start, nothing else
  overlapping that gap;
- first / last of two (open) and of four (multiple choice): events that do not overlap,
  separated by at least the tolerance.
A wrong option never overlaps the stretch from the quoted event to the answer, and is
never the quoted event.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from longvid_pipeline.qa.distractors import EVENT
from longvid_pipeline.qa.facts import (
    EventValue,
    Fact,
    FactSettings,
    QuestionType,
    event_option,
    event_value,
)
from longvid_pipeline.qa.phrasing import apart, coin, described, overlaps, quote
from longvid_pipeline.qa.timeline import Event, Timeline

TASK = "relationship"
EPSILON_S = 0.05  # an event ending exactly when another starts is before it
PARTNERS = 6  # per event, pairs with this many later events (keeps long videos linear)


def _ordered(timeline: Timeline) -> bool:
    return timeline.complete and len(timeline.events) >= 2


def _next_after(events: list[Event], anchor: Event, tolerance_s: float) -> Event | None:
    later = [e for e in events if e.start_s >= anchor.end_s - EPSILON_S]
    later.sort(key=lambda e: e.start_s)
    if not later or (len(later) > 1 and later[1].start_s - later[0].start_s < tolerance_s):
        return None
    return later[0]


def _last_before(events: list[Event], anchor: Event, tolerance_s: float) -> Event | None:
    earlier = [e for e in events if e.end_s <= anchor.start_s + EPSILON_S]
    earlier.sort(key=lambda e: -e.end_s)
    if not earlier or (len(earlier) > 1 and earlier[0].end_s - earlier[1].end_s < tolerance_s):
        return None
    return earlier[0]


def _neighbor_facts(
    find: Callable[[list[Event], Event, float], Event | None],
) -> Callable[[Timeline, FactSettings], list[Fact]]:
    """Facts 'the event right after / before X': X and the answer both uniquely named."""

    def facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
        if not _ordered(timeline):
            return []
        named = described(timeline)
        quotable = {id(e) for e in named}
        found = []
        for anchor in named:
            other = find(list(timeline.events), anchor, settings.order_tolerance_s)
            if other is None or id(other) not in quotable:
                continue
            found.append(
                Fact(
                    {"event": quote(anchor)},
                    event_value(other),
                    (anchor.span, other.span),
                    key=anchor.span,
                )
            )
        return found

    return facts


def _outside_evidence(fact: Fact, value: Hashable, settings: FactSettings) -> bool:
    """A wrong option lies wholly outside the stretch the question is about."""
    if not isinstance(value, EventValue):
        return False
    start = min(s for s, _ in fact.evidence)
    end = max(e for _, e in fact.evidence)
    return not overlaps((start, end), value.span)


def _neighbor_type(
    name: str,
    find: Callable[[list[Event], Event, float], Event | None],
    open_p: tuple[str, ...],
    choice_p: tuple[str, ...],
) -> QuestionType:
    return QuestionType(
        task=TASK,
        name=name,
        facts=_neighbor_facts(find),
        open_phrasings=open_p,
        choice_phrasings=choice_p,
        answer=lambda fact: fact.value.sentence,  # type: ignore[attr-defined]
        option=event_option,
        compatible=_outside_evidence,
        extra={"borrow": EVENT},
    )


AFTER = _neighbor_type(
    "after",
    _next_after,
    (
        "Once {event} has ended, which event starts next?",
        "What is the first event to begin after {event} is over?",
        "After the end of {event}, what happens next?",
        "Which event starts soonest after {event} finishes?",
        "When {event} ends, which event is the next one to start?",
    ),
    (
        "Once {event} has ended, which event starts next?",
        "Which of these events is the first to begin after {event} is over?",
        "After the end of {event}, which event starts first?",
        "Which event starts soonest after {event} finishes?",
        "When {event} ends, which of these is the next event to start?",
    ),
)

BEFORE = _neighbor_type(
    "before",
    _last_before,
    (
        "Which event is the last to end before {event} starts?",
        "Before {event} begins, which event finishes most recently?",
        "What is the latest event to end before the start of {event}?",
        "Which event ends closest before {event} begins?",
        "Just before {event} starts, which event has most recently ended?",
    ),
    (
        "Which event is the last to end before {event} starts?",
        "Which of these events finishes most recently before {event} begins?",
        "What is the latest event to end before the start of {event}?",
        "Which event ends closest before {event} begins?",
        "Just before {event} starts, which of these events has most recently ended?",
    ),
)


def between_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    """X and Z uniquely named with exactly one event in the gap between X's end and Z's
    start, and nothing else touching that gap."""
    if not _ordered(timeline):
        return []
    named = sorted(described(timeline), key=lambda e: e.start_s)
    quotable = {id(e) for e in named}
    found = []
    for first in named:
        for last in (e for e in named if e.start_s > first.end_s):
            gap = (first.end_s, last.start_s)
            touching = [e for e in timeline.events if overlaps(gap, e.span)]
            if len(touching) > 1:
                break  # later partners only widen the gap
            if gap[1] - gap[0] < settings.order_tolerance_s or len(touching) != 1:
                continue
            middle = touching[0]
            inside = middle.start_s >= gap[0] - EPSILON_S and middle.end_s <= gap[1] + EPSILON_S
            if inside and id(middle) in quotable:
                found.append(
                    Fact(
                        {"first": quote(first), "last": quote(last)},
                        event_value(middle),
                        (first.span, middle.span, last.span),
                        key=(first.span, last.span),
                    )
                )
    return found


BETWEEN = QuestionType(
    task=TASK,
    name="between",
    facts=between_facts,
    open_phrasings=(
        "Which event happens between the end of {first} and the start of {last}?",
        "After {first} ends and before {last} begins, what happens?",
        "What takes place in the gap between {first} and {last}?",
        "Between the end of {first} and the beginning of {last}, which event occurs?",
        "Which event lies in time between {first} and {last}?",
    ),
    choice_phrasings=(
        "Which event happens between the end of {first} and the start of {last}?",
        "After {first} ends and before {last} begins, which of these happens?",
        "Which of these events takes place between {first} and {last}?",
        "Between the end of {first} and the beginning of {last}, which event occurs?",
        "Which event lies in time between {first} and {last}?",
    ),
    answer=lambda fact: fact.value.sentence,  # type: ignore[attr-defined]
    option=event_option,
    compatible=_outside_evidence,
    extra={"borrow": EVENT},
)


def _pair_facts(earliest: bool) -> Callable[[Timeline, FactSettings], list[Fact]]:
    """Two separated, uniquely named events; quoted in an order a coin decides."""

    def facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
        if not _ordered(timeline):
            return []
        named = sorted(described(timeline), key=lambda e: e.start_s)
        found = []
        for index, first in enumerate(named):
            later = [e for e in named[index + 1 :] if apart(first, e, settings.order_tolerance_s)]
            for second in later[:PARTNERS]:
                answer = first if earliest else second
                shown = (first, second) if coin(first.span, second.span) else (second, first)
                found.append(
                    Fact(
                        {"a": quote(shown[0]), "b": quote(shown[1])},
                        event_value(answer),
                        (first.span, second.span),
                        key=(first.span, second.span),
                    )
                )
        return found

    return facts


def _pair_type(name: str, earliest: bool, open_p: tuple[str, ...]) -> QuestionType:
    return QuestionType(
        task=TASK,
        name=name,
        facts=_pair_facts(earliest),
        open_phrasings=open_p,
        choice_phrasings=(),  # two quoted events: asked with four options as first/last_of_four
        answer=lambda fact: fact.value.sentence,  # type: ignore[attr-defined]
        none_option=False,
    )


FIRST_OF_TWO = _pair_type(
    "first_of_two",
    True,
    (
        "Which happens first: {a} or {b}?",
        "Of {a} and {b}, which one comes earlier in the video?",
        "Does {a} or {b} happen first?",
        "Which starts earlier in the video, {a} or {b}?",
        "Between {a} and {b}, which event takes place first?",
    ),
)

LAST_OF_TWO = _pair_type(
    "last_of_two",
    False,
    (
        "Which happens later: {a} or {b}?",
        "Of {a} and {b}, which one comes later in the video?",
        "Does {a} or {b} happen last?",
        "Which starts later in the video, {a} or {b}?",
        "Between {a} and {b}, which event takes place second?",
    ),
)


def _event_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    if not _ordered(timeline):
        return []
    return [Fact({}, event_value(e), (e.span,), key=e.span) for e in described(timeline)]


def _pick(earliest: bool) -> Callable[[list[Fact]], Fact | None]:
    def pick(chosen: list[Fact]) -> Fact | None:
        ordered = sorted(chosen, key=lambda f: f.value.start_s)  # type: ignore[attr-defined]
        asked = ordered[0] if earliest else ordered[-1]
        evidence = tuple(f.evidence[0] for f in ordered)
        return Fact({}, asked.value, evidence, key=asked.key)

    return pick


def _separated(fact: Fact, value: Hashable, settings: FactSettings) -> bool:
    """The two events do not overlap and lie at least the order tolerance apart."""
    if not isinstance(value, EventValue):
        return False
    one, tolerance = fact.value, settings.order_tolerance_s
    return (
        one.end_s + tolerance <= value.start_s  # type: ignore[attr-defined]
        or value.end_s + tolerance <= one.start_s  # type: ignore[attr-defined]
    )


def _among_type(name: str, earliest: bool, choice_p: tuple[str, ...]) -> QuestionType:
    return QuestionType(
        task=TASK,
        name=name,
        facts=_event_facts,
        open_phrasings=(),
        choice_phrasings=choice_p,
        answer=lambda fact: fact.value.sentence,  # type: ignore[attr-defined]
        option=event_option,
        compatible=_separated,
        none_option=False,
        decide=_pick(earliest),
    )


FIRST_OF_FOUR = _among_type(
    "first_of_four",
    True,
    (
        "Which of these events happens first in the video?",
        "Which of the following comes earliest?",
        "Of these events, which one starts first?",
        "Which event below takes place before all the others?",
        "Which of these is the earliest event in the video?",
    ),
)

LAST_OF_FOUR = _among_type(
    "last_of_four",
    False,
    (
        "Which of these events happens last in the video?",
        "Which of the following comes latest?",
        "Of these events, which one starts last?",
        "Which event below takes place after all the others?",
        "Which of these is the latest event in the video?",
    ),
)

QUESTION_TYPES = (AFTER, BEFORE, BETWEEN, FIRST_OF_TWO, LAST_OF_TWO, FIRST_OF_FOUR, LAST_OF_FOUR)
