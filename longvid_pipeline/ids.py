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
    digest: new ones go to a small set; every `MERGE_AT` of them become a sorted numpy run,
    and runs merge like the digits of a binary counter (a run absorbs the runs before it
    that are no longer than it), so there are O(log n) runs and each digest is copied
    O(log n) times. One sorted array merged with every 65,536 new ids instead copied the
    whole array each time: 5M ids (100k inputs of 50 QA rows) took 191 s, slowing the run
    as it grew, and the ever larger arrays left freed heap the driver could not give back
    to the system (314 MB of RSS for 40 MB of digests; now 43 s and 46 MB:
    benchmarks/idset.py).
    Two distinct ids share a digest with probability ~n²/2⁶⁵ (1e-6 for 6M ids): then the
    second row would be refused as a duplicate and named in `rejects`, never lost silently.
    """

    MERGE_AT = 1 << 16

    def __init__(self, ids: Iterable[str] = ()) -> None:
        import numpy as np

        self._np = np
        self._runs: list[Any] = []  # sorted uint64 arrays, largest first
        self._recent: set[int] = set()
        for one in ids:
            self.add(one)

    @staticmethod
    def _key(one: str) -> int:
        return int.from_bytes(hashlib.blake2b(one.encode(), digest_size=8).digest(), "little")

    def __contains__(self, one: object) -> bool:
        return isinstance(one, str) and self._has(self._key(one))

    def _has(self, key: int) -> bool:
        if key in self._recent:
            return True
        probe = self._np.uint64(key)
        for run in self._runs:
            at = int(self._np.searchsorted(run, probe))
            if at < len(run) and int(run[at]) == key:
                return True
        return False

    def add(self, one: str) -> bool:
        """Add `one`; False when it was there already (so a caller asks only once)."""
        key = self._key(one)
        if self._has(key):
            return False
        self._recent.add(key)
        if len(self._recent) >= self.MERGE_AT:
            np = self._np
            run = np.sort(np.fromiter(self._recent, dtype=np.uint64, count=len(self._recent)))
            self._recent = set()
            while self._runs and len(self._runs[-1]) <= len(run):
                # two sorted runs: the stable sort (timsort) merges them in linear time
                run = np.sort(np.concatenate((self._runs.pop(), run)), kind="stable")
            self._runs.append(run)
        return True

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs) + len(self._recent)
