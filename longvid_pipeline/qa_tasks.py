"""Question generators for the five LongVid task types, from a captioned timeline.

The QA stage turns a video's clips (caption + optional structured `attributes`) into a
`Timeline`, then asks each generator for candidate questions. A generator is one pure
function `Timeline -> list[Candidate]`: it states the question, the answer and, for
multiple choice, a pool of wrong answers; sampling, option shuffling and rows happen
elsewhere, so generators stay deterministic and easy to check against ground truth.

Rules every generator follows, because a wrong label is worse than a missing one:
- a question is only asked when its answer is unique (an event named in a question
  occurs once; "right after" has one clear successor; ...);
- whole-video facts (counts, uniqueness, order) are only asked when the captioned clips
  cover the whole video (`Timeline.complete`): a filtered-out span might hide a match;
- counting, relationship and understanding need structured events (`Timeline.structured`);
  with captions only (subtitles), only caption and grounding questions are asked.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

TASKS = ("caption", "grounding", "counting", "relationship", "understanding")
ORDER_TOLERANCE_S = 0.5  # events starting closer than this are not "one after the other"
LETTERS = "ABCDEFGHIJ"


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
    def span_text(self) -> str:
        return span_text(self.start_s, self.end_s)


@dataclass(frozen=True)
class Timeline:
    """What the QA generators know about one video."""

    duration_s: float
    clips: tuple[Event, ...]  # captioned clips as spans with their caption
    events: tuple[Event, ...]  # structured events, else one per captioned clip; by start
    structured: bool  # events carry shape / color / action (ground truth or a VLM's)
    complete: bool  # clips cover the video up to the allowed gap


@dataclass(frozen=True)
class Candidate:
    """A question before sampling: open-ended when `distractors` is None.

    `template` is "task/variant" (e.g. "relationship/after"); sampling draws evenly
    across variants so a template with many instances does not crowd out the rest.
    """

    template: str
    question: str
    answer: str
    evidence_start_s: float
    evidence_end_s: float
    distractors: tuple[str, ...] | None = None

    @property
    def task(self) -> str:
        return self.template.split("/")[0]


@dataclass(frozen=True)
class Posed:
    """A question as it is written: options shuffled, answer_index set for multiple choice."""

    task: str
    question: str
    answer: str
    evidence_start_s: float
    evidence_end_s: float
    options: list[str] | None = None
    answer_index: int | None = None


# ---------------------------------------------------------------- building the timeline


def span_text(start_s: float, end_s: float) -> str:
    """The answer form of a time span, e.g. 'From 3.0s to 7.5s.'."""
    return f"From {start_s:.1f}s to {end_s:.1f}s."


def build_timeline(clips: list[dict[str, Any]], duration_s: float, max_gap_s: float) -> Timeline:
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


# ---------------------------------------------------------------- shared helpers


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


def _overlaps(a: Event, b: Event) -> bool:
    return min(a.end_s, b.end_s) > max(a.start_s, b.start_s)


def _with_fields(events: Iterable[Event], *names: str) -> list[Event]:
    return [e for e in events if all(getattr(e, name) for name in names)]


def neighbor(events: tuple[Event, ...], target: Event, after: bool) -> Event | None:
    """The event right after (or before) `target`, or None when that is not clear-cut.

    Unclear means: another event overlaps the target, or the two nearest candidates
    start (end) within ORDER_TOLERANCE_S of each other.
    """
    rest = [e for e in events if e is not target]
    if any(_overlaps(e, target) for e in rest):
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


def _quote(event: Event) -> str:
    return f'"{event.phrase}"'


def _sentence(event: Event) -> str:
    text = event.caption.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


# ---------------------------------------------------------------- the five generators

GROUNDING_TEMPLATES = {  # caption source -> open-ended, multiple-choice phrasing
    "subtitles": ("During which time span is {q} said?", "In which time span is {q} said?"),
    "default": (
        "During which time span does the event {q} happen?",
        "In which time span does the event {q} happen?",
    ),
}


def caption_questions(timeline: Timeline) -> list[Candidate]:
    """Describe one clip (open-ended), plus one dense caption of the whole video."""
    found = [
        Candidate(
            "caption/clip",
            f"Describe what happens between {clip.start_s:.1f}s and {clip.end_s:.1f}s.",
            _sentence(clip),
            clip.start_s,
            clip.end_s,
        )
        for clip in timeline.clips
    ]
    if timeline.complete and timeline.events:
        # Numbered lines: a list of events from a small vocabulary stays readable, and the
        # numbers keep it under validate's repeated-3-gram threshold (0.19 vs 0.33 unnumbered for 60 events from 12 captions).
        lines = [
            f"{number}. {span_text(e.start_s, e.end_s)[:-1]}: {_sentence(e)}"
            for number, e in enumerate(timeline.events, start=1)
        ]
        question = "Describe the whole video in order, giving the start and end time of each event."
        found.append(
            Candidate("caption/dense", question, "\n".join(lines), 0.0, timeline.duration_s)
        )
    return found


def grounding_questions(timeline: Timeline) -> list[Candidate]:
    """When does a uniquely described event happen: open-ended and time-span options."""
    if not timeline.complete:
        return []
    found = []
    for event in unique_by(timeline.events, lambda e: e.phrase.lower()):
        open_text, choice_text = GROUNDING_TEMPLATES.get(
            event.source, GROUNDING_TEMPLATES["default"]
        )
        quoted = _quote(event)
        answer = (event.span_text, event.start_s, event.end_s)
        found.append(Candidate("grounding/open", open_text.format(q=quoted), *answer))
        apart = others((e.span_text for e in timeline.events if not _overlaps(e, event)), answer[0])
        found.append(Candidate("grounding/choice", choice_text.format(q=quoted), *answer, apart))
    return found


def counting_questions(timeline: Timeline) -> list[Candidate]:
    """How many events show a given object (color + shape) or a given action."""
    if not (timeline.complete and timeline.structured):
        return []
    by_object: dict[str, list[Event]] = defaultdict(list)
    by_action: dict[str, list[Event]] = defaultdict(list)
    for event in _with_fields(timeline.events, "color", "shape"):
        by_object[_object(event)].append(event)
    for event in _with_fields(timeline.events, "action"):
        by_action[base_form(event.action or "")].append(event)
    questions = [
        ("object", f"How many times does {with_article(name)} appear in the video?", group)
        for name, group in by_object.items()
    ] + [
        ("action", f"How many times does an object {action} in the video?", group)
        for action, group in by_action.items()
    ]
    return [_count_candidate(variant, question, group) for variant, question, group in questions]


def _count_candidate(variant: str, question: str, group: list[Event]) -> Candidate:
    start = min(e.start_s for e in group)
    end = max(e.end_s for e in group)
    return Candidate(
        f"counting/{variant}", question, str(len(group)), start, end, nearby_counts(len(group))
    )


def relationship_questions(timeline: Timeline) -> list[Candidate]:
    """Temporal order: which of two events comes first; what comes right after / before."""
    if not (timeline.complete and timeline.structured):
        return []
    named = unique_by(timeline.events, lambda e: e.phrase.lower())
    found = [
        _first_of(a, b)
        for index, a in enumerate(named)
        for b in named[index + 1 :]
        if a.end_s <= b.start_s
    ]
    captions = [_sentence(e) for e in timeline.events]
    for event in named:
        for after, variant in ((True, "after"), (False, "before")):
            other = neighbor(timeline.events, event, after)
            if other is None:
                continue
            first, last = (event, other) if after else (other, event)
            question = f"What happens right {variant} {_quote(event)}?"
            answer = _sentence(other)
            span = (first.start_s, last.end_s)
            wrong = others(captions, answer)
            found.append(Candidate(f"relationship/{variant}", question, answer, *span, wrong))
    return found


def _first_of(earlier: Event, later: Event) -> Candidate:
    """'Which happens first: A or B?', naming the two in an order that hides the answer."""
    pair = sorted((earlier, later), key=lambda e: e.phrase)
    question = f"Which happens first: {_quote(pair[0])} or {_quote(pair[1])}?"
    return Candidate(
        "relationship/first", question, _sentence(earlier), earlier.start_s, later.end_s
    )


def understanding_questions(timeline: Timeline) -> list[Candidate]:
    """Attributes: what an object does or which color it has, named by scene, action or look."""
    if not (timeline.complete and timeline.structured):
        return []
    events = timeline.events
    actions = [_does(e) for e in _with_fields(events, "action")]
    colors = [e.color or "" for e in _with_fields(events, "color")]
    found = []
    for event in _in_one_scene(_with_fields(events, "shape", "color", "action", "background")):
        scene = f"the scene with the {event.background} background"
        question = f"What does the {event.shape} do in {scene}?"
        found.append(_attribute_candidate("scene_action", question, event, _does(event), actions))
        question = f"What color is the {event.shape} in {scene}?"
        found.append(
            _attribute_candidate("scene_color", question, event, event.color or "", colors)
        )
    for event in unique_by(_with_fields(events, "action", "color"), _does):
        question = f"What color is the object that {_does(event)}?"
        found.append(_attribute_candidate("color", question, event, event.color or "", colors))
    for event in unique_by(_with_fields(events, "action", "color", "shape"), _object):
        question = f"What does the {_object(event)} do in the video?"
        found.append(_attribute_candidate("object_action", question, event, _does(event), actions))
    return found


def _object(event: Event) -> str:
    return f"{event.color} {event.shape}"


def _does(event: Event) -> str:
    return third_person(event.action or "")


def _attribute_candidate(
    variant: str, question: str, event: Event, answer: str, vocabulary: list[str]
) -> Candidate:
    """An understanding question whose wrong options come from the video's vocabulary."""
    return Candidate(
        f"understanding/{variant}",
        question,
        answer,
        event.start_s,
        event.end_s,
        others(vocabulary, answer),
    )


