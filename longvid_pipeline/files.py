"""Atomic file writes: the one mechanism behind every file a reader may trust.

A file is written under a temporary name in its final folder, flushed to disk, then
renamed over the final name: a reader sees the old file or the new one, never half of
one, and a failed write (a full disk, a killed process) leaves no temporary behind.
Shards, commit records, the manifest, reports and the demo world's sidecars all go
through `atomic_path`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success fsync it and rename it to `path`.

    `suffix` ends the temporary name, for writers that pick a format by extension
    (ffmpeg: ".mp4").

    Example:
        with atomic_path(out / "qa" / "part-0.parquet") as temp:
            pyarrow.parquet.write_table(table, temp)
    """
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp{suffix}")
    try:
        yield temp
        with open(temp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write bytes to `path` atomically (temp name, fsync, rename)."""
    with atomic_path(path) as temp:
        temp.write_bytes(data)
