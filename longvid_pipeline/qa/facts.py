"""What a template generator states before any wording: facts and question types.

A `Fact` is one thing that can be asked about a video: the values that fill a question's
phrasing (`slots`), the answer as a value (a count, a span, an event description, a
color), and the spans of the video that prove it. Facts are computed from the timeline
alone, deterministically, so tests can check every one against ground truth.

A `QuestionType` says how facts of one kind become questions: five or more phrasings
per form, how a value reads as an answer or an option, which instruction fixes the
answer's form, and which wrong values are fair distractors for a fact
(`compatible`): an option that would also be a defensible answer, or that is the
quoted event itself, is never offered.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from longvid_pipeline.qa.timeline import ORDER_TOLERANCE_S, Timeline

Span = tuple[float, float]
NONE = "<none of the above>"
"""The value of the 'None of the above' option."""


@dataclass(frozen=True)
class Fact:
    """One askable fact: phrasing slots, the answer value, the evidence spans.

    `key` identifies the thing asked about (an event, an object), so one video never
    gets two questions of the same type about the same thing.
    """

    slots: Mapping[str, str]
    value: Hashable
    evidence: tuple[Span, ...]
    key: Hashable
    negative: bool = False


@dataclass(frozen=True)
class FactSettings:
    """The recipe values fact builders need."""

    order_tolerance_s: float = ORDER_TOLERANCE_S
    max_count: int = 20


class EventValue(NamedTuple):
    """An event as an answer value: how it is described, and its span (for fairness)."""

    description: str
    start_s: float
    end_s: float

    @property
    def span(self) -> Span:
        return (self.start_s, self.end_s)

    @property
    def option(self) -> str:
        return capitalized(self.description)

    @property
    def sentence(self) -> str:
        return as_sentence(self.description)


def event_value(event: Any) -> EventValue:
    """The answer value of a timeline event."""
    return EventValue(event.description, event.start_s, event.end_s)


def event_option(value: Hashable) -> str:
    return value.option if isinstance(value, EventValue) else str(value)


def always(fact: Fact, value: Hashable, settings: FactSettings) -> bool:
    """Every other value is a fair wrong option."""
    return True


def capitalized(text: str) -> str:
    return text[:1].upper() + text[1:]


def as_sentence(text: str) -> str:
    """'a red circle bounces' -> 'A red circle bounces.'"""
    text = capitalized(text.strip())
    return text if text.endswith((".", "!", "?")) else text + "."


@dataclass(frozen=True)
class QuestionType:
    """How facts of one kind become open and multiple-choice questions.

    Attributes:
        task, name: the question type is written `task/name` in the `qa` table.
        facts: timeline -> every askable fact (deterministic).
        open_phrasings / choice_phrasings: format strings over a fact's slots; an empty
            tuple means the form is not offered for this type.
        answer: open answer text of a fact.
        option: option text of a value (multiple choice).
        instruction: the line that ends an open question whose answer has a fixed form.
        compatible: may `value` be a wrong option of `fact` (under these settings)?
        negative_value: the value that means "absent" (count 0), drawn at the task's
            absent rate; None when the type has no negatives of that kind.
        none_option: 'None of the above' may replace the right option.
        decide: for types whose answer depends on the whole option set ("which of these
            comes first", "which of these never appears"): the fact asked, given four
            mutually compatible facts, or None when the set asks nothing.
    """

    task: str
    name: str
    facts: Callable[[Timeline, FactSettings], list[Fact]]
    open_phrasings: tuple[str, ...]
    choice_phrasings: tuple[str, ...]
    answer: Callable[[Fact], str]
    option: Callable[[Hashable], str] = str
    instruction: str | None = None
    compatible: Callable[[Fact, Hashable, FactSettings], bool] = always
    negative_value: Hashable | None = None
    none_option: bool = True
    decide: Callable[[list[Fact]], Fact | None] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.task}/{self.name}"

    def forms(self) -> tuple[str, ...]:
        found = []
        if self.open_phrasings:
            found.append("open")
        if self.choice_phrasings:
            found.append("multiple_choice")
        return tuple(found)