def _in_one_scene(events: list[Event]) -> list[Event]:
    """Events that are the only one of their shape under a background seen in one scene."""
    scenes_per_background: dict[str, set[Any]] = defaultdict(set)
    for event in events:
        scenes_per_background[event.background or ""].add(event.scene_index)
    single = [e for e in events if len(scenes_per_background[e.background or ""]) == 1]
    return unique_by(single, lambda e: (e.background, e.shape))


Generator = Callable[[Timeline], list[Candidate]]

# Generator name -> task -> function. An LLM-written generator plugs in as another name.
GENERATORS: dict[str, dict[str, Generator]] = {
    "longvid-templates/1": {
        "caption": caption_questions,
        "grounding": grounding_questions,
        "counting": counting_questions,
        "relationship": relationship_questions,
        "understanding": understanding_questions,
    },
}


# ---------------------------------------------------------------- sampling and options


def pose(
    candidates: list[Candidate], limit: int, options_count: int, rng: random.Random
) -> list[Posed]:
    """Up to `limit` candidates, chosen and (for multiple choice) shuffled by `rng`.

    Variants take turns (a random pick of each, round after round) so every template
    is represented before any gets a second question. A multiple-choice candidate with
    fewer distinct distractors than `options_count - 1` is dropped: the contract wants
    exactly that many distinct options.
    """
    usable = [
        c
        for c in candidates
        if c.distractors is None or len(set(c.distractors)) >= options_count - 1
    ]
    chosen = sorted(_round_robin(usable, limit, rng))
    return [_posed(usable[index], options_count, rng) for index in chosen]


