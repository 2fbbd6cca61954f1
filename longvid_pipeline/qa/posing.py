"""Candidates become posed questions: sampling across templates, option shuffling, and
the multiple-choice block of a prompt."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass

LETTERS = "ABCDEFGHIJ"


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
