"""Ground truth for QA tests: every template question re-answered from a demo sidecar.

The slots of a question (the quoted event, the object, the scene) are read back from its
text with the question type's own phrasings turned into patterns; everything after that
— which events match, what the count, the order, the color is — is derived here from
the sidecar's events alone, independently of the generators.
"""

from __future__ import annotations

import re
from typing import Any

from longvid_pipeline.qa.formats import NO, NONE_OF_THE_ABOVE, YES
from longvid_pipeline.qa.templates import QUESTION_TYPES

Row = dict[str, Any]


def _pattern(phrasing: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", phrasing)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>.+?)"
        for index, part in enumerate(parts)
    )
    return re.compile(regex)


def slots_of(row: Row) -> dict[str, str]:
    """The slot values a question was written with."""
    task, name = row["question_type"].split("/")
    qtype = next(t for t in QUESTION_TYPES[task] if t.name == name)
    phrasings = qtype.open_phrasings if row["form"] == "open" else qtype.choice_phrasings
    readings = [
        {key: value.strip('"') for key, value in match.groupdict().items()}
        for phrasing in phrasings
        if (match := _pattern(phrasing).fullmatch(row["question"]))
    ]
    assert readings, f"no phrasing of {row['question_type']} reads {row['question']!r}"
    assert all(r == readings[0] for r in readings), f"ambiguous: {row['question']!r}"
    return readings[0]


def base(action: str) -> str:
    verb, _, rest = action.partition(" ")
    return f"{verb[:-1]} {rest}".strip()


def span_text(start: float, end: float) -> str:
    return f"From {start:.1f}s to {end:.1f}s."


class Truth:
    """A sidecar's events and scenes, and the answers they give."""

    def __init__(self, sidecar: dict[str, Any]) -> None:
        backgrounds = {s["index"]: s["background"] for s in sidecar["scenes"]}
        self.events = sorted(
            ({**e, "background": backgrounds[e["scene_index"]]} for e in sidecar["events"]),
            key=lambda e: e["start_s"],
        )
        self.scenes = sidecar["scenes"]

    @staticmethod
    def describe(event: dict[str, Any]) -> str:
        article = "an" if event["color"][0] in "aeiou" else "a"
        return f"{article} {event['color']} {event['shape']} {event['action']}"

    def named(self, description: str) -> dict[str, Any]:
        found = [e for e in self.events if self.describe(e) == description.lower()]
        assert len(found) == 1, f"{description!r} names {len(found)} events"
        return found[0]

    def option_event(self, option: str) -> dict[str, Any] | None:
        """The event an option names; None for one the video never shows (an option
        borrowed from another video: a fair wrong option whatever the question)."""
        description = option.rstrip(".").lower()
        found = [e for e in self.events if self.describe(e) == description]
        assert len(found) <= 1, f"{option!r} names {len(found)} events"
        return found[0] if found else None

    def scene(self, handle: str) -> dict[str, Any]:
        by_background = re.fullmatch(r"the scene with the (.+) background", handle)
        if by_background:
            found = [s for s in self.scenes if s["background"] == by_background.group(1)]
        else:
            moment = float(re.fullmatch(r"the scene that includes the moment (.+)s", handle)[1])
            found = [s for s in self.scenes if s["start_s"] <= moment < s["end_s"]]
        assert len(found) == 1, handle
        return found[0]

    def in_scene(self, scene: dict[str, Any]) -> list[dict[str, Any]]:
        return [e for e in self.events if e["scene_index"] == scene["index"]]

    def scenes_where(self, test: Any) -> int:
        return len({e["scene_index"] for e in self.events if test(e)})


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return min(a[1], b[1]) > max(a[0], b[0])


def _span(event: dict[str, Any]) -> tuple[float, float]:
    return (event["start_s"], event["end_s"])


def check_row(row: Row, truth: Truth, clips: list[Row]) -> None:
    """Assert that the row's answer is the one the sidecar gives (and, for multiple choice,
    that it is the only defensible option)."""
    slots = slots_of(row)
    kind = row["question_type"].split("/")[1]
    task = row["task"]
    expected = CHECKS[(task, kind)](slots, truth, clips, row)
    if row["options"] is None:
        assert row["answer"] == expected, (row["question"], row["answer"], expected)
        return
    options = row["options"]
    assert options[row["answer_index"]] == row["answer"]
    if row["answer"] == NONE_OF_THE_ABOVE:
        assert expected not in options, (row["question"], options, expected)
    else:
        assert row["answer"] == expected, (row["question"], options, expected)
    assert options.count(expected) <= 1


