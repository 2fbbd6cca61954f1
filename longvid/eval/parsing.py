"""Reading answers back out of free model text: option letters, time spans and counts.

Why two layers: the dataset's own parsers (`longvid_pipeline.api`: parse_letter,
parse_span, parse_count, format_span, from the QA stage's formats module) read every
answer form the QA stage writes, so writer and reader cannot drift apart; they are tried
first. Models rarely answer in exactly the form a prompt asks for ("the answer is b",
"00:12 to 00:45", "[12.3, 45.6]", "It is blue."), so the rules here are a lenient layer
for what the canonical parsers leave unread. A text none of them can read parses to
None, which scoring counts as wrong and logs (never drops).

Example:
    parse_choice("The answer is (B).", ["red", "blue", "green", "gray"])  # 1
    parse_span("00:12 to 00:45")                                         # (12.0, 45.0)
    parse_count("There are three bars.")                                 # 3
"""

from __future__ import annotations

import re
import string
from typing import Any

from longvid_pipeline import api
from longvid_pipeline.api import LETTERS, format_span

__all__ = [
    "LETTERS",
    "format_answer",
    "format_span",
    "normalize_text",
    "parse_choice",
    "parse_count",
    "parse_span",
]

_TIME = r"(?:\d+:\d{1,2}(?::\d{1,2})?(?:\.\d+)?|\d+(?:\.\d+)?)"
_TIME_TOKEN = re.compile(
    rf"(?<![\w.:]){_TIME}(?:\s*(?:s|sec|secs|seconds?)\b|(?![\w:.]))", re.IGNORECASE
)
_ANSWER_CUE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|would be|:)?\s*[:\-]?\s*\(?\s*([A-J])\s*\)?(?![A-Za-z])",
    re.IGNORECASE,
)


def normalize_text(text: str) -> str:
    """Lowercase, punctuation to spaces, articles dropped, whitespace collapsed."""
    text = text.lower().translate(str.maketrans(string.punctuation, " " * len(string.punctuation)))
    return " ".join(word for word in text.split() if word not in ("a", "an", "the"))


def _letter_index(letter: str, options: list[str]) -> int | None:
    index = LETTERS.find(letter.upper())
    return index if 0 <= index < len(options) else None


def _option_text_match(text: str, options: list[str]) -> int | None:
    """The option whose text the answer is, or the one option whose text it contains."""
    said = normalize_text(text)
    if not said:
        return None
    named = [normalize_text(option) for option in options]
    exact = [index for index, option in enumerate(named) if option and option == said]
    if len(exact) == 1:
        return exact[0]
    padded = f" {said} "
    inside = [index for index, option in enumerate(named) if option and f" {option} " in padded]
    if len(inside) > 1:  # "red" inside "dark red": keep the longest when it contains the rest
        longest = max(inside, key=lambda index: len(named[index]))
        if all(named[index] in named[longest] for index in inside):
            return longest
        return None
    return inside[0] if inside else None


def parse_choice(text: str, options: list[str]) -> int | None:
    """Index of the option an answer picks, or None when it picks none (or several).

    Accepted: "B", "(B)", "B.", "B)", "B: ...", "B. option text", "The answer is B",
    "Answer: (B)", "Option B", the option's text alone or inside a sentence.
    """
    if not options:
        return None
    canonical = api.parse_letter(text, options)
    if canonical is not None:
        return canonical
    stripped = text.strip().strip("*`'\" ")
    if not stripped:
        return None
    alone = re.fullmatch(r"\(?\s*([A-Ja-j])\s*\)?\s*[.:)]?", stripped)
    if alone:
        return _letter_index(alone.group(1), options)
    cue = _ANSWER_CUE.findall(stripped)
    picked = {_letter_index(letter, options) for letter in cue} - {None}
    if len(picked) == 1:
        return picked.pop()
    by_text = _option_text_match(stripped, options)
    if by_text is not None:
        return by_text
    return _lone_letter(stripped, options)


def _lone_letter(text: str, options: list[str]) -> int | None:
    """A single standalone capital letter among the options (not the words "A" or "I")."""
    found = set()
    for match in re.finditer(r"(?<![A-Za-z])([A-J])(?![A-Za-z])", text):
        word_after = re.match(r"\s+([a-z]+)", text[match.end() :])
        if match.group(1) in "AI" and word_after and word_after.group(1) not in ("and", "or"):
            continue  # "A red circle", "I think": words, not option letters
        index = _letter_index(match.group(1), options)
        if index is not None:
            found.add(index)
    return found.pop() if len(found) == 1 else None


def parse_seconds(token: str) -> float:
    """'12.3', '12.3s', '00:12', '1:02:03.5' -> seconds."""
    token = re.sub(r"\s*(?:s|sec|secs|seconds?)$", "", token.strip())
    seconds = 0.0
    for part in token.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def parse_span(text: str) -> tuple[float, float] | None:
    """(start_s, end_s) of a time span answer, or None.

    Accepted: "From 12.3s to 45.6s.", "12.3-45.6", "12.3 - 45.6 seconds", "between 12.3
    and 45.6", "[12.3, 45.6]", "00:12 to 00:45", "1:02:03-1:03:00". The first two times
    in the text are the span; reversed ends are put in order.
    """
    clock = re.search(r"\d:\d\d", text)  # "00:12": never the written form; read it here
    canonical = None if clock else api.parse_span(text)
    if canonical is not None:
        return canonical
    times = [parse_seconds(match.group(0)) for match in _TIME_TOKEN.finditer(text)]
    if len(times) < 2:
        return None
    start, end = times[0], times[1]
    return (min(start, end), max(start, end))


def parse_count(text: str) -> int | None:
    """A count answer as an integer: the dataset's parser (digits, or a number word up to
    twenty; "none" / "never" / "no" alone mean 0), then "not once" as 0."""
    canonical = api.parse_count(text)
    if canonical is not None:
        return canonical
    return 0 if normalize_text(text) == "not once" else None


def format_answer(form: str, target: Any, options: list[str] | None = None) -> str:
    """A target written the way a perfect model would answer (letter, span, count, text)."""
    if form == "choice":
        return LETTERS[int(target)]
    if form == "span":
        return format_span(*target)
    return str(target)
