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
    fractions = config.fractions
    ordered = sorted(set(input_ids), key=lambda input_id: stable_hash("split", seed, input_id))
    counts = dict.fromkeys(SPLITS, 0)
    assigned = {}
    for position, input_id in enumerate(ordered, start=1):
        # The split furthest behind its share; ties go to the rarer split (test, val).
        split = max(reversed(SPLITS), key=lambda s: fractions[s] * position - counts[s])
        counts[split] += 1
        assigned[input_id] = split
    return assigned
