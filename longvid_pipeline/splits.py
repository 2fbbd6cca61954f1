"""Train / val / test splits, assigned per video before any work starts.

A video's questions (and later its needles) must never straddle splits, and a split of
six videos at 5 % should hold the nearest whole number of videos, not whatever a hash
happens to give. So the runner assigns splits once for the whole input list: inputs are
ordered by a seeded hash of their id, then dealt out so that every prefix of that order
is within one video of the fractions (the split furthest behind its share takes the
next input). The result depends only on the set of input ids and the seed: the same
recipe gives the same splits on any machine, in any order of completion.

A rerun that adds inputs deals the new list afresh; videos already committed keep the
split they were written with (their rows are never rewritten).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from longvid_pipeline.config import param
from longvid_pipeline.ids import stable_hash

SPLITS = ("train", "val", "test")


@dataclass
class SplitsConfig:
    """How videos are divided between train, val and test (recipe key `splits`)."""

    val_fraction: float = param(0.05, "share of videos in split val", min=0.0, max=1.0)
    test_fraction: float = param(0.05, "share of videos in split test", min=0.0, max=1.0)

    def __post_init__(self) -> None:
        if self.val_fraction + self.test_fraction > 1.0:
            raise ValueError("val_fraction + test_fraction must not exceed 1")

    @property
    def fractions(self) -> dict[str, float]:
        train = 1.0 - self.val_fraction - self.test_fraction
        return {"train": train, "val": self.val_fraction, "test": self.test_fraction}


def assign_splits(input_ids: list[str], config: SplitsConfig, seed: int = 0) -> dict[str, str]:
    """input id -> train | val | test, each split within one video of its fraction.

    Example::

        assign_splits([f"in-{i}" for i in range(10)], SplitsConfig(0.2, 0.1))
        # 7 train, 2 val, 1 test, the same every time
    """
    table = SplitTable(input_ids, config, seed)
    return {input_id: table[input_id] for input_id in input_ids}


class SplitTable:
    """`assign_splits` for a run's whole input list in ~9 bytes per input.

    A run streams its inputs from the source instead of holding them, so the splits are
    kept as the sorted 64-bit split keys of all inputs and one split code per key; an
    input's split is found by its key (a dict of the ids took ~150 bytes per input). The
    key is the hex `stable_hash` read as a number, so the order, and every split, is the
    one the dict gave."""

    def __init__(self, input_ids: Iterable[str], config: SplitsConfig, seed: int = 0) -> None:
        import numpy as np

        self._np = np
        self.seed = seed
        keys = np.fromiter((self._key(one) for one in input_ids), dtype=np.uint64)
        self._keys = np.unique(keys)  # sorted, each input once
        self._codes = np.fromiter(
            _deal(len(self._keys), config.fractions), dtype=np.uint8, count=len(self._keys)
        )

    def _key(self, input_id: str) -> int:
        return int(stable_hash("split", self.seed, input_id), 16)

    def __len__(self) -> int:
        return len(self._keys)

    def __getitem__(self, input_id: str) -> str:
        key = self._np.uint64(self._key(input_id))
        at = int(self._np.searchsorted(self._keys, key))
        if at == len(self._keys) or self._keys[at] != key:
            raise KeyError(input_id)
        return SPLITS[int(self._codes[at])]


def _deal(count: int, fractions: dict[str, float]) -> Iterator[int]:
    """The split (index into SPLITS) of each of `count` inputs in key order: the split
    furthest behind its share; ties go to the rarer split (test, val)."""
    counts = [0] * len(SPLITS)
    shares = [fractions[split] for split in SPLITS]
    order = list(reversed(range(len(SPLITS))))
    for position in range(1, count + 1):
        code = max(order, key=lambda s: shares[s] * position - counts[s])
        counts[code] += 1
        yield code
