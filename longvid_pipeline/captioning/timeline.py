"""The captioned timeline stored with each video, and the summary written without an LLM.

The caption stage stores on the `videos` row:
- `timeline`: JSON list of the captioned clips in time order,
  `[{"start_s", "end_s", "caption", "source", "model"}]`, whatever backend produced them
  (QA and the needle builder read it without knowing which);
- `summary`: a description of the whole video: by default the timeline as ordered lines
  with times (`summary_model` "timeline"); the summarize stage replaces it with a text
  LLM's description (`summary_model` the model id).
"""

from __future__ import annotations

import json
from typing import Any

CONCAT_MODEL = "timeline"


def timeline_entries(clips: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Captioned clips in time order as timeline entries."""
    ordered = sorted(clips, key=lambda clip: (float(clip["start_s"]), float(clip["end_s"])))
    return [
        {
            "start_s": round(float(clip["start_s"]), 3),
            "end_s": round(float(clip["end_s"]), 3),
            "caption": clip["caption"],
            "source": clip.get("caption_source"),
            "model": clip.get("caption_model"),
        }
        for clip in ordered
        if clip.get("caption")
    ]


def timeline_text(entries: list[dict[str, Any]], max_chars: int | None = None) -> str:
    """One line per entry, '[12.0s-18.5s] caption', cut at a line when over `max_chars`."""
    lines = [f"[{e['start_s']:.1f}s-{e['end_s']:.1f}s] {e['caption']}" for e in entries]
    if max_chars is None:
        return "\n".join(lines)
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > max_chars:
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def store_timeline(video: dict[str, Any], clips: list[dict[str, Any]]) -> None:
    """Put the timeline and the concatenated summary on a `videos` row."""
    entries = timeline_entries(clips)
    video["timeline"] = json.dumps(entries, ensure_ascii=False)
    video["summary"] = timeline_text(entries) or None
    video["summary_model"] = CONCAT_MODEL if entries else None


def read_timeline(video: dict[str, Any]) -> list[dict[str, Any]]:
    """The timeline entries of a `videos` row (empty when none was stored)."""
    text = video.get("timeline")
    return list(json.loads(text)) if text else []