def _round_robin(candidates: list[Candidate], limit: int, rng: random.Random) -> list[int]:
    """Indices of up to `limit` candidates, taking one per template in turn."""
    queues: dict[str, list[int]] = defaultdict(list)
    for index, candidate in enumerate(candidates):
        queues[candidate.template].append(index)
    turns = list(queues.values())
    rng.shuffle(turns)  # with fewer picks than templates, which templates win is random too
    for queue in turns:
        rng.shuffle(queue)
    chosen: list[int] = []
    while len(chosen) < limit and any(turns):
        for queue in turns:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop())
    return chosen


def _posed(candidate: Candidate, options_count: int, rng: random.Random) -> Posed:
    head = (candidate.task, candidate.question, candidate.answer)
    evidence = (candidate.evidence_start_s, candidate.evidence_end_s)
    if candidate.distractors is None:
        return Posed(*head, *evidence)
    wrong = rng.sample(sorted(set(candidate.distractors)), options_count - 1)
    options = [candidate.answer, *wrong]
    rng.shuffle(options)
    return Posed(*head, *evidence, options=options, answer_index=options.index(candidate.answer))


def options_block(options: list[str]) -> str:
    """'A. ...' lines and the instruction that ends a multiple-choice prompt."""
    lines = [f"{LETTERS[index]}. {option}" for index, option in enumerate(options)]
    return "\n".join([*lines, "Answer with the option's letter."])
