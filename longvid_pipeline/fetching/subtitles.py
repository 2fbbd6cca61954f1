"""Subtitles: WebVTT/SRT cues parsed into [{start_s, end_s, text}], and the sidecar files
next to a local video that belong to it.

Fetch keeps the cues of a site's subtitles (or a folder's `.vtt` sidecars) on the item;
the caption stage aligns them to clip spans.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any


def subtitle_sidecars(media_path: Path) -> list[Path]:
    """`.vtt` files next to a local media file that belong to it (`<stem>.vtt`, `<stem>.<lang>.vtt`)."""
    folder, stem = media_path.parent, media_path.stem
    return sorted(
        p
        for p in folder.glob(f"{stem}*.vtt")
        if p.name == f"{stem}.vtt" or p.name.startswith(f"{stem}.")
    )


_CUE_TAG = re.compile(r"<[^>]+>")


def _vtt_seconds(stamp: str) -> float:
    """'01:02:03.500', '02:03.500' or SRT's '01:02:03,500' as seconds."""
    parts = stamp.strip().replace(",", ".").split(":")
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + float(part)
    return seconds


def parse_vtt(text: str) -> list[dict[str, Any]]:
    """Cues of a WebVTT (or SRT) file as [{start_s, end_s, text}], tags stripped.

    Automatic captions repeat the previous line in the next cue (roll-up captions); a cue
    whose text equals the previous one extends it instead of being kept twice.
    """
    cues: list[dict[str, Any]] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [line for line in block.split("\n") if line.strip()]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        start_text, end_text = lines[timing].split("-->", 1)
        try:
            start_s, end_s = _vtt_seconds(start_text), _vtt_seconds(end_text.split()[0])
        except (ValueError, IndexError):
            continue
        words = " ".join(_CUE_TAG.sub("", line).strip() for line in lines[timing + 1 :])
        words = html.unescape(" ".join(words.split()))
        if not words:
            continue
        if cues and cues[-1]["text"] == words:
            cues[-1]["end_s"] = max(cues[-1]["end_s"], end_s)
            continue
        cues.append({"start_s": start_s, "end_s": end_s, "text": words})
    return cues
