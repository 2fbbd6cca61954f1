"""Captions from subtitle cues (a site's subtitles or a folder's `.vtt` sidecars)."""

from __future__ import annotations

from typing import Any, ClassVar

from longvid_pipeline.captioning.base import ClipCaption, assign_to_clips
from longvid_pipeline.item import WorkItem
from longvid_pipeline.stage import Reject


class SubtitleCaptioner:
    """Captions from subtitle cues: the text of the cues overlapping each clip.

    Auto-generated captions often repeat a line in consecutive cues; a cue whose text
    equals the previous one kept for the same clip is dropped. No structured events are
    known, so attributes stay None and the QA stage asks only generic questions.
    """

    source: ClassVar[str] = "subtitles"

    def __init__(self, config: Any) -> None:
        self.config = config

    def setup(self) -> None:
        """Nothing to load: the cues travel with the item."""

    def model_name(self, item: WorkItem) -> str:
        return "subtitle-cues"

    def caption_clips(self, item: WorkItem, clips: list[dict[str, Any]]) -> list[ClipCaption]:
        if not item.subtitles:
            raise Reject(
                "no_captions_source", "backend 'subtitles' needs subtitle cues; none were kept"
            )
        cues = sorted(item.subtitles, key=lambda cue: float(cue["start_s"]))
        spans = [(float(cue["start_s"]), float(cue["end_s"])) for cue in cues]
        assigned = assign_to_clips(spans, clips, self.config.min_overlap_s)
        return [ClipCaption(caption=_join_cues([cues[i] for i in idx])) for idx in assigned]


def _join_cues(cues: list[dict[str, Any]]) -> str | None:
    """Cue texts in order, whitespace normalized, consecutive repeats dropped."""
    lines: list[str] = []
    for cue in cues:
        text = " ".join(str(cue.get("text", "")).split())
        if text and (not lines or lines[-1] != text):
            lines.append(text)
    return " ".join(lines) or None
