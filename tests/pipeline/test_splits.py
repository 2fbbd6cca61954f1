"""Splits are dealt per video for the whole input list: close to the fractions even for a
handful of videos, the same on every run, stored on videos and qa rows alike."""

from __future__ import annotations

from collections import Counter

import pytest

from longvid_pipeline.config import build_section
from longvid_pipeline.ids import stable_hash
from longvid_pipeline.splits import SPLITS, SplitsConfig, SplitTable, assign_splits


@pytest.mark.parametrize(
    ("videos", "val", "test", "expected"),
    [
        (6, 0.15, 0.15, {"train": 4, "val": 1, "test": 1}),
        (6, 0.05, 0.05, {"train": 6}),
        (10, 0.2, 0.1, {"train": 7, "val": 2, "test": 1}),
        (3, 0.34, 0.33, {"train": 1, "val": 1, "test": 1}),
        (1, 0.1, 0.1, {"train": 1}),
    ],
)
def test_few_videos_get_the_nearest_counts(
    videos: int, val: float, test: float, expected: dict[str, int]
) -> None:
    ids = [f"in-{i:04d}" for i in range(videos)]
    assert Counter(assign_splits(ids, SplitsConfig(val, test)).values()) == expected


def test_every_prefix_of_many_videos_stays_within_one_of_the_fractions() -> None:
    ids = [f"in-{i:05d}" for i in range(2000)]
    splits = assign_splits(ids, SplitsConfig(0.1, 0.2))
    counts = Counter(splits.values())
    assert abs(counts["val"] - 200) <= 1 and abs(counts["test"] - 400) <= 1


def test_assignment_is_deterministic_and_order_free_but_seeded() -> None:
    ids = [f"in-{i:04d}" for i in range(50)]
    config = SplitsConfig(0.2, 0.2)
    assert assign_splits(ids, config) == assign_splits(list(reversed(ids)), config)
    assert assign_splits(ids, config, seed=1) != assign_splits(ids, config)
    assert set(assign_splits(ids, SplitsConfig(0.0, 0.0)).values()) == {"train"}


def test_fractions_above_one_are_a_config_problem() -> None:
    _, errors = build_section(SplitsConfig, {"val_fraction": 0.6, "test_fraction": 0.6}, "splits")
    assert len(errors) == 1 and errors[0].key == "splits"


def _dealt_by_dict(ids: list[str], config: SplitsConfig, seed: int) -> dict[str, str]:
    """The rule as the runner applied it with every id in a dict (before the table)."""
    ordered = sorted(set(ids), key=lambda one: stable_hash("split", seed, one))
    counts = dict.fromkeys(SPLITS, 0)
    dealt = {}
    for position, one in enumerate(ordered, start=1):
        split = max(reversed(SPLITS), key=lambda s: config.fractions[s] * position - counts[s])
        counts[split] += 1
        dealt[one] = split
    return dealt


def test_the_table_gives_the_dicts_splits_in_nine_bytes_an_input() -> None:
    ids = [f"in-{i:05d}" for i in range(3000)]
    config = SplitsConfig(0.1, 0.05)
    table = SplitTable((one for one in ids), config, seed=3)  # one pass over a stream
    assert {one: table[one] for one in ids} == _dealt_by_dict(ids, config, seed=3)
    assert len(table) == 3000
    assert table._keys.nbytes + table._codes.nbytes == 9 * 3000
    with pytest.raises(KeyError):
        table["in-not-in-the-run"]
