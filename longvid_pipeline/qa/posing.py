"""From facts to posed questions: how many per task, which form, which type, which words.

For one video and task, `pose_task` decides the number of questions (the quota grows
with the video's duration, within the recipe's caps), splits them into open and
multiple-choice slots at the task's share, and fills each slot from the question types
in turn (a shuffled rotation, so every type is represented before any gets a second
question). Absence questions ('does X appear?', 'which never appears?') take a slot at
the task's absent rate. A type that has nothing left to ask for a form drops out of
that form's rotation; a slot no type can fill is left empty.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass

from longvid_pipeline.qa.choices import draw_choice, draw_open
from longvid_pipeline.qa.config import QAConfig, QuotaConfig
from longvid_pipeline.qa.distractors import Borrowed, unwrap
from longvid_pipeline.qa.facts import NONE, Fact, FactSettings, QuestionType, Span
from longvid_pipeline.qa.formats import NONE_OF_THE_ABOVE, OPTIONS
from longvid_pipeline.qa.timeline import Timeline

OPEN, CHOICE = "open", "multiple_choice"


@dataclass(frozen=True)
class Posed:
    """A question as it is written: text, answer, options, evidence, and its family."""

    task: str
    question_type: str
    form: str
    question: str
    answer: str
    evidence: tuple[Span, ...]
    negative: bool = False
    instruction: str | None = None
    options: list[str] | None = None
    answer_index: int | None = None


def task_quota(duration_s: float, quota: QuotaConfig) -> int:
    """Questions per task for a video of `duration_s`: per_minute, within the caps."""
    wanted = round(quota.per_minute * duration_s / 60.0)
    return max(quota.min_per_task, min(quota.max_per_task, wanted))


def _split(count: int, share: float, rng: random.Random) -> int:
    """`count * share` rounded up or down at random (so small videos hit the share on average)."""
    exact = count * share
    return math.floor(exact) + (1 if rng.random() < exact - math.floor(exact) else 0)


class _TaskPoser:
    """Fills one task's slots for one video."""

    def __init__(
        self,
        task: str,
        types: tuple[QuestionType, ...],
        timeline: Timeline,
        config: QAConfig,
        rng: random.Random,
        borrowed: dict[str, list[Borrowed]],
    ) -> None:
        self.task, self.config, self.rng = task, config, rng
        self.borrowed = borrowed
        self.settings = FactSettings(max_count=config.counting.max_count)
        self.section = config.task(task)
        self.absent_rate = float(getattr(self.section, "absent_rate", 0.0))
        self.facts = {qtype.name: qtype.facts(timeline, self.settings) for qtype in types}
        self.used: dict[str, set[Hashable]] = {qtype.name: set() for qtype in types}
        self.deck: list[int] = []
        self.rotations = {
            (absence, form): self._rotation(types, absence, form)
            for absence in (False, True)
            for form in (OPEN, CHOICE)
        }

    def _rotation(
        self, types: tuple[QuestionType, ...], absence: bool, form: str
    ) -> deque[QuestionType]:
        members = [
            t
            for t in types
            if bool(t.extra.get("absence")) == absence and form in t.forms() and self.facts[t.name]
        ]
        self.rng.shuffle(members)
        return deque(members)

    def pose(self, count: int) -> list[Posed]:
        open_count = _split(count, self.section.open_share, self.rng)
        forms = [OPEN] * open_count + [CHOICE] * (count - open_count)
        self.rng.shuffle(forms)
        posed = []
        for form in forms:
            absence = self.rng.random() < self.absent_rate and any(
                self.rotations[(True, f)] for f in (OPEN, CHOICE)
            )
            question = self._fill(absence, form) or self._fill(absence, _other(form))
            if question is not None:
                posed.append(question)
        return posed

    def _fill(self, absence: bool, form: str) -> Posed | None:
        """The next type in rotation that can still ask something in `form`."""
        rotation = self.rotations[(absence, form)]
        for _ in range(len(rotation)):
            qtype = rotation.popleft()
            question = self._ask(qtype, form)
            if question is not None:
                rotation.append(qtype)
                return question
        return None

    def _ask(self, qtype: QuestionType, form: str) -> Posed | None:
        available = [f for f in self.facts[qtype.name] if f.key not in self.used[qtype.name]]
        negative_rate = float(qtype.extra.get("negative_rate", self.absent_rate))
        if form == OPEN:
            fact = draw_open(available, self.rng, qtype.negative_value, negative_rate)
            asked = None if fact is None else (self._open(qtype, fact), fact)
        else:
            asked = self._choice(qtype, available, negative_rate)
        if asked is None:
            return None
        self.used[qtype.name].add(asked[1].key)
        return asked[0]

    def _open(self, qtype: QuestionType, fact: Fact) -> Posed:
        phrasing = self.rng.choice(qtype.open_phrasings)
        return Posed(
            self.task,
            qtype.full_name,
            OPEN,
            phrasing.format(**fact.slots),
            qtype.answer(fact),
            fact.evidence,
            negative=fact.negative,
            instruction=qtype.instruction,
        )

    def _position(self) -> int:
        """The next right-option position from the task's deck (consumed only when a
        question is actually asked, so a failed draw does not skew the balance)."""
        if not self.deck:
            self.deck = _deal(self.rng)
        return self.deck[-1]

    def _choice(
        self, qtype: QuestionType, available: list[Fact], negative_rate: float
    ) -> tuple[Posed, Fact] | None:
        choice = draw_choice(
            qtype,
            available,
            self.rng,
            self.settings,
            self.config.choice.none_rate,
            negative_rate,
            self.config.choice.attempts,
            self._position(),
            self.borrowed.get(str(qtype.extra.get("borrow")), []),
            self.config.distractors.max_borrowed,
        )
        if choice is None:
            return None
        options = [
            NONE_OF_THE_ABOVE if v == NONE else qtype.option(unwrap(v)) for v in choice.options
        ]
        if len(set(options)) != OPTIONS:
            return None
        self.deck.pop()
        fact = choice.fact
        phrasing = self.rng.choice(qtype.choice_phrasings)
        negative = fact.negative or choice.options[choice.answer_index] == NONE
        posed = Posed(
            self.task,
            qtype.full_name,
            CHOICE,
            phrasing.format(**fact.slots),
            options[choice.answer_index],
            fact.evidence,
            negative=negative,
            options=options,
            answer_index=choice.answer_index,
        )
        return posed, fact


def _deal(rng: random.Random) -> list[int]:
    deck = list(range(OPTIONS))
    rng.shuffle(deck)
    return deck


def _other(form: str) -> str:
    return CHOICE if form == OPEN else OPEN


def pose_task(
    task: str,
    types: tuple[QuestionType, ...],
    timeline: Timeline,
    config: QAConfig,
    rng: random.Random,
    borrowed: dict[str, list[Borrowed]] | None = None,
) -> list[Posed]:
    """The template questions of one task for one video; `borrowed`: per kind, wrong
    options of other videos that may fill option sets the video cannot
    (`qa/distractors.py`)."""
    if task == "caption" and not config.caption.dense:
        types = tuple(t for t in types if t.name != "dense")
    count = task_quota(timeline.duration_s, config.quota)
    return _TaskPoser(task, types, timeline, config, rng, borrowed or {}).pose(count)
