"""Captions from subtitle cues and chapters (a site's subtitles, a folder's `.vtt` sidecars,
the chapters of the site's info JSON)."""

from __future__ import annotations

from typing import Any, ClassVar

from longvid_pipeline.captioning.base import Captions, ClipCaption, assign_to_clips
from longvid_pipeline.item import WorkItem
from longvid_pipeline.stage import Reject


class SubtitleCaptioner:
    """Captions from subtitle cues: the text of the cues overlapping each clip, after the
    title of the chapter the clip starts in ("Chapter: Intro.") when chapters are kept.

    Auto-generated captions often repeat a line in consecutive cues; a cue whose text
    equals the previous one kept for the same clip is dropped. No structured events are
    known, so attributes stay None and the QA stage asks only generic questions.
    """

    source: ClassVar[str] = "subtitles"

    def __init__(self, config: Any) -> None:
        self.config = config

    def setup(self) -> None:
        """Nothing to load: the cues travel with the item."""

    def caption_clips(
        self, item: WorkItem, clips: list[dict[str, Any]], prepared: Any = None
    ) -> Captions:
        chapters = item.chapters if self.config.subtitles.chapters else []
        if not item.subtitles and not chapters:
            raise Reject(
                "no_captions_source", "backend 'subtitles' needs subtitle cues or chapters"
            )
        cues = sorted(item.subtitles, key=lambda cue: float(cue["start_s"]))
        spans = [(float(cue["start_s"]), float(cue["end_s"])) for cue in cues]
        assigned = assign_to_clips(spans, clips, self.config.min_overlap_s)
        texts = [
            _join([_chapter_of(chapters, clip), _join_cues([cues[i] for i in idx])])
            for clip, idx in zip(clips, assigned, strict=True)
        ]
        model = "subtitle-cues" + ("+chapters" if chapters else "")
        return Captions(model=model, clips=[ClipCaption(caption=text) for text in texts])


def _chapter_of(chapters: list[dict[str, Any]], clip: dict[str, Any]) -> str | None:
    """'Chapter: <title>.' for the chapter the clip starts in, else None."""
    start = float(clip["start_s"])
    for chapter in chapters:
        title = " ".join(str(chapter.get("title") or "").split()).rstrip(".")
        if title and float(chapter["start_s"]) <= start < float(chapter["end_s"]):
            return f"Chapter: {title}."
    return None


def _join(parts: list[str | None]) -> str | None:
    return " ".join(part for part in parts if part) or None


def _join_cues(cues: list[dict[str, Any]]) -> str | None:
    """Cue texts in order, whitespace normalized, consecutive repeats dropped."""
    lines: list[str] = []
    for cue in cues:
        text = " ".join(str(cue.get("text", "")).split())
        if text and (not lines or lines[-1] != text):
            lines.append(text)
    return " ".join(lines) or None
