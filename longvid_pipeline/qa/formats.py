"""Answer formats of the `qa` table, written and parsed in one place.

Every answer the QA stage writes takes one of these forms, and `longvid.eval` parses a
model's output back with the functions here, so writer and reader cannot drift apart:

- **time span**: ``"From 12.3s to 45.6s."`` — seconds from the start of the video, one
  decimal, this exact form (`format_span`, `parse_span`).
- **count**: digits only, ``"3"`` (`format_count`, `parse_count`).
- **multiple choice**: options lettered ``A.`` to ``D.``, one per line, followed by the
  instruction of the answer style. Style `letter` answers ``"B"``; style `letter_text`
  answers ``"B. text of the option"`` (`format_choice`, `parse_letter`).
- **yes / no**: ``"Yes."`` or ``"No."`` (`YES`, `NO`, `parse_yes_no`).

Open questions whose answer has a fixed form end with the matching instruction line
(`SPAN_INSTRUCTION`, `COUNT_INSTRUCTION`, `YES_NO_INSTRUCTION`), so the answer a model
is trained on is the answer the prompt asks for.

Example::

    from longvid_pipeline.qa.formats import format_span, parse_span, parse_letter
    format_span(12.34, 45.6)                                  # 'From 12.3s to 45.6s.'
    parse_span("It happens from 12.3 s to 45.6 s")            # (12.3, 45.6)
    parse_letter("The answer is (B).", ["red", "blue", "green", "white"])  # 1
"""

from __future__ import annotations

import re

LETTERS = "ABCDEFGHIJ"
OPTIONS = 4
"""Options of a multiple-choice question (the `qa` contract checks exactly this many)."""

ANSWER_STYLES: dict[str, str] = {
    "letter": "Answer with the option's letter from the given choices directly.",
    "letter_text": "Answer with the option's letter from the given choices, then its text.",
}
"""Answer style -> the instruction line that ends a multiple-choice prompt."""

SPAN_INSTRUCTION = 'Answer with the time span in the form "From 12.3s to 45.6s."'
COUNT_INSTRUCTION = "Answer with a number."
YES_NO_INSTRUCTION = "Answer yes or no."
NONE_OF_THE_ABOVE = "None of the above"
YES, NO = "Yes.", "No."

_NUMBER = r"(\d+(?:\.\d+)?)"
_SPAN_PATTERNS = (
    re.compile(rf"from\s+{_NUMBER}\s*(?:s\b|sec\w*)?\s*(?:to|until|-|–)\s*{_NUMBER}", re.I),
    re.compile(rf"between\s+{_NUMBER}\s*(?:s\b|sec\w*)?\s*and\s+{_NUMBER}", re.I),
    re.compile(rf"{_NUMBER}\s*(?:s\b|sec\w*)?\s*(?:-|–|to)\s*{_NUMBER}", re.I),
)
NUMBER_WORDS: tuple[str, ...] = tuple(
    [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ]
)
"""Counts as words, zero to twenty (their index is their value): what count parsers read."""


def format_span(start_s: float, end_s: float) -> str:
    """The one written form of a time span: 'From 12.3s to 45.6s.'."""
    return f"From {start_s:.1f}s to {end_s:.1f}s."


def parse_span(text: str) -> tuple[float, float] | None:
    """(start_s, end_s) of the first time span in `text`, or None.

    Accepts the written form and the usual variants a model produces ("from 12.3 to 45.6
    seconds", "between 12.3s and 45.6s", "12.3-45.6s"); a reversed span is put in order.
    """
    for pattern in _SPAN_PATTERNS:
        match = pattern.search(text)
        if match:
            start, end = float(match.group(1)), float(match.group(2))
            return (min(start, end), max(start, end))
    return None


def format_count(count: int) -> str:
    """A count as the answer writes it: digits only."""
    if count < 0:
        raise ValueError(f"a count is never negative, got {count}")
    return str(count)


def parse_count(text: str) -> int | None:
    """The first whole number in `text` (digits or an English number word up to twenty;
    'none', 'never' and 'no' alone mean 0), or None."""
    digits = re.search(r"(?<![\d.])\d+(?![\d.]*\d)", text)
    if digits:
        return int(digits.group(0))
    words = re.findall(r"[a-z]+", text.lower())
    for word in words:
        if word in NUMBER_WORDS:
            return NUMBER_WORDS.index(word)
    if words and words[0] in ("none", "never", "no"):
        return 0
    return None


def format_choice(index: int, option: str, style: str) -> str:
    """The answer to a multiple-choice question in `style`: 'B' or 'B. text'."""
    if style == "letter":
        return LETTERS[index]
    if style == "letter_text":
        return f"{LETTERS[index]}. {option}"
    raise ValueError(f"unknown answer style {style!r} (known: {list(ANSWER_STYLES)})")


def options_block(options: list[str], style: str) -> str:
    """'A. ...' lines and the instruction of `style` that end a multiple-choice prompt."""
    lines = [f"{LETTERS[index]}. {option}" for index, option in enumerate(options)]
    return "\n".join([*lines, ANSWER_STYLES[style]])


def parse_letter(text: str, options: list[str] | None = None) -> int | None:
    """Index of the chosen option in a model's answer, or None when it names none.

    Understands "B", "(B)", "B.", "B. text", "Answer: B", "The answer is B", and, given
    `options`, an answer that is exactly one option's text (case and final period
    ignored). Letters are capitals only, and "A red circle" is the letter A only when
    "red circle" is option A's text: a sentence's article names no option.
    """
    count = len(options) if options is not None else OPTIONS
    letters = LETTERS[:count]
    stripped = text.strip()
    if options is not None:
        matches = [
            i for i, option in enumerate(options) if _normalized(option) == _normalized(stripped)
        ]
        if len(matches) == 1:
            return matches[0]
    spaced = re.match(rf"^\(?([{letters}])\)?\s+(.+)$", stripped)
    if spaced and options is not None:
        index = letters.index(spaced.group(1))
        if _normalized(spaced.group(2)) == _normalized(options[index]):
            return index
    patterns = (
        rf"^\(?([{letters}])\)?(?:[.):,]|$)",
        rf"(?i:answer|option|choice)\s*(?i:is|:)?\s*\(?([{letters}])\)?(?![A-Za-z])",
        rf"\(([{letters}])\)",
    )
    for pattern in patterns:
        match = re.search(pattern, stripped)
        if match:
            return letters.index(match.group(1))
    return None


def parse_yes_no(text: str) -> bool | None:
    """True for yes, False for no (the first of the two words in `text`), else None."""
    match = re.search(r"\b(yes|no)\b", text, flags=re.I)
    return None if match is None else match.group(1).lower() == "yes"


def _normalized(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().rstrip(".").lower())
