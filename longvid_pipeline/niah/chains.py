"""Chains and questions of one sample: which needle's clue names which, and what is asked.

The answer chain is first needle -> ... -> final needle: every needle but the last
carries a clue naming the next one by its caption; the prompt names the first (single-hop
V-NIAH has one needle and a prompt that names none). The distractor chain has the same
shape and its own final needle, and no clue of it names a needle of the answer chain, so
only following the clues from the prompt leads to the right final frame.

Two multiple-choice questions follow: which caption describes the final frame, and a
visual question about it. The right option sits at a position chosen by the grid
(`grid.answer_positions`) so letters are balanced over the benchmark.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from longvid_pipeline.qa.formats import LETTERS, options_block

OPTIONS = 4


class SampleError(ValueError):
    """A sample that cannot be built: it becomes a reject with `reason` (a short word)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def caption_phrase(caption: str) -> str:
    """A caption as it appears inside a sentence (no trailing full stop)."""
    return caption.strip().rstrip(".").strip()


@dataclass(frozen=True)
class VisualQuestion:
    """A question about the final needle's image, with its right and wrong option texts."""

    attribute: str
    question: str
    answer: str
    wrong: tuple[str, ...]


@dataclass(frozen=True)
class NeedleContent:
    """What a needle shows, before it gets a place and a clue."""

    caption: str
    image_source: str  # "synthetic", or the manifest's url
    attributes: dict[str, Any] = field(default_factory=dict)
    visual: VisualQuestion | None = None  # the image's own question (manifest needles)


@dataclass(frozen=True)
class PlannedNeedle:
    """A needle with its place in the sample and in its chain."""

    content: NeedleContent
    role: str  # clue | final | distractor_clue | distractor_final
    chain: str  # answer | distractor
    chain_position: int
    frame_index: int
    clue_text: str | None
    clue_target: int | None  # index (in the sample's needle list) of the needle it names


@dataclass(frozen=True)
class ChainPlan:
    """Needles in frame order, and each chain as indices into that list."""

    needles: list[PlannedNeedle]
    answer_chain: list[int]
    distractor_chain: list[int]


def assemble(
    answer: list[NeedleContent],
    distractor: list[NeedleContent],
    final_start: int,
    other_starts: list[int],
    clue_template: str,
    rng: random.Random,
) -> ChainPlan:
    """Give every needle a start frame and a clue; the answer chain's last one goes to
    `final_start`, the others take `other_starts` in random order."""
    chains = {"answer": answer, "distractor": distractor}
    others = [("answer", k) for k in range(len(answer) - 1)]
    others += [("distractor", k) for k in range(len(distractor))]
    starts = list(other_starts)
    rng.shuffle(starts)
    placed = {("answer", len(answer) - 1): final_start, **dict(zip(others, starts, strict=True))}
    order = sorted(placed, key=lambda key: placed[key])
    index = {key: position for position, key in enumerate(order)}
    needles = []
    for chain, position in order:
        contents = chains[chain]
        last = position == len(contents) - 1
        role = (
            ("final" if last else "clue")
            if chain == "answer"
            else ("distractor_" + ("final" if last else "clue"))
        )
        following = None if last else contents[position + 1]
        needles.append(
            PlannedNeedle(
                content=contents[position],
                role=role,
                chain=chain,
                chain_position=position,
                frame_index=placed[(chain, position)],
                clue_text=None
                if following is None
                else clue_template.format(caption=caption_phrase(following.caption)),
                clue_target=None if last else index[(chain, position + 1)],
            )
        )
    return ChainPlan(
        needles=needles,
        answer_chain=[index[("answer", k)] for k in range(len(answer))],
        distractor_chain=[index[("distractor", k)] for k in range(len(distractor))],
    )


def place_answer(answer: str, wrong: list[str], answer_index: int, rng: random.Random) -> list[str]:
    """Four distinct options with `answer` at `answer_index` and three of `wrong` around it.

    `wrong` is in order of preference (the hardest distractors first); the three kept are
    shuffled so their position says nothing.

    Raises:
        ValueError: fewer than three distinct wrong options.
    """
    distinct = [option for option in dict.fromkeys(wrong) if option != answer][: OPTIONS - 1]
    if len(distinct) < OPTIONS - 1:
        raise ValueError(f"need {OPTIONS - 1} distinct wrong options, have {distinct}")
    rng.shuffle(distinct)
    return [*distinct[:answer_index], answer, *distinct[answer_index:]]


def question_row(
    kind: str,
    attribute: str | None,
    question: str,
    options: list[str],
    answer_index: int,
    prompt: str,
) -> dict[str, Any]:
    """One entry of the row's `questions` (contract type niah_question)."""
    return {
        "kind": kind,
        "attribute": attribute,
        "question": question,
        "options": options,
        "answer_index": answer_index,
        "answer_letter": LETTERS[answer_index],
        "answer": options[answer_index],
        "text": f"{prompt}\n{question}\n{options_block(options, 'letter')}",
    }


def caption_question(
    plan: ChainPlan, fresh_captions: list[str], answer_index: int, prompt: str, rng: random.Random
) -> dict[str, Any]:
    """Which caption describes the final frame? Wrong options: the distractor final's
    caption first, then other needles of the sample (not the one the prompt names), then
    captions of needles that are not in the video."""
    final = plan.needles[plan.answer_chain[-1]].content.caption
    named = plan.answer_chain[0] if len(plan.answer_chain) > 1 else None
    ordered = [plan.distractor_chain[-1]] if plan.distractor_chain else []
    ordered += [i for i in range(len(plan.needles)) if i not in ordered]
    wrong = [
        plan.needles[i].content.caption for i in ordered if i not in (plan.answer_chain[-1], named)
    ]
    options = place_answer(final, wrong + fresh_captions, answer_index, rng)
    return question_row(
        "caption", None, "Which caption describes the final frame?", options, answer_index, prompt
    )


def visual_question(
    visual: VisualQuestion, answer_index: int, prompt: str, rng: random.Random
) -> dict[str, Any]:
    """The question about the final needle's image, its answer at `answer_index`."""
    options = place_answer(visual.answer, list(visual.wrong), answer_index, rng)
    return question_row("visual", visual.attribute, visual.question, options, answer_index, prompt)
