"""Derived ids: every id that appears in a path or a table is a hash, never raw input.

Hashing keeps ids stable across runs (resume and dedup rely on it) and makes path
traversal through a crafted URL or file name impossible.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(*parts: Any, length: int = 16) -> str:
    """Hex digest of the JSON encoding of `parts`; same parts, same id, on any machine."""
    payload = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:length]


def input_id_for(url: str) -> str:
    """Id of one source row, from its URL or path exactly as given."""
    return "in-" + stable_hash("input", url)


def line_input_id(where: str, text: str) -> str:
    """Id of a source line that is no input of its own (a repeated URL, an unreadable
    line): its position and text, so every line is counted once and a rerun of the same
    manifest finds it done."""
    return "in-" + stable_hash("input-line", where, text)


def video_id_for(canonical_source: str) -> str:
    """Id of a video, from its canonical source (extractor:id or content hash)."""
    return "v-" + stable_hash("video", canonical_source)