def _caption_clip(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    found = [
        c
        for c in clips
        if f"{c['start_s']:.1f}s" == slots["start"] and f"{c['end_s']:.1f}s" == slots["end"]
    ]
    assert len(found) == 1
    events = [
        e for e in truth.events if _overlaps(_span(e), (found[0]["start_s"], found[0]["end_s"]))
    ]
    assert events
    for option in row["options"] or []:  # wrong options describe none of the window's events
        if option not in (row["answer"], NONE_OF_THE_ABOVE):
            assert not any(e["caption"] in option for e in events), option
    return found[0]["caption"]


def _caption_dense(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    lines = []
    for scene in sorted(truth.scenes, key=lambda s: s["start_s"]):
        events = truth.in_scene(scene)
        if not events:
            continue
        start, end = min(e["start_s"] for e in events), max(e["end_s"] for e in events)
        told = "; ".join(
            f"{truth.describe(e)} from {e['start_s']:.1f}s to {e['end_s']:.1f}s" for e in events
        )
        lines.append(
            f"{len(lines) + 1}. {span_text(start, end)[:-1]}, {scene['background']} background: {told}."
        )
    return "\n".join(lines)


def _event_span(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    event = truth.named(slots["event"])
    for option in row["options"] or []:
        if option != NONE_OF_THE_ABOVE and option != span_text(*_span(event)):
            start, end = map(float, re.fullmatch(r"From (.+)s to (.+)s\.", option).groups())
            assert not _overlaps((start, end), _span(event)), (option, event)
    return span_text(*_span(event))


def _span_event(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    found = [
        e
        for e in truth.events
        if span_text(*_span(e)) == f"From {slots['start']} to {slots['end']}."
    ]
    assert len(found) == 1
    for option in row["options"] or []:
        event = truth.option_event(option)
        if option not in (NONE_OF_THE_ABOVE, row["answer"]) and event is not None:
            assert not _overlaps(_span(event), _span(found[0]))
    return _sentence(found[0], row)


def _sentence(event: dict[str, Any], row: Row) -> str:
    description = Truth.describe(event)
    return description[:1].upper() + description[1:] + ("." if row["options"] is None else "")


def _outside(
    row: Row, truth: Truth, window: tuple[float, float], quoted: list[dict[str, Any]]
) -> None:
    for option in row["options"] or []:
        if option in (NONE_OF_THE_ABOVE, row["answer"]):
            continue
        event = truth.option_event(option)
        if event is None:  # borrowed from another video: happens nowhere in this one
            continue
        assert event not in quoted and not _overlaps(_span(event), window), (
            row["question"],
            option,
        )


def _after(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    anchor = truth.named(slots["event"])
    later = sorted(
        (e for e in truth.events if e["start_s"] >= anchor["end_s"] - 0.05),
        key=lambda e: e["start_s"],
    )
    assert len(later) == 1 or later[1]["start_s"] - later[0]["start_s"] >= 0.5
    _outside(row, truth, (anchor["start_s"], later[0]["end_s"]), [anchor])
    return _sentence(later[0], row)


def _before(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    anchor = truth.named(slots["event"])
    earlier = sorted(
        (e for e in truth.events if e["end_s"] <= anchor["start_s"] + 0.05),
        key=lambda e: -e["end_s"],
    )
    assert len(earlier) == 1 or earlier[0]["end_s"] - earlier[1]["end_s"] >= 0.5
    _outside(row, truth, (min(earlier[0]["start_s"], anchor["start_s"]), anchor["end_s"]), [anchor])
    return _sentence(earlier[0], row)


def _between(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    first, last = truth.named(slots["first"]), truth.named(slots["last"])
    gap = (first["end_s"], last["start_s"])
    inside = [e for e in truth.events if _overlaps(_span(e), gap)]
    assert (
        len(inside) == 1
        and first["end_s"] - 0.05 <= inside[0]["start_s"]
        and inside[0]["end_s"] <= last["start_s"] + 0.05
    )
    _outside(row, truth, (first["start_s"], last["end_s"]), [first, last])
    return _sentence(inside[0], row)


def _of_two(earliest: bool) -> Any:
    def check(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
        a, b = truth.named(slots["a"]), truth.named(slots["b"])
        assert a["end_s"] + 0.5 <= b["start_s"] or b["end_s"] + 0.5 <= a["start_s"]
        first, second = sorted((a, b), key=lambda e: e["start_s"])
        return _sentence(first if earliest else second, row)

    return check


def _of_four(earliest: bool) -> Any:
    def check(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
        events = sorted(
            (truth.named(o.rstrip(".")) for o in row["options"]), key=lambda e: e["start_s"]
        )
        for one, other in zip(events, events[1:], strict=False):
            assert one["end_s"] + 0.5 <= other["start_s"]  # no overlap, clearly ordered
        return _sentence(events[0] if earliest else events[-1], row)

    return check


def _count(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    if "object" in slots:
        color, shape = slots["object"].split(" ", 1)[1].split(" ", 1)
        return str(truth.scenes_where(lambda e: (e["color"], e["shape"]) == (color, shape)))
    if "action" in slots:
        return str(truth.scenes_where(lambda e: base(e["action"]) == slots["action"]))
    if "color" in slots:
        return str(truth.scenes_where(lambda e: e["color"] == slots["color"]))
    if "shape" in slots:
        return str(truth.scenes_where(lambda e: e["shape"] == slots["shape"]))
    return str(len(truth.in_scene(truth.scene(slots["scene"]))))


def _one_in_scene(truth: Truth, slots: dict[str, str], test: Any) -> dict[str, Any]:
    found = [e for e in truth.in_scene(truth.scene(slots["scene"])) if test(e)]
    assert len(found) == 1, slots
    return found[0]


def _object_action(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    event = _one_in_scene(truth, slots, lambda e: f"{e['color']} {e['shape']}" == slots["object"])
    if row["options"] is None:
        return f"The {slots['object']} {event['action']}."
    return event["action"].capitalize()


def _shape_color(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    event = _one_in_scene(truth, slots, lambda e: e["shape"] == slots["shape"])
    return (
        f"The {slots['shape']} is {event['color']}."
        if row["options"] is None
        else event["color"].capitalize()
    )


def _action_object(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    event = _one_in_scene(truth, slots, lambda e: e["action"] == slots["action"])
    thing = f"{event['color']} {event['shape']}"
    if row["options"] is None:
        return f"The {thing} {slots['action']}."
    return ("An " if thing[0] in "aeiou" else "A ") + thing


def _event_background(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    event = truth.named(slots["event"])
    background = event["background"]
    return f"The background is {background}." if row["options"] is None else background.capitalize()


def _present(truth: Truth, thing: str) -> bool:
    return any(f"{e['color']} {e['shape']}" == thing for e in truth.events)


def _appearance(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    thing = slots["object"].split(" ", 1)[1]
    return YES if _present(truth, thing) else NO


def _absent_object(slots: dict[str, str], truth: Truth, clips: list[Row], row: Row) -> str:
    absent = [o for o in row["options"] if not _present(truth, o.split(" ", 1)[1].lower())]
    assert len(absent) == 1, row["options"]
    return absent[0]


CHECKS = {
    ("caption", "clip"): _caption_clip,
    ("caption", "dense"): _caption_dense,
    ("grounding", "event_span"): _event_span,
    ("grounding", "span_event"): _span_event,
    ("relationship", "after"): _after,
    ("relationship", "before"): _before,
    ("relationship", "between"): _between,
    ("relationship", "first_of_two"): _of_two(True),
    ("relationship", "last_of_two"): _of_two(False),
    ("relationship", "first_of_four"): _of_four(True),
    ("relationship", "last_of_four"): _of_four(False),
    ("counting", "object_scenes"): _count,
    ("counting", "action_scenes"): _count,
    ("counting", "color_scenes"): _count,
    ("counting", "shape_scenes"): _count,
    ("counting", "scene_objects"): _count,
    ("understanding", "object_action"): _object_action,
    ("understanding", "shape_color"): _shape_color,
    ("understanding", "action_object"): _action_object,
    ("understanding", "event_background"): _event_background,
    ("understanding", "appearance"): _appearance,
    ("understanding", "absent_object"): _absent_object,
}


def ranks_of(options: list[str]) -> list[int | None]:
    """Rank of each numeric option among the numeric ones (None for other options)."""
    values = [float(o) if o.replace(".", "", 1).isdigit() else None for o in options]
    ordered = sorted(v for v in values if v is not None)
    return [None if v is None else ordered.index(v) for v in values]
