"""Drawing multiple-choice questions that text alone cannot answer.

The usual way — take the right answer, add wrong ones near it — leaks: distractors of a
count cluster around the answer (pick the middle), the answer is never the smallest
value, options the question quotes are never right. Here the order is reversed:

1. draw the option set S first: four distinct values, each the right answer of some
   unasked fact of this question type in this video, such that for every member the
   other three are fair wrong options for one of its facts (`QuestionType.compatible`);
2. pick the right option uniformly from S (its position comes from a shuffled deck of
   the four positions, so a video's letters are balanced), then a fact whose answer it is.

So given the options (and their order, which is shuffled or sorted by value), every
option is equally likely to be right: its letter, its rank among values, its length and
how often its value was right elsewhere carry no signal. Negatives follow the same rule:
the absent value (a count of 0) joins S at four times the wanted rate and is then right
a quarter of the time; 'None of the above' (always the last option) likewise, with the
fact drawn among those whose answer is not in S.

"Which of these comes first" types (`QuestionType.decide`) draw four mutually separated
events and ask about the order the video shows; which option is first is not in the text.
"Which of these never appears" draws one absent object and three present ones, all made
of the video's own colors and shapes.

A video with too few values of its own for a question type may fill up to
`max_borrowed` options with values of other videos (`qa/distractors.py`): absent from
this video, so never right and always fair wrong options; the right option is then drawn
uniformly among the video's own and put at the dealt position.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from longvid_pipeline.qa.distractors import Borrowed
from longvid_pipeline.qa.facts import NONE, Fact, FactSettings, QuestionType
from longvid_pipeline.qa.formats import OPTIONS


@dataclass(frozen=True)
class Choice:
    """A drawn multiple-choice question: the fact asked and the option values in order."""

    fact: Fact
    options: tuple[Hashable, ...]
    answer_index: int


def draw_choice(
    qtype: QuestionType,
    facts: list[Fact],
    rng: random.Random,
    settings: FactSettings,
    none_rate: float,
    negative_rate: float,
    attempts: int,
    position: int,
    borrowed: Sequence[Borrowed] = (),
    max_borrowed: int = 0,
) -> Choice | None:
    """One multiple-choice question of `qtype` from unasked `facts`, or None when this
    video has no fair option set (fewer than four usable values, counting at most
    `max_borrowed` of `borrowed`, which fill in only what the video lacks).

    `position` is where the right option goes. Callers deal it from a shuffled deck of
    the four positions, which is uniform and independent of the option set (so every
    option stays equally likely to be right) while a video's letters come out balanced.
    """
    by_value: dict[Hashable, list[Fact]] = defaultdict(list)
    for fact in facts:
        by_value[fact.value].append(fact)
    if qtype.decide is not None:
        return _draw_decided(qtype, by_value, rng, settings, attempts, position)
    with_none = qtype.none_option and rng.random() < OPTIONS * none_rate
    negative = qtype.negative_value
    with_negative = negative in by_value and rng.random() < OPTIONS * negative_rate
    pool = sorted((v for v in by_value if v != negative), key=repr)
    real = OPTIONS - 1 if with_none else OPTIONS
    forced = [negative] if with_negative else []
    wanted = real - len(forced)
    for own in range(min(len(pool), wanted), -1, -1):  # the video's own values first
        lacking = wanted - own
        if own + len(forced) == 0 or lacking > min(max_borrowed, len(borrowed)):
            return None
        for _ in range(attempts):
            members = forced + rng.sample(pool, own) + rng.sample(list(borrowed), lacking)
            viable = _viable(qtype, by_value, members, settings, with_none, with_negative)
            if viable is not None:
                return _choose(qtype, members, viable, with_none, rng, position)
    return None


def _viable(
    qtype: QuestionType,
    by_value: dict[Hashable, list[Fact]],
    members: list[Hashable],
    settings: FactSettings,
    with_none: bool,
    with_negative: bool,
) -> dict[Hashable, list[Fact]] | None:
    """For each option, the facts it may be the answer of (the others fair wrong options);
    None when some option could never be right (then S would give itself away)."""
    viable = {
        value: [f for f in by_value[value] if _fair(qtype, f, members, value, settings)]
        for value in members
        if not isinstance(value, Borrowed)
    }
    if with_none:
        outside = [
            fact
            for value, value_facts in by_value.items()
            if value not in members and (with_negative or value != qtype.negative_value)
            for fact in value_facts
        ]
        viable[NONE] = [fact for fact in outside if _fair(qtype, fact, members, None, settings)]
    return viable if all(viable.values()) else None


def _fair(
    qtype: QuestionType,
    fact: Fact,
    members: list[Hashable],
    own: Hashable,
    settings: FactSettings,
) -> bool:
    return all(
        qtype.compatible(fact, other, settings)
        for other in members
        if other != own and not isinstance(other, Borrowed)
    )


def _choose(
    qtype: QuestionType,
    members: list[Hashable],
    viable: dict[Hashable, list[Fact]],
    with_none: bool,
    rng: random.Random,
    position: int,
) -> Choice:
    """The option at `position` is right (options sorted by value or shuffled, 'None of the
    above' last), then a fact whose answer it is."""
    if any(isinstance(value, Borrowed) for value in members):
        return _choose_with_borrowed(members, viable, with_none, rng, position)
    order = list(members)
    if qtype.extra.get("sort_options"):
        order.sort(key=_by_value)
    else:
        rng.shuffle(order)
    options = [*order, NONE] if with_none else order
    fact = rng.choice(viable[options[position]])
    return Choice(fact, tuple(options), position)


def _choose_with_borrowed(
    members: list[Hashable],
    viable: dict[Hashable, list[Fact]],
    with_none: bool,
    rng: random.Random,
    position: int,
) -> Choice:
    """A borrowed value is never right: the answer is one of the video's own values (or
    'None of the above' when that is dealt), placed at `position`, the rest shuffled."""
    others = list(members)
    rng.shuffle(others)
    if with_none and position == len(members):
        right: Hashable = NONE
    else:
        right = rng.choice([value for value in members if not isinstance(value, Borrowed)])
        others.remove(right)
        others.insert(position, right)
    options = [*others, NONE] if with_none else others
    return Choice(rng.choice(viable[right]), tuple(options), position)


def _by_value(value: Hashable) -> Any:
    """Sort key of numeric option values (counts, spans)."""
    return value


def _draw_decided(
    qtype: QuestionType,
    by_value: dict[Hashable, list[Fact]],
    rng: random.Random,
    settings: FactSettings,
    attempts: int,
    position: int,
) -> Choice | None:
    """Four mutually compatible facts; `qtype.decide` says which one the question is
    about; the others shuffled around it, the right one at `position`."""
    values = sorted(by_value, key=repr)
    if len(values) < OPTIONS:
        return None
    for _ in range(attempts):
        members = rng.sample(values, OPTIONS)
        chosen = [rng.choice(by_value[value]) for value in members]
        if all(
            qtype.compatible(fact, other.value, settings)
            for fact in chosen
            for other in chosen
            if other is not fact
        ):
            asked = qtype.decide(chosen)  # type: ignore[misc]
            if asked is not None:
                others = [value for value in members if value != asked.value]
                rng.shuffle(others)
                options = [*others[:position], asked.value, *others[position:]]
                return Choice(asked, tuple(options), position)
    return None


def draw_open(
    facts: list[Fact], rng: random.Random, negative: Hashable | None, negative_rate: float
) -> Fact | None:
    """One unasked fact for an open question; the absent value at `negative_rate`."""
    if not facts:
        return None
    if negative is None:
        return rng.choice(facts)
    absent = [fact for fact in facts if fact.value == negative]
    present = [fact for fact in facts if fact.value != negative]
    wants_absent = rng.random() < negative_rate
    return rng.choice((absent if wants_absent else present) or absent or present)
