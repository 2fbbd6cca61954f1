"""Understanding questions: attributes, actions, who does what, and what never appears.

They need a structured, complete timeline. Scenes are named by a background no other
scene has, or by a moment inside them; inside one scene, an object is named by what
makes it unique there (its shape, its object, its action). Absent objects are made of
colors and shapes the video does show, just never together, so the words of a question
never tell present from absent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable

from longvid_pipeline.qa.facts import (
    Fact,
    FactSettings,
    QuestionType,
    always,
    as_sentence,
    capitalized,
)
from longvid_pipeline.qa.formats import NO, YES, YES_NO_INSTRUCTION
from longvid_pipeline.qa.phrasing import described, quote, scene_handle, with_article
from longvid_pipeline.qa.timeline import Event, Timeline

TASK = "understanding"


def _attributed(timeline: Timeline) -> bool:
    return timeline.complete and timeline.structured and bool(timeline.scenes)


def _scene_facts(
    key: Callable[[Event], str | None], value: Callable[[Event], str | None], slot: str
) -> Callable[[Timeline, FactSettings], list[Fact]]:
    """Per scene, the events whose `key` is unique in the scene, asking for `value`."""

    def facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
        if not _attributed(timeline):
            return []
        found = []
        scenes = timeline.scenes
        for scene in scenes:
            counts = Counter(key(e) for e in scene.events)
            for event in scene.events:
                named, answer = key(event), value(event)
                if named and answer and counts[named] == 1:
                    slots = {slot: named, "scene": scene_handle(scene, scenes)}
                    found.append(Fact(slots, answer, (event.span,), key=(scene.index, named)))
        return found

    return facts


def _understanding(
    name: str,
    facts: Callable[[Timeline, FactSettings], list[Fact]],
    answer: Callable[[Fact], str],
    open_p: tuple[str, ...],
    choice_p: tuple[str, ...],
    option: Callable[[Hashable], str] = lambda value: capitalized(str(value)),
    **extra: object,
) -> QuestionType:
    return QuestionType(
        task=TASK,
        name=name,
        facts=facts,
        open_phrasings=open_p,
        choice_phrasings=choice_p,
        answer=answer,
        option=option,
        **extra,  # type: ignore[arg-type]
    )


OBJECT_ACTION = _understanding(
    "object_action",
    _scene_facts(lambda e: e.thing, lambda e: e.action, "object"),
    lambda fact: as_sentence(f"the {fact.slots['object']} {fact.value}"),
    (
        "What does the {object} do in {scene}?",
        "In {scene}, what is the {object} doing?",
        "Describe the motion of the {object} in {scene}.",
        "How does the {object} move in {scene}?",
        "What action does the {object} perform in {scene}?",
    ),
    (
        "What does the {object} do in {scene}?",
        "In {scene}, what is the {object} doing?",
        "Which action does the {object} perform in {scene}?",
        "How does the {object} behave in {scene}?",
        "What is the {object} seen doing in {scene}?",
    ),
)

SHAPE_COLOR = _understanding(
    "shape_color",
    _scene_facts(lambda e: e.shape, lambda e: e.color, "shape"),
    lambda fact: as_sentence(f"the {fact.slots['shape']} is {fact.value}"),
    (
        "What color is the {shape} in {scene}?",
        "In {scene}, which color does the {shape} have?",
        "Tell the color of the {shape} shown in {scene}.",
        "The {shape} in {scene}: what color is it?",
        "Which color is the {shape} that appears in {scene}?",
    ),
    (
        "What color is the {shape} in {scene}?",
        "In {scene}, which color does the {shape} have?",
        "Which color is the {shape} that appears in {scene}?",
        "The {shape} in {scene} is which color?",
        "What is the color of the {shape} in {scene}?",
    ),
)

ACTION_OBJECT = _understanding(
    "action_object",
    _scene_facts(lambda e: e.action, lambda e: e.thing, "action"),
    lambda fact: as_sentence(f"the {fact.value} {fact.slots['action']}"),
    (
        "Which object {action} in {scene}?",
        "In {scene}, what is the object that {action}?",
        "Who {action} in {scene}? Name its color and shape.",
        "Name the object that {action} in {scene}.",
        "What kind of object {action} in {scene}?",
    ),
    (
        "Which object {action} in {scene}?",
        "In {scene}, what is the object that {action}?",
        "Which of these {action} in {scene}?",
        "What object can be seen that {action} in {scene}?",
        "Of the objects in {scene}, which one {action}?",
    ),
    option=lambda value: capitalized(with_article(str(value))),
)


def event_background_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    if not _attributed(timeline):
        return []
    return [
        Fact({"event": quote(e)}, e.background, (e.span,), key=e.span)
        for e in described(timeline)
        if e.background
    ]


EVENT_BACKGROUND = _understanding(
    "event_background",
    event_background_facts,
    lambda fact: as_sentence(f"the background is {fact.value}"),
    (
        "What is the background color while {event}?",
        "On what background does the event {event} take place?",
        "Which background is shown during {event}?",
        "What does the background look like when {event}?",
        "Behind the event {event}, what color is the background?",
    ),
    (
        "What is the background color while {event}?",
        "On which background does the event {event} take place?",
        "Which background is shown during {event}?",
        "Behind the event {event}, what color is the background?",
        "What is the color of the background during {event}?",
    ),
)


def _objects(timeline: Timeline) -> tuple[set[str], set[str]]:
    """(present objects, absent ones made of present colors and shapes)."""
    present = {e.thing for e in timeline.events if e.thing}
    colors = {e.color for e in timeline.events if e.color}
    shapes = {e.shape for e in timeline.events if e.shape}
    combos = {f"{color} {shape}" for color in colors for shape in shapes}
    return present, combos - present


def appearance_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    if not _attributed(timeline):
        return []
    present, absent = _objects(timeline)
    whole = ((0.0, timeline.duration_s),)
    return [
        Fact(
            {"object": with_article(thing)},
            YES if thing in present else NO,
            tuple(e.span for e in timeline.events if e.thing == thing) or whole,
            key=thing,
            negative=thing not in present,
        )
        for thing in sorted(present | absent)
    ]


APPEARANCE = _understanding(
    "appearance",
    appearance_facts,
    lambda fact: str(fact.value),
    (
        "Does {object} appear anywhere in the video?",
        "Is there {object} at any point in the video?",
        "Can {object} be seen in this video?",
        "At any moment, does the video show {object}?",
        "Is {object} ever visible in the video?",
    ),
    (),
    instruction=YES_NO_INSTRUCTION,
    negative_value=NO,
    extra={"absence": True, "negative_rate": 0.5},
)


def absent_object_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    if not _attributed(timeline):
        return []
    present, absent = _objects(timeline)
    whole = ((0.0, timeline.duration_s),)
    return [
        Fact({}, thing, whole, key=thing, negative=thing in absent)
        for thing in sorted(present | absent)
    ]


def _one_absent(chosen: list[Fact]) -> Fact | None:
    absent = [fact for fact in chosen if fact.negative]
    return absent[0] if len(absent) == 1 else None


ABSENT_OBJECT = _understanding(
    "absent_object",
    absent_object_facts,
    lambda fact: as_sentence(with_article(str(fact.value))),
    (),
    (
        "Which of these objects never appears in the video?",
        "Which of the following is not shown at any point in the video?",
        "One of these objects is never seen in the video. Which one?",
        "Which object below does not appear anywhere in the video?",
        "Which of these can never be seen in the video?",
    ),
    option=lambda value: capitalized(with_article(str(value))),
    compatible=always,
    none_option=False,
    decide=_one_absent,
    extra={"absence": True},
)

QUESTION_TYPES = (
    OBJECT_ACTION,
    SHAPE_COLOR,
    ACTION_OBJECT,
    EVENT_BACKGROUND,
    APPEARANCE,
    ABSENT_OBJECT,
)
