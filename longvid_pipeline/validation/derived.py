"""Derived columns: helper values computed in Python for checks GX has no built-in for.

Each derivation computes one value from a row (and its video row): options distinct,
answer among the options, a caption's repetition score, a sampling plan that fits the
video. A few (`RELATED_DERIVATIONS`) also read the item's rows of other tables as they
stand after validation dropped what failed, for checks across tables: a question's
evidence must lie in clips that were kept. A suite names them with their arguments (both
data), so a new table needs a new suite file and nothing else. None means "does not
apply to this row" (an open-ended question has no options): GX skips nulls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from longvid_pipeline.niah.checks import passes as niah_passes
from longvid_pipeline.qa.formats import NUMBER_WORDS

Row = dict[str, Any]
Video = dict[str, Any]
Related = dict[str, list[Row]]  # table -> the item's rows of that table


# Each derivation computes one helper value from a row (and its video row). None means
# "does not apply to this row" (an open-ended question has no options): GX skips nulls.

_NUMBER_WORDS = {word: value for value, word in enumerate(NUMBER_WORDS)}
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*\s*$")


def _video_value(row: Row, video: Video, column: str, add: float = 0.0) -> Any:
    """A value of the video row, e.g. its duration (plus a tolerance) as a bound."""
    value = video.get(column)
    return value + add if isinstance(value, (int, float)) and add else value


def _equals_video(
    row: Row, video: Video, column: str, video_column: str, tolerance: float = 0.0
) -> bool | None:
    """The row repeats a video value (video_id, duration) and must agree with it."""
    value, expected = row.get(column), video.get(video_column)
    if value is None:
        return None
    if isinstance(value, (int, float)) and isinstance(expected, (int, float)):
        return abs(value - expected) <= tolerance
    return value == expected


def _length(row: Row, video: Video, column: str) -> int | None:
    value = row.get(column)
    return None if value is None else len(value)


def _distinct(row: Row, video: Video, column: str) -> bool | None:
    value = row.get(column)
    return None if value is None else len(set(map(hashable, value))) == len(value)


def hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _contains(row: Row, video: Video, list_column: str, value_column: str) -> bool | None:
    values = row.get(list_column)
    return None if values is None else row.get(value_column) in values


def _element_at_equals(
    row: Row, video: Video, list_column: str, index_column: str, value_column: str
) -> bool | None:
    """options[answer_index] == answer; False when the index does not point into the list."""
    values, index = row.get(list_column), row.get(index_column)
    if values is None or index is None:
        return None
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(values):
        return False
    return values[index] == row.get(value_column)


def _null_together(row: Row, video: Video, columns: list[str]) -> bool:
    """Fields that only make sense together (options + answer_index) are all set or all null."""
    nulls = [row.get(column) is None for column in columns]
    return all(nulls) or not any(nulls)


def _increasing(row: Row, video: Video, column: str) -> bool | None:
    values = row.get(column)
    return None if values is None else all(a < b for a, b in zip(values, values[1:], strict=False))


def _within(
    row: Row,
    video: Video,
    column: str,
    min_value: float | None = None,
    min_column: str | None = None,
    max_value: float | None = None,
    max_column: str | None = None,
    max_video_column: str | None = None,
    tolerance: float = 0.0,
) -> bool | None:
    """Every value of a list (or a scalar) lies in [min, max + tolerance]."""
    value = row.get(column)
    if value is None:
        return None
    low = row.get(min_column) if min_column else min_value
    high = row.get(max_column) if max_column else max_value
    if max_video_column:
        high = video.get(max_video_column)
    values = value if isinstance(value, list) else [value]
    if (min_column and low is None) or ((max_column or max_video_column) and high is None):
        return False
    return all(
        (low is None or v >= low) and (high is None or v <= high + tolerance) for v in values
    )


def _repetition(row: Row, video: Video, column: str, n: int = 3) -> float | None:
    """Share of repeated word n-grams: 0 for varied text, near 1 for 'the the the the'."""
    text = row.get(column)
    if text is None:
        return None
    words = str(text).lower().split()
    grams = list(zip(*(words[i:] for i in range(n)), strict=False))
    return 0.0 if not grams else round(1.0 - len(set(grams)) / len(grams), 4)


def _ends_sentence(
    row: Row,
    video: Video,
    column: str,
    skip_column: str | None = None,
    skip_values: list[Any] | None = None,
) -> bool | None:
    """A generator cut at its token limit stops mid-word; a finished caption ends a sentence.

    Rows whose `skip_column` ends with one of `skip_values` are not judged (None): subtitle
    cues are verbatim speech, whole words without sentence punctuation, and a combined
    caption ("transformers+subtitles") ends with its last backend's text.
    """
    text = row.get(column)
    last_part = str(row.get(skip_column) or "").rsplit("+", 1)[-1] if skip_column else None
    if text is None or (last_part and last_part in (skip_values or [])):
        return None
    return bool(_SENTENCE_END.search(str(text)))


def _mentions(row: Row, video: Video, column: str, templates: list[str]) -> bool | None:
    """The text contains each template filled from the row, e.g. '{sample_frames} frames'."""
    text = row.get(column)
    if text is None:
        return None
    try:
        return all(template.format(**row) in text for template in templates)
    except (KeyError, TypeError, ValueError):  # a needed value is missing or not a number
        return False


def _whole_number_when(
    row: Row, video: Video, column: str, when_column: str, when_value: Any
) -> int | None:
    """The single count in a counting answer, -1 when there is none (so `>= 0` fails)."""
    if row.get(when_column) != when_value:
        return None
    tokens = re.findall(r"[a-z]+|[+-]?\d+", str(row.get(column) or "").lower())
    numbers = [
        int(t) if t[-1].isdigit() else _NUMBER_WORDS[t]
        for t in tokens
        if t[-1].isdigit() or t in _NUMBER_WORDS
    ]
    return numbers[0] if len(numbers) == 1 else -1


def uncovered_stretch(start_s: float, end_s: float, spans: Iterable[tuple[float, float]]) -> float:
    """The longest part of [start_s, end_s] that no span covers (0.0 when covered)."""
    longest, reached = 0.0, start_s
    for span_start, span_end in sorted(spans):
        if span_start >= end_s or reached >= end_s:
            break
        longest = max(longest, span_start - reached)
        reached = max(reached, span_end)
    return round(max(longest, end_s - reached), 6)


def _uncovered_by(
    row: Row, video: Video, related: Related, start_column: str, end_column: str, table: str
) -> float | None:
    """Longest stretch of the row's span (a question's evidence) that no row of `table`
    (the item's clips still kept) covers, in seconds."""
    start, end = row.get(start_column), row.get(end_column)
    if start is None or end is None:
        return None
    spans = [(float(r["start_s"]), float(r["end_s"])) for r in related.get(table, [])]
    return uncovered_stretch(float(start), float(end), spans)


DERIVATIONS: dict[str, Callable[..., Any]] = {
    "video_value": _video_value,
    "equals_video": _equals_video,
    "length": _length,
    "distinct": _distinct,
    "contains": _contains,
    "element_at_equals": _element_at_equals,
    "null_together": _null_together,
    "increasing": _increasing,
    "within": _within,
    "repetition": _repetition,
    "ends_sentence": _ends_sentence,
    "mentions": _mentions,
    "whole_number_when": _whole_number_when,
    "niah": niah_passes,  # structural checks of a niah row (niah/checks.py), arg `check`
}
# Derivations that also read the item's rows of other tables: fn(row, video, related, **args).
RELATED_DERIVATIONS: dict[str, Callable[..., Any]] = {"uncovered_by": _uncovered_by}
# Arguments that name a column of the row (checked against the contract on load).
ROW_COLUMN_ARGS = (
    "start_column",
    "end_column",
    "column",
    "list_column",
    "index_column",
    "value_column",
    "when_column",
    "min_column",
    "max_column",
    "skip_column",
)
VIDEO_COLUMN_ARGS = ("video_column", "max_video_column")
