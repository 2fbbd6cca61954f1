"""Checks of a `niah` row, from the row alone: the solver and the structural checks.

The solver reads clue texts, never pixels: it starts from the needle the prompt names
(single-hop: the one needle), reads that needle's clue, goes to the needle the clue
names, and so on until a needle has no clue. A text names the needle whose caption it
contains (the longest such caption, which must be unique). The builder runs these checks
on every row it makes, and the `niah` expectation suite runs them again through derived
columns (fn `niah`), so a row that breaks one never reaches the shards.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from longvid_pipeline.niah.chains import OPTIONS, caption_phrase
from longvid_pipeline.qa.formats import LETTERS

Row = dict[str, Any]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Unsolvable(ValueError):
    """Following the clues does not end at one needle."""


def named_needle(text: str, needles: list[dict[str, Any]]) -> int:
    """Index of the needle `text` names (the longest caption it contains).

    Raises:
        Unsolvable: no caption in the text, or two equally long ones.
    """
    found = [
        (len(caption_phrase(n["caption"])), i)
        for i, n in enumerate(needles)
        if caption_phrase(n["caption"]) in text
    ]
    if not found:
        raise Unsolvable(f"no needle's caption in {text!r}")
    found.sort(reverse=True)
    if len(found) > 1 and found[0][0] == found[1][0]:
        raise Unsolvable(f"two needles' captions in {text!r}")
    return found[0][1]


def follow(row: Row, start: int) -> list[int]:
    """Needle indices visited from `start` by reading clue texts, the clueless one last."""
    needles, path = row["needles"], [start]
    while needles[path[-1]]["clue_text"] is not None:
        following = named_needle(needles[path[-1]]["clue_text"], needles)
        if following in path:
            raise Unsolvable(f"the clues loop back to needle {following}")
        path.append(following)
    return path


def solve(row: Row) -> list[int]:
    """The chain a reader of the prompt and the clue texts follows, prompt to final needle."""
    needles = row["needles"]
    if row["hops"] == 0:
        if len(needles) != 1:
            raise Unsolvable(f"a single-hop sample has {len(needles)} needles")
        return follow(row, 0)
    return follow(row, named_needle(row["prompt"], needles))


def chain_problems(row: Row) -> list[str]:
    """The prompt leads to the answer chain's final needle; the distractor chain does not."""
    try:
        path = solve(row)
        detour = follow(row, row["distractor_chain"][0]) if row["distractor_chain"] else []
    except Unsolvable as exc:
        return [str(exc)]
    problems = []
    if path != row["answer_chain"] or len(path) != row["hops"] + 1:
        problems.append(f"the clues lead along {path}, not the answer chain {row['answer_chain']}")
    if detour and (detour != row["distractor_chain"] or set(detour) & set(path)):
        problems.append(f"the distractor chain leads along {detour} into {path}")
    needles = row["needles"]
    for index, needle in enumerate(needles):
        named: int | str | None  # the needle the clue names, or why it names none
        try:
            named = (
                None if needle["clue_text"] is None else named_needle(needle["clue_text"], needles)
            )
        except Unsolvable as exc:
            named = str(exc)
        if named != needle["clue_target"]:
            problems.append(
                f"needle {index}: clue_target {needle['clue_target']} but the text names {named}"
            )
    captions = [needle["caption"] for needle in needles]
    if len(set(map(caption_phrase, captions))) != len(captions):
        problems.append("two needles share a caption")
    final_caption = needles[path[-1]]["caption"]
    caption_questions = [q for q in row["questions"] if q["kind"] == "caption"]
    if any(q["answer"] != final_caption for q in caption_questions):
        problems.append("the caption question's answer is not the final needle's caption")
    return problems


def placement_problems(row: Row) -> list[str]:
    """Needles lie inside the sample, never overlap, the final one sits at the depth, and
    haystack plus needle frames make the length."""
    hold, length = row["hold_frames"], row["length"]
    starts = sorted(needle["frame_index"] for needle in row["needles"])
    problems = []
    if starts and (starts[0] < 0 or starts[-1] + hold > length):
        problems.append(f"a needle lies outside frames 0..{length - 1}")
    if any(b < a + hold for a, b in zip(starts, starts[1:], strict=False)):
        problems.append("two needles overlap")
    final = row["needles"][row["answer_chain"][-1]]["frame_index"]
    if final != round(row["depth"] / 100 * (length - hold)):
        problems.append(f"the final needle starts at {final}, not at depth {row['depth']}%")
    held = sum(len(segment["timestamps"]) for segment in row["haystack"])
    if held != row["haystack_frames"] or held + len(starts) * hold != length:
        problems.append(f"{held} haystack + {len(starts)}x{hold} needle frames != length {length}")
    if any(
        any(b <= a for a, b in zip(s["timestamps"], s["timestamps"][1:], strict=False))
        for s in row["haystack"]
    ):
        problems.append("haystack timestamps do not increase within a segment")
    return problems


def image_problems(row: Row) -> list[str]:
    """Every needle is a PNG of the sample's frame size (read from its header)."""
    problems = []
    for index, needle in enumerate(row["needles"]):
        png = needle["png"] or b""
        if png[:8] != PNG_SIGNATURE or png[12:16] != b"IHDR":
            problems.append(f"needle {index} is not a PNG")
            continue
        size = struct.unpack(">II", png[16:24])
        if size != (row["width"], row["height"]):
            problems.append(
                f"needle {index} is {size[0]}x{size[1]}, not {row['width']}x{row['height']}"
            )
    return problems


def question_problems(row: Row) -> list[str]:
    """One caption and one visual question, each with four distinct options and its answer
    at the letter it names."""
    problems = []
    if sorted(q["kind"] for q in row["questions"]) != ["caption", "visual"]:
        problems.append("need one caption and one visual question")
    for q in row["questions"]:
        options, index = q["options"], q["answer_index"]
        if len(options) != OPTIONS or len(set(options)) != OPTIONS:
            problems.append(f"{q['kind']}: need {OPTIONS} distinct options")
        elif (
            not 0 <= index < OPTIONS
            or options[index] != q["answer"]
            or q["answer_letter"] != LETTERS[index]
        ):
            problems.append(f"{q['kind']}: answer, index and letter disagree")
    return problems


CHECKS: dict[str, Callable[[Row], list[str]]] = {
    "chain": chain_problems,
    "placement": placement_problems,
    "images": image_problems,
    "questions": question_problems,
}


def row_problems(row: Row) -> list[str]:
    """Every problem of every check."""
    return [problem for check in CHECKS.values() for problem in check(row)]


def passes(row: Row, video: dict[str, Any], check: str) -> bool:
    """Derived column for the expectation suite: does `row` pass `check`?"""
    try:
        return not CHECKS[check](row)
    except (KeyError, TypeError, IndexError, Unsolvable):  # a malformed row fails, never raises
        return False
