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


class StoreError(RuntimeError):
    """An OUT URL that cannot be used: no filesystem for its scheme (s3fs not installed),
    no such bucket, no credentials. Raised before any work, in one line."""


def message_line(exc: BaseException, last: bool = False, limit: int | None = 300) -> str:
    """One line of `exc`'s message for a one-line error: its first line, or its last
    (`last`: Ray's wrapped task errors and tracebacks end with the cause), cut to `limit`;
    the exception's type name when it has no message."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return (lines[-1] if last else lines[0])[:limit]


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and every exception it wraps: yt-dlp's exc_info, Ray's `.cause`, and Python's
    __cause__ / __context__; each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        exc_info = getattr(current, "exc_info", None)
        if (
            isinstance(exc_info, tuple)
            and len(exc_info) > 1
            and isinstance(exc_info[1], BaseException)
        ):
            todo.append(exc_info[1])
        cause = getattr(current, "cause", None)
        todo.extend(
            c
            for c in (cause, current.__cause__, current.__context__)
            if isinstance(c, BaseException)
        )


def is_disk_full(exc: BaseException) -> bool:
    """True when `exc`, or anything it wraps, is ENOSPC / EDQUOT (also as text, as Arrow and
    Ray sometimes only keep the message)."""
    for current in exception_chain(exc):
        if isinstance(current, DiskFullError):
            return True
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        text = str(current).lower()
        if "no space left on device" in text or "disk quota exceeded" in text:
            return True
    return False
