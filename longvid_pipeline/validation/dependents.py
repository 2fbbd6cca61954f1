"""Rows that depend on a rejected row go with it: validation stays consistent across tables.

A question's evidence is a span of its video, and the clips are what the dataset says
about that span. When validation drops a clip (say its caption fails an expectation), a
question whose evidence lies in that clip would cite footage the dataset no longer
describes, so it goes too, as a `depends_on_rejected_clip` reject naming the clip. Only
the part of the evidence that no kept clip covers counts: a question is not dropped
because of a rejected duplicate of a clip that is still there.
"""

from __future__ import annotations

from typing import Any

from longvid_pipeline.validation.derived import uncovered_stretch

DEPENDS_ON_REJECTED_CLIP = "depends_on_rejected_clip"
OVERLAP_EPSILON_S = 1e-6  # spans that only touch share no footage


def _span(row: dict[str, Any], start: str, end: str) -> tuple[float, float]:
    return float(row[start]), float(row[end])


def clip_dependents(
    qa_rows: list[dict[str, Any]],
    rejected_clips: list[dict[str, Any]],
    kept_clips: list[dict[str, Any]],
) -> list[tuple[dict[str, Any], str]]:
    """Questions whose evidence lies in a rejected clip, each with the detail to record."""
    kept = [_span(clip, "start_s", "end_s") for clip in kept_clips]
    found = []
    for row in qa_rows:
        start, end = _span(row, "evidence_start_s", "evidence_end_s")
        for clip in rejected_clips:
            clip_start, clip_end = _span(clip, "start_s", "end_s")
            low, high = max(start, clip_start), min(end, clip_end)
            if high - low > OVERLAP_EPSILON_S and uncovered_stretch(low, high, kept) > 0:
                detail = (
                    f"evidence {start:.2f}-{end:.2f} s lies in rejected clip"
                    f" {clip.get('clip_id')} ({clip_start:.2f}-{clip_end:.2f} s)"
                )
                found.append((row, detail))
                break
    return found
