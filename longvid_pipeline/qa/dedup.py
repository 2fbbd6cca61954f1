"""Near-duplicate questions within one video: a reworded question about the same moment
with the same answer teaches nothing new and inflates a task's count."""

from __future__ import annotations

import re
from typing import Any


def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9.]+", text.lower()))


def _duplicate_key(row: dict[str, Any]) -> tuple[Any, ...]:
    evidence = (round(row["evidence_start_s"], 1), round(row["evidence_end_s"], 1))
    return (row["task"], row.get("form"), row["answer"], evidence)


def near_duplicates(
    rows: list[dict[str, Any]], threshold: float
) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str, float]]]:
    """Split rows into kept ones and near-duplicates (row, the kept qa_id, Jaccard).

    Two questions are near-duplicates when they share task, form, answer and evidence
    span, and their word sets overlap by at least `threshold`. (Without the evidence
    span, "which first: A or B?" and "which first: A or C?" would look alike while
    asking different things.)"""
    kept: list[tuple[dict[str, Any], frozenset[str]]] = []
    dropped = []
    for row in rows:
        words = _words(row["question"])
        key = _duplicate_key(row)
        for other, other_words in kept:
            if _duplicate_key(other) != key:
                continue
            jaccard = len(words & other_words) / max(1, len(words | other_words))
            if jaccard >= threshold:
                dropped.append((row, other["qa_id"], jaccard))
                break
        else:
            kept.append((row, words))
    return [row for row, _ in kept], dropped
