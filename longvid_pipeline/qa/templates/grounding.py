"""Grounding questions: when does a named event happen (event -> span), and which event
fills a given span (span -> event).

Only events whose description is unique in the video are named, and only when the
captioned clips cover the whole video (a gap might hide a second occurrence). A wrong
option never overlaps the right span, so exactly one option is defensible.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable

from longvid_pipeline.qa.distractors import EVENT
from longvid_pipeline.qa.facts import (
    EventValue,
    Fact,
    FactSettings,
    QuestionType,
    event_option,
    event_value,
)
from longvid_pipeline.qa.formats import SPAN_INSTRUCTION, format_span
from longvid_pipeline.qa.phrasing import described, overlaps, quote, seconds
from longvid_pipeline.qa.timeline import Timeline

TASK = "grounding"


def event_span_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    if not timeline.complete:
        return []
    return [
        Fact({"event": quote(event)}, event.span, (event.span,), key=event.span)
        for event in described(timeline)
    ]


def _span_apart(fact: Fact, value: Hashable, settings: FactSettings) -> bool:
    return isinstance(value, tuple) and not overlaps(fact.evidence[0], value)


EVENT_SPAN = QuestionType(
    task=TASK,
    name="event_span",
    facts=event_span_facts,
    open_phrasings=(
        "During which time span does the event {event} happen?",
        "When does {event} take place in the video?",
        "At what time does {event} start, and when does it end?",
        "Find the part of the video where {event}: when is it?",
        "From when to when does the video show {event}?",
    ),
    choice_phrasings=(
        "In which time span does the event {event} happen?",
        "When does {event} take place?",
        "Which time span covers exactly the event {event}?",
        "During which part of the video does {event} happen?",
        "Which span of the video shows {event}?",
    ),
    answer=lambda fact: format_span(*fact.value),  # type: ignore[misc]
    option=lambda value: format_span(*value),  # type: ignore[misc]
    instruction=SPAN_INSTRUCTION,
    compatible=_span_apart,
    extra={"sort_options": True},
)


def span_event_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    """Events named by their exact span (spans that read the same are skipped)."""
    if not timeline.complete:
        return []
    events = described(timeline)
    spans = Counter(format_span(*e.span) for e in events)
    return [
        Fact(
            {"start": seconds(e.start_s), "end": seconds(e.end_s)},
            event_value(e),
            (e.span,),
            key=e.span,
        )
        for e in events
        if spans[format_span(*e.span)] == 1
    ]


def _event_apart(fact: Fact, value: Hashable, settings: FactSettings) -> bool:
    return isinstance(value, EventValue) and not overlaps(fact.evidence[0], value.span)


SPAN_EVENT = QuestionType(
    task=TASK,
    name="span_event",
    facts=span_event_facts,
    open_phrasings=(
        "Which event starts at {start} and ends at {end}?",
        "What happens from exactly {start} until {end}?",
        "Which event lasts from {start} to {end}?",
        "Name the event that begins at {start} and stops at {end}.",
        "What event occupies the span from {start} to {end}?",
    ),
    choice_phrasings=(
        "Which event starts at {start} and ends at {end}?",
        "Which of these events lasts from {start} to {end}?",
        "What happens from exactly {start} until {end}?",
        "Which event begins at {start} and stops at {end}?",
        "Which event occupies the span from {start} to {end}?",
    ),
    answer=lambda fact: fact.value.sentence,  # type: ignore[attr-defined]
    option=event_option,
    compatible=_event_apart,
    extra={"borrow": EVENT},
)

QUESTION_TYPES = (EVENT_SPAN, SPAN_EVENT)
