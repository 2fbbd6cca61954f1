"""What every caption backend shares: the one-clip answer (`ClipCaption`), a video's
answer (`Captions`), the backend interface, and aligning timed spans (events, cues) to
clip spans."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from longvid_pipeline.item import WorkItem


@dataclass(frozen=True)
class ClipCaption:
    """What a backend says about one clip: text (None: nothing) and structured events."""

    caption: str | None
    attributes: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Captions:
    """A backend's answer for one video: a caption per clip, what produced them, and the
    clips it failed on (position in the clip list -> (reason, detail)), which the stage
    turns into clip-level rejects."""

    model: str
    clips: list[ClipCaption]
    failed: dict[int, tuple[str, str]] = field(default_factory=dict)


class Captioner(Protocol):
    """A caption backend: built from the stage config, set up once, then called per video.

    A backend with no source for a video (no sidecar, no cues) raises
    `Reject("no_captions_source", ...)`. Model backends also have `setup_prep()` and
    `prepare(item)`: the CPU half (decode and resize frames) that runs in the stage's prep
    workers; its result reaches `caption_clips` as `prepared`.
    """

    source: ClassVar[str]

    def __init__(self, config: Any) -> None: ...

    def setup(self) -> None: ...

    def caption_clips(
        self, item: WorkItem, clips: list[dict[str, Any]], prepared: Any = None
    ) -> Captions: ...


def overlap_s(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    """Length of the intersection of two spans (0 when they only touch or are apart)."""
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


def assign_to_clips(
    spans: list[tuple[float, float]], clips: list[dict[str, Any]], min_overlap_s: float
) -> list[list[int]]:
    """For each clip, the indices of `spans` that caption it.

    A span captions every clip it overlaps by at least `min_overlap_s`; a span that
    reaches that in no clip (shorter than the threshold, or cut in small pieces) still
    captions the clip holding its largest share, so no event or cue is silently lost.
    """
    per_clip: list[list[int]] = [[] for _ in clips]
    for span_index, (start, end) in enumerate(spans):
        overlaps = [overlap_s(start, end, c["start_s"], c["end_s"]) for c in clips]
        chosen = [i for i, ov in enumerate(overlaps) if ov > 0 and ov >= min_overlap_s]
        if not chosen and overlaps and max(overlaps) > 0:
            chosen = [overlaps.index(max(overlaps))]
        for clip_index in chosen:
            per_clip[clip_index].append(span_index)
    return per_clip


def shorten(text: str, max_chars: int) -> str:
    """Cut `text` at a word boundary so it fits `max_chars`, marking the cut with '...'."""
    if len(text) <= max_chars:
        return text
    head = text[: max_chars - 3]
    if text[max_chars - 3] != " " and " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,;:.") + "..."
