"""Suite-wide test order: slow end-to-end files first, the longest first.

`make test` runs two pytest workers that take one file at a time in collection order
(pytest-xdist, --dist loadfile --no-loadscope-reorder: by default xdist re-sorts the files
by their number of tests, which put the files of one or two long tests last). A slow file
(minutes) started last ends the run with one worker busy and the other idle; started
first, longest first, the slow files share both workers and the many quick files fill
the gaps at the end. A slow test says its rough CI minutes (`pytest.mark.slow(minutes=2)`,
default `SLOW_MINUTES`); a file's weight is the sum over its tests.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest

# Ray 2.60 turns token authentication on for a new local Ray when RAY_AUTH_MODE is unset,
# and writes RAY_AUTH_MODE=token into the calling process's environment for good: one
# test's in-process ray.init then changed the auth of every later cluster in that pytest
# worker, while CLI subprocesses given an environment copied earlier sent no token (the
# three-node test failed "InvalidAuthToken" once the DDP test ran before it in the same
# worker). Every Ray of the suite is local and on loopback: auth is off for all of them.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

SLOW_MINUTES = 0.25  # a slow test that does not say: a Ray start and a little work


def _minutes(item: pytest.Item) -> float:
    marker = item.get_closest_marker("slow")
    return 0.0 if marker is None else float(marker.kwargs.get("minutes", SLOW_MINUTES))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stable sort by file weight (heaviest first); a file's items stay together and in
    collection order."""
    weight: Counter[object] = Counter()
    for item in items:
        weight[item.path] += _minutes(item)
    items.sort(key=lambda item: -weight[item.path])
