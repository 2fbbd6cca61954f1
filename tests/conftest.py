"""Suite-wide test order: slow end-to-end files first.

`make test` runs two pytest workers that take one file at a time in collection order
(pytest-xdist, --dist loadfile). The slow files (minutes each) collected last would end
the run with one worker busy and the other idle; started first, they share both workers
and the many quick files fill the gaps at the end.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stable sort: items marked slow before the rest, each group in collection order."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
