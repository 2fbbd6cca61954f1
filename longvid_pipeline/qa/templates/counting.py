"""Counting questions: in how many separate scenes something happens.

Counting needs a structured, complete timeline with scenes. Every question says what is
counted — scenes, or objects in one scene — never "how many times", which a viewer could
read as repetitions (a bouncing ball bounces dozens of times in one scene). Every counted
instance's span is kept as evidence; a count of 0 (an object made of a color and a shape
both seen in the video, never together) has the whole video as evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from longvid_pipeline.qa.facts import Fact, FactSettings, QuestionType
from longvid_pipeline.qa.formats import COUNT_INSTRUCTION, format_count
from longvid_pipeline.qa.phrasing import base_form, scene_handle, with_article
from longvid_pipeline.qa.timeline import Event, Timeline

TASK = "counting"


def _countable(timeline: Timeline) -> bool:
    return timeline.complete and timeline.structured and bool(timeline.scenes)


def _matching(timeline: Timeline, key: Callable[[Event], str | None]) -> dict[str, list[Event]]:
    """key -> the events that have it (events of one scene have distinct keys in the
    demo world; scenes are what is counted either way)."""
    found: dict[str, list[Event]] = defaultdict(list)
    for event in timeline.events:
        name = key(event)
        if name and event.scene_index is not None:
            found[name].append(event)
    return found


def _count_facts(
    slot: str, named: dict[str, list[Event]], timeline: Timeline, settings: FactSettings
) -> list[Fact]:
    """One fact per name: the number of distinct scenes among its events."""
    facts = []
    for name, events in named.items():
        scenes = {e.scene_index for e in events}
        if len(scenes) > settings.max_count:
            continue
        evidence = tuple(e.span for e in events) or ((0.0, timeline.duration_s),)
        facts.append(Fact({slot: name}, len(scenes), evidence, key=name, negative=not scenes))
    return facts


def object_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    """Every color+shape pair of the video's colors and shapes: seen ones and absent ones."""
    if not _countable(timeline):
        return []
    seen = _matching(timeline, lambda e: e.thing)
    colors = sorted({e.color for e in timeline.events if e.color})
    shapes = sorted({e.shape for e in timeline.events if e.shape})
    named = {
        with_article(f"{color} {shape}"): seen.get(f"{color} {shape}", [])
        for color in colors
        for shape in shapes
    }
    return _count_facts("object", named, timeline, settings)


def _keyed_facts(
    slot: str, key: Callable[[Event], str | None], name: Callable[[str], str]
) -> Callable[[Timeline, FactSettings], list[Fact]]:
    def facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
        if not _countable(timeline):
            return []
        named = {name(k): events for k, events in sorted(_matching(timeline, key).items())}
        return _count_facts(slot, named, timeline, settings)

    return facts


def scene_objects_facts(timeline: Timeline, settings: FactSettings) -> list[Fact]:
    """How many objects one scene shows (scenes named by background or a moment)."""
    if not _countable(timeline):
        return []
    scenes = timeline.scenes
    return [
        Fact(
            {"scene": scene_handle(scene, scenes)},
            len(scene.events),
            tuple(e.span for e in scene.events),
            key=scene.index,
        )
        for scene in scenes
        if len(scene.events) <= settings.max_count
    ]


def _counting(
    name: str,
    facts: Callable[[Timeline, FactSettings], list[Fact]],
    open_phrasings: tuple[str, ...],
    choice_phrasings: tuple[str, ...],
    negative: bool = False,
) -> QuestionType:
    return QuestionType(
        task=TASK,
        name=name,
        facts=facts,
        open_phrasings=open_phrasings,
        choice_phrasings=choice_phrasings,
        answer=lambda fact: format_count(int(fact.value)),  # type: ignore[call-overload]
        option=lambda value: format_count(int(value)),  # type: ignore[call-overload]
        instruction=COUNT_INSTRUCTION,
        negative_value=0 if negative else None,
        none_option=False,
        extra={"sort_options": True},
    )


OBJECT_SCENES = _counting(
    "object_scenes",
    object_facts,
    (
        "In how many separate scenes does {object} appear?",
        "How many different scenes show {object}?",
        "Count the scenes in which {object} can be seen. How many are there?",
        "In how many of the video's scenes is there {object}?",
        "How many scenes of the video contain {object}?",
    ),
    (
        "In how many separate scenes does {object} appear?",
        "How many different scenes show {object}?",
        "How many scenes of the video contain {object}?",
        "In how many of the video's scenes is there {object}?",
        "Counting scenes, not repetitions: how many scenes include {object}?",
    ),
    negative=True,
)

ACTION_SCENES = _counting(
    "action_scenes",
    _keyed_facts("action", lambda e: e.action, base_form),
    (
        "In how many separate scenes does an object {action}?",
        "How many scenes show something that does this: {action}?",
        "Count the scenes where an object is seen to {action}. How many are there?",
        "In how many different scenes does some object {action}? Count scenes, not repetitions.",
        "How many of the video's scenes contain an object that does the action '{action}'?",
    ),
    (
        "In how many separate scenes does an object {action}?",
        "How many different scenes show an object that does the action '{action}'?",
        "Counting scenes, not repetitions: in how many scenes does something {action}?",
        "How many scenes contain an object that can be seen to {action}?",
        "In how many of the video's scenes does some object {action}?",
    ),
)

COLOR_SCENES = _counting(
    "color_scenes",
    _keyed_facts("color", lambda e: e.color, lambda color: color),
    (
        "In how many separate scenes does a {color} object appear?",
        "How many scenes show at least one {color} object?",
        "Count the scenes that contain something {color}. How many are there?",
        "In how many different scenes can a {color} object be seen?",
        "How many of the video's scenes include a {color} object?",
    ),
    (
        "In how many separate scenes does a {color} object appear?",
        "How many scenes show at least one {color} object?",
        "In how many different scenes can a {color} object be seen?",
        "How many of the video's scenes include a {color} object?",
        "Counting scenes, not objects: how many scenes contain something {color}?",
    ),
)

SHAPE_SCENES = _counting(
    "shape_scenes",
    _keyed_facts("shape", lambda e: e.shape, lambda shape: shape),
    (
        "In how many separate scenes does a {shape} appear, whatever its color?",
        "How many scenes show at least one {shape}?",
        "Count the scenes that contain a {shape} of any color. How many are there?",
        "In how many different scenes can a {shape} be seen?",
        "How many of the video's scenes include a {shape}?",
    ),
    (
        "In how many separate scenes does a {shape} appear, whatever its color?",
        "How many scenes show at least one {shape}?",
        "In how many different scenes can a {shape} be seen?",
        "How many of the video's scenes include a {shape}?",
        "Counting scenes, not shapes: how many scenes contain a {shape} of any color?",
    ),
)

SCENE_OBJECTS = _counting(
    "scene_objects",
    scene_objects_facts,
    (
        "How many objects appear in {scene}?",
        "Count the objects that can be seen in {scene}. How many are there?",
        "How many different objects does {scene} show?",
        "In {scene}, how many objects appear, counting each object once?",
        "What is the number of objects in {scene}?",
    ),
    (),  # 1 to 3 objects per scene: too few values for four fair options
)

QUESTION_TYPES = (OBJECT_SCENES, ACTION_SCENES, COLOR_SCENES, SHAPE_SCENES, SCENE_OBJECTS)
