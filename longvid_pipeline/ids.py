"""Derived ids: every id that appears in a path or a table is a hash, never raw input.

Hashing keeps ids stable across runs (resume and dedup rely on it) and makes path
traversal through a crafted URL or file name impossible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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


class IdSet:
    """Ids seen so far in a run, in about 8 bytes each instead of ~100 for a set of str.

    The writer refuses a row whose id it has already written anywhere in the run, so it
    keeps every clip, QA and reject id: ~50 QA rows per video made that ~5 KB of driver
    memory per input, 0.6 GB at LongVid's 114k videos. Here an id is its 64-bit BLAKE2b
    digest: new ones go to a small set, merged into a sorted numpy array when it grows.
    Two distinct ids share a digest with probability ~n²/2⁶⁵ (1e-6 for 6M ids): then the
    second row would be refused as a duplicate and named in `rejects`, never lost silently.
    """

    MERGE_AT = 1 << 16

    def __init__(self, ids: Iterable[str] = ()) -> None:
        import numpy as np

        self._np = np
        self._sorted = np.empty(0, dtype=np.uint64)
        self._recent: set[int] = set()
        for one in ids:
            self.add(one)

    @staticmethod
    def _key(one: str) -> int:
        return int.from_bytes(hashlib.blake2b(one.encode(), digest_size=8).digest(), "little")

    def __contains__(self, one: object) -> bool:
        if not isinstance(one, str):
            return False
        key = self._key(one)
        if key in self._recent:
            return True
        at = int(self._np.searchsorted(self._sorted, self._np.uint64(key)))
        return at < len(self._sorted) and int(self._sorted[at]) == key

    def add(self, one: str) -> None:
        self._recent.add(self._key(one))
        if len(self._recent) >= self.MERGE_AT:
            recent = self._np.fromiter(self._recent, dtype=self._np.uint64, count=len(self._recent))
            self._sorted = self._np.union1d(self._sorted, recent)
            self._recent = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)
