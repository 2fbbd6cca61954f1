"""Timestamped labels that datasets already ship, read into one shape and matched to videos.

LongVid was built this way: Ego4D, HowTo100M and COIN labels turned into questions. The
formats people use:

- `demo`: the demo world's sidecar, `{"events": [{start_s, end_s, caption, ...}], "scenes"}`;
  its events carry structured attributes (shape, colour, action).
- `activitynet`: ActivityNet Captions, `{video_key: {"duration", "timestamps": [[s, e]],
  "sentences": [...]}}`, or one such entry on its own (a per-video file).
- `coin`: COIN, `{"database": {video_key: {"annotation": [{"segment": [s, e], "label"}]}}}`.
- `jsonl`: one JSON object a line, `{"video", "start", "end", "text"}` (`video` optional in
  a per-video file).

`parse_annotations` turns any of them into {video key: [Segment]} (key None: the file
describes a single video). Videos are matched to keys by id or URL (`match_keys`): an
explicit `annotation_key` column of the manifest row, the site's video id, the URL, the
file name, and the YouTube id in the URL, each with and without ActivityNet's `v_` prefix.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = ("auto", "demo", "activitynet", "coin", "jsonl")
JSONL_KEY = "records"  # item.annotations of a JSONL file: {"records": [...]}


class AnnotationFormatError(ValueError):
    """An annotation file that does not have the shape its format says."""


@dataclass(frozen=True)
class Segment:
    """One labelled span of a video: what the dataset says happens from start to end."""

    start_s: float
    end_s: float
    text: str
    index: int
    label: str | None = None  # COIN's step label, kept apart from the sentence


def read_annotation_file(path: Path) -> dict[str, Any]:
    """A JSON object or a JSONL file (as {"records": rows}) from disk."""
    text = path.read_text(encoding="utf-8")
    return parse_annotation_text(text, path.name)


def parse_annotation_text(text: str, name: str = "") -> dict[str, Any]:
    """A JSON object, or JSONL rows wrapped as {"records": [...]} (by suffix or content).

    Raises:
        AnnotationFormatError: neither a JSON object nor JSONL.
    """
    if not name.endswith(".jsonl"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            if "Extra data" not in str(exc):
                raise AnnotationFormatError(f"not JSON: {exc}") from exc
        else:
            if not isinstance(value, dict):
                raise AnnotationFormatError(
                    f"expected a JSON object or JSONL, got {type(value).__name__}"
                )
            if {"start", "end", "text"} <= set(value):  # a JSONL file of one line
                return {JSONL_KEY: [value]}
            return value
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AnnotationFormatError(f"line {number}: not JSON: {exc}") from exc
    return {JSONL_KEY: rows}


def detect_format(raw: dict[str, Any]) -> str:
    """The format of a parsed annotation file (see the module docstring)."""
    if isinstance(raw.get("events"), list):
        return "demo"
    if isinstance(raw.get("database"), dict):
        return "coin"
    if isinstance(raw.get(JSONL_KEY), list):
        return "jsonl"
    if "timestamps" in raw and "sentences" in raw:
        return "activitynet"
    entries = [value for value in raw.values() if isinstance(value, dict)]
    if entries and all("timestamps" in e and "sentences" in e for e in entries):
        return "activitynet"
    raise AnnotationFormatError(
        "unknown annotation format: expected demo 'events', COIN 'database', "
        "ActivityNet '{video: {timestamps, sentences}}' or JSONL {video, start, end, text}"
    )


def parse_annotations(raw: dict[str, Any], fmt: str = "auto") -> dict[str | None, list[Segment]]:
    """Segments per video key (None: a per-video file), each list in time order.

    Raises:
        AnnotationFormatError: the file does not have the shape of `fmt`.
    """
    fmt = detect_format(raw) if fmt == "auto" else fmt
    try:
        parsed = _PARSERS[fmt](raw)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        if isinstance(exc, AnnotationFormatError):
            raise
        raise AnnotationFormatError(f"{fmt}: {type(exc).__name__}: {exc}") from exc
    return {key: _ordered(segments) for key, segments in parsed.items()}


def _ordered(segments: list[Segment]) -> list[Segment]:
    return sorted(segments, key=lambda s: (s.start_s, s.end_s, s.index))


def _span(start: Any, end: Any) -> tuple[float, float]:
    start_s, end_s = float(start), float(end)
    if not (start_s == start_s and end_s == end_s) or end_s < start_s:  # NaN or reversed
        raise AnnotationFormatError(f"bad span [{start}, {end}]")
    return start_s, end_s


def _demo(raw: dict[str, Any]) -> dict[str | None, list[Segment]]:
    segments = [
        Segment(*_span(e["start_s"], e["end_s"]), str(e["caption"]), int(e.get("index", i)))
        for i, e in enumerate(raw["events"])
    ]
    return {None: segments}


def _activitynet_entry(entry: dict[str, Any]) -> list[Segment]:
    spans, sentences = entry["timestamps"], entry["sentences"]
    if len(spans) != len(sentences):
        raise AnnotationFormatError(f"{len(spans)} timestamps but {len(sentences)} sentences")
    return [
        Segment(*_span(*span), " ".join(str(sentence).split()), index)
        for index, (span, sentence) in enumerate(zip(spans, sentences, strict=True))
    ]


def _activitynet(raw: dict[str, Any]) -> dict[str | None, list[Segment]]:
    if "timestamps" in raw and "sentences" in raw:
        return {None: _activitynet_entry(raw)}
    return {str(key): _activitynet_entry(entry) for key, entry in raw.items()}


def _coin(raw: dict[str, Any]) -> dict[str | None, list[Segment]]:
    parsed: dict[str | None, list[Segment]] = {}
    for key, entry in raw["database"].items():
        segments = []
        for index, step in enumerate(entry.get("annotation", [])):
            label = str(step["label"])
            segments.append(Segment(*_span(*step["segment"]), _sentence(label), index, label))
        parsed[str(key)] = segments
        if entry.get("video_url"):
            parsed[str(entry["video_url"])] = segments
    return parsed


def _sentence(label: str) -> str:
    """A COIN step label ("pour the milk") as a caption ("Pour the milk.")."""
    text = " ".join(label.split())
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _jsonl(raw: dict[str, Any]) -> dict[str | None, list[Segment]]:
    parsed: dict[str | None, list[Segment]] = {}
    for index, row in enumerate(raw[JSONL_KEY]):
        if not isinstance(row, dict):
            raise AnnotationFormatError(f"row {index}: expected an object")
        key = None if row.get("video") in (None, "") else str(row["video"])
        segment = Segment(
            *_span(row["start"], row["end"]), " ".join(str(row["text"]).split()), index
        )
        parsed.setdefault(key, []).append(segment)
    return parsed


_PARSERS = {"demo": _demo, "activitynet": _activitynet, "coin": _coin, "jsonl": _jsonl}

_YOUTUBE_ID = re.compile(r"(?:v=|youtu\.be/|shorts/|embed/)([A-Za-z0-9_-]{11})")


def match_keys(source: dict[str, Any], site_id: str | None = None) -> list[str]:
    """Keys that may name this video in a dataset file, most specific first."""
    url = str(source.get("url") or "")
    candidates = [source.get("annotation_key"), site_id, url]
    path = urllib.parse.urlsplit(url).path if "://" in url else url
    if path:
        name = Path(path).name
        candidates += [name, Path(name).stem]
    candidates += _YOUTUBE_ID.findall(url)
    keys: list[str] = []
    for candidate in candidates:
        if candidate in (None, ""):
            continue
        text = str(candidate)
        for key in (text, f"v_{text}", text.removeprefix("v_")):
            if key not in keys:
                keys.append(key)
    return keys


def segments_for(parsed: dict[str | None, list[Segment]], keys: list[str]) -> list[Segment] | None:
    """This video's segments: a per-video file's, else the first matching key's; None: no match."""
    if None in parsed:
        return parsed[None]
    for key in keys:
        if key in parsed:
            return parsed[key]
    return None
