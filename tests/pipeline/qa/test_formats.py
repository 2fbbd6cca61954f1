"""Answer formats: what the QA stage writes, longvid.eval parses back."""

from __future__ import annotations

import pytest

from longvid_pipeline.qa.formats import (
    ANSWER_STYLES,
    format_choice,
    format_count,
    format_span,
    options_block,
    parse_count,
    parse_letter,
    parse_span,
    parse_yes_no,
)

OPTIONS = ["Red", "Blue", "Green", "None of the above"]


def test_span_round_trip_and_variants() -> None:
    assert format_span(12.34, 45.6) == "From 12.3s to 45.6s."
    assert parse_span(format_span(12.34, 45.6)) == (12.3, 45.6)
    assert parse_span("It happens from 12.3 seconds to 45.6 seconds.") == (12.3, 45.6)
    assert parse_span("between 3s and 7.5s") == (3.0, 7.5)
    assert parse_span("12.3-45.6s") == (12.3, 45.6)
    assert parse_span("From 45.6s to 12.3s.") == (12.3, 45.6)
    assert parse_span("at the end of the video") is None


def test_count_round_trip_and_variants() -> None:
    assert format_count(3) == "3" and parse_count("3") == 3
    assert parse_count("There are 12 scenes.") == 12
    assert parse_count("three") == 3 and parse_count("None.") == 0
    assert parse_count("It lasts 12.5 seconds") is None  # a decimal is no count
    assert parse_count("many") is None
    with pytest.raises(ValueError):
        format_count(-1)


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("B", 1),
        ("(B)", 1),
        ("B.", 1),
        ("B. Blue", 1),
        ("The answer is C.", 2),
        ("Answer: D", 3),
        ("I think (A) is right", 0),
        ("blue", 1),
        ("none of the above.", 3),
        ("The answer is a red circle", None),
        ("A red circle", None),
        ("E", None),
        ("I don't know", None),
        ("", None),
    ],
)
def test_parse_letter(text: str, index: int | None) -> None:
    assert parse_letter(text, OPTIONS) == index


def test_choice_styles_and_their_instructions() -> None:
    assert format_choice(1, "Blue", "letter") == "B"
    assert format_choice(1, "Blue", "letter_text") == "B. Blue"
    for style, instruction in ANSWER_STYLES.items():
        block = options_block(OPTIONS, style)
        assert block.splitlines() == [
            "A. Red",
            "B. Blue",
            "C. Green",
            "D. None of the above",
            instruction,
        ]
        assert parse_letter(format_choice(2, "Green", style), OPTIONS) == 2


def test_yes_no() -> None:
    assert parse_yes_no("Yes.") is True and parse_yes_no("no, it does not") is False
    assert parse_yes_no("maybe") is None
