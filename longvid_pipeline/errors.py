"""Errors that belong to the machine, not to an input: they stop the run, never become rejects.

A full disk says nothing about the video being processed: recording the input as
rejected would lose it (a rerun skips rejected inputs). So stages re-raise it, the run
stops, and the CLI says in one line what happened and what to do; committed shards stay
intact and a rerun after freeing space finishes the work.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class DiskFullError(OSError):
    """No space left where the run writes; raised with a message that names the place."""


class RunFailed(RuntimeError):
    """The run stopped (a worker died, a stage crashed); committed work is kept."""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: __cause__/__context__, Ray's `.cause`, yt-dlp's exc_info."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        exc_info = getattr(current, "exc_info", None)
        wrapped = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
        cause = getattr(current, "cause", None)
        pending += [current.__cause__, current.__context__, wrapped if isinstance(wrapped, BaseException) else None,
                    cause if isinstance(cause, BaseException) else None]


def is_disk_full(exc: BaseException) -> bool:
    """True when `exc`, or anything it wraps, is ENOSPC / EDQUOT (also as text, as Arrow and
    Ray sometimes only keep the message)."""
    for current in _causes(exc):
        if isinstance(current, DiskFullError):
            return True
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        text = str(current).lower()
        if "no space left on device" in text or "disk quota exceeded" in text:
            return True
    return False
