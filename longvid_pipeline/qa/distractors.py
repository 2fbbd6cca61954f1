"""Wrong options borrowed from other videos, for videos too short to fill four options.

A 45-second video has two or three scenes: "what happens right after X?" or "which
caption fits 10.0s to 20.0s?" rarely has four fair options of its own, so such videos
got almost no multiple choice. The options of this video come first (`qa/choices.py`);
when too few are fair, the rest are borrowed from a bank of other videos' events and
clip captions: earlier builds (`longvid-pipeline run` OUT folders or URLs) or JSONL files
of captions, named in the recipe (`stages.qa.distractors.bank`).

A borrowed option is a fair wrong answer because it does not happen in this video: its
description differs from every event of this video (and a borrowed caption shares no
sentence with any of this video's clip captions). It must also not look borrowed, or
text alone could exclude it: among the absent candidates, those as long as one of the
video's own values come first (length had given borrowed options away), then those whose
words the video's own values use most (for the demo world: recombinations of its colors,
shapes and actions), ties broken per video by a hash rather than by name so no word is
favored across videos. Which candidates are borrowed depends only on
the bank and the video, so a rerun writes the same rows.

Free-text timelines can only be checked word for word: a borrowed caption that says the
same as one of this video's in other words would be a second right answer. Banks of
captions from a different domain than the build are therefore the user's responsibility.
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longvid_pipeline.qa.facts import EventValue
from longvid_pipeline.qa.phrasing import sentence, sentences_of
from longvid_pipeline.qa.timeline import Event, Timeline, build_timeline

EVENT, CAPTION = "event", "caption"
"""Kinds of borrowed values: an event (as relationship and grounding options name
events) or a clip caption (caption-window options)."""
NO_SPAN = -1.0
"""Span of a borrowed event: it has none in this video (compatibility rules skip it)."""


@dataclass(frozen=True)
class Borrowed:
    """A wrong option taken from another video: never the answer, always a fair wrong one."""

    value: Hashable


def unwrap(value: Hashable) -> Hashable:
    """The value as the question type renders it (a borrowed value's own)."""
    return value.value if isinstance(value, Borrowed) else value


@dataclass(frozen=True)
class DistractorBank:
    """Event descriptions and clip captions of other videos (deduplicated, sorted)."""

    events: tuple[str, ...]
    captions: tuple[str, ...]

    @classmethod
    def load(cls, sources: Iterable[str], max_entries: int) -> DistractorBank:
        """Read every source: a built OUT (folder or store URL) or a JSONL file of
        clip-like rows (`caption`, optional `shape`, `color`, `action`). Each video scans
        the whole bank, so a larger one keeps `max_entries` per kind, chosen by hash."""
        events: set[str] = set()
        captions: set[str] = set()
        for source in sources:
            for timeline in _source_timelines(source):
                events.update(event.description for event in timeline.events)
                captions.update(sentence(clip) for clip in timeline.clips)
        return cls(_subset(events, max_entries), _subset(captions, max_entries))

    def __bool__(self) -> bool:
        return bool(self.events or self.captions)

    def for_video(
        self, timeline: Timeline, video_key: str, limit: int
    ) -> dict[str, list[Borrowed]]:
        """Per kind, the `limit` absent candidates most like this video's own values."""
        descriptions = [e.description for e in timeline.events]
        captions = [sentence(clip) for clip in timeline.clips]
        own_events = {d.lower() for d in descriptions} | {e.phrase.lower() for e in timeline.clips}
        own_sentences = frozenset().union(*(sentences_of(caption) for caption in captions))
        absent_events = [d for d in self.events if d.lower() not in own_events]
        absent_captions = [c for c in self.captions if not (sentences_of(c) & own_sentences)]
        similar_events = _most_similar(absent_events, descriptions, video_key, limit)
        similar_captions = _most_similar(absent_captions, captions, video_key, limit)
        return {
            EVENT: [Borrowed(EventValue(d, NO_SPAN, NO_SPAN)) for d in similar_events],
            CAPTION: [Borrowed(caption) for caption in similar_captions],
        }


@functools.lru_cache(maxsize=4)
def load_bank(sources: tuple[str, ...], max_entries: int) -> DistractorBank:
    """The bank of these sources, read once per worker process (an empty bank for none)."""
    return DistractorBank.load(sources, max_entries)


def _subset(texts: set[str], size: int) -> tuple[str, ...]:
    """`size` of `texts` chosen by a hash of each (the same whatever order they came in)."""
    kept = sorted(texts, key=lambda text: (zlib.crc32(text.encode()), text))[:size]
    return tuple(sorted(kept))


def _most_similar(candidates: list[str], own: list[str], key: str, limit: int) -> list[str]:
    """Up to `limit` candidates, taken in turn for each of the video's own values: one of
    the length nearest its own (so option length does not tell borrowed from own, the
    pool's lengths following the video's), sharing most of the video's words, first by
    a per-video hash."""
    salt = zlib.crc32(key.encode())
    vocabulary = _words(" ".join(own))
    by_length: dict[int, list[tuple[float, int, str]]] = {}
    for text in candidates:
        words = _words(text)
        share = len(words & vocabulary) / len(words) if words else 0.0
        by_length.setdefault(len(words), []).append((-share, zlib.crc32(text.encode(), salt), text))
    for bucket in by_length.values():
        bucket.sort(reverse=True)  # best last, for pop()
    chosen: list[str] = []
    lengths = sorted(len(_words(text)) for text in own)
    while by_length and lengths and len(chosen) < limit:
        for length in lengths:
            nearest = min(by_length, key=lambda have: (abs(have - length), have))
            chosen.append(by_length[nearest].pop()[2])
            if not by_length[nearest]:
                del by_length[nearest]
            if not by_length or len(chosen) == limit:
                break
    return chosen


@functools.lru_cache(maxsize=1 << 17)  # bank texts are measured again for every video
def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def _source_timelines(source: str) -> Iterable[Timeline]:
    """Timelines of a bank source, one per video (one per file line for JSONL)."""
    if source.endswith(".jsonl"):
        yield from _jsonl_timelines(Path(source))
        return
    from longvid_pipeline.query import run_query

    rows = run_query(
        source,
        "SELECT video_id, start_s, end_s, caption, caption_source, attributes FROM clips"
        " WHERE caption IS NOT NULL ORDER BY video_id, start_s",
    ).to_pylist()
    by_video: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_video.setdefault(row["video_id"], []).append(row)
    for clips in by_video.values():
        yield build_timeline(clips, max(float(c["end_s"]) for c in clips), max_gap_s=0.0)


def _jsonl_timelines(path: Path) -> Iterable[Timeline]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            caption = str(entry["caption"])
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(
                f"{path}:{number}: not a JSON object with a caption ({error})"
            ) from None
        fields = {name: entry.get(name) for name in ("shape", "color", "action")}
        event = Event(0.0, 1.0, caption, **fields)
        yield Timeline(1.0, (event,), (event,), structured=False, complete=True)
