"""Sources: turn a manifest file or a local folder into input rows, accounting for every line.

An input row is a plain dict with a `url` (a URL, or an absolute file path for a folder
source) and any other columns as metadata; the runner wraps each one in a WorkItem. Every
manifest line (or Parquet row) and every folder entry comes back as a `SourceRow`, and a
row that cannot be an input (an empty or unparsable line, a row without url, a symlink
out of the folder) carries the reason: the runner commits it as an input-level reject, so
`stats` proves inputs = kept + rejected. A bad URL is still an input: fetch rejects it.

A source that cannot be read at all (missing file, no `url` column) is a `SourceError`:
the run stops before any work, with one line naming the file.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longvid_pipeline.fetching.subtitles import subtitle_sidecars

SOURCE_KINDS = ("manifest", "folder")
SIDECAR_SUFFIXES = (".json", ".vtt", ".srt")
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".parquet")


class SourceError(Exception):
    """A source that cannot be read at all (the run stops before any work starts)."""


@dataclass
class SourceRow:
    """One manifest line or folder entry, and why it cannot be an input (None: it can).

    Attributes:
        row: the input row (url plus metadata); for a bad line, its raw text.
        where: 'line 3' (CSV/JSONL, physical line), 'row 3' (Parquet), or a file path.
        reason: reject reason when the row cannot be an input, else None.
        detail: what a reader of `rejects` needs to fix the line.
    """

    row: dict[str, Any]
    where: str
    reason: str | None = None
    detail: str = ""


def load_inputs(kind: str, path: Path, allow_outside_symlinks: bool = False) -> list[SourceRow]:
    """Every line or entry of one source, in source order (`iter_inputs`, as a list).

    Use it when the recipe names a `manifest` (CSV, JSONL or Parquet with a `url` column)
    or a `folder` of media files.

    Example:
        >>> rows = load_inputs("manifest", Path("videos.csv"))  # doctest: +SKIP
        >>> rows[0].row["url"], rows[0].where
        ('https://example.com/a.mp4', 'line 2')

    Raises:
        SourceError: unknown kind, missing or unreadable file, unsupported extension, or
            no `url` column.
    """
    return list(iter_inputs(kind, path, allow_outside_symlinks))


def iter_inputs(kind: str, path: Path, allow_outside_symlinks: bool = False) -> Iterator[SourceRow]:
    """Every line or entry of one source, in source order, read as it is consumed: a
    run reads its source twice this way (`inputs.Inputs`) instead of holding its rows.

    A missing file, a wrong kind or extension raise at once; a JSONL manifest none of
    whose rows has a `url` raises when its end is reached (only then is that known)."""
    path = Path(path)
    if kind == "manifest":
        return iter_manifest(path)
    if kind == "folder":
        return iter_folder(path, allow_outside_symlinks)
    raise SourceError(f"unknown source kind {kind!r} (known: {', '.join(SOURCE_KINDS)})")


def check_source(kind: str, path: Path) -> int:
    """Read a source as a run would (exists, readable, has `url`); return its row count.

    `run --check` calls it so a wrong path fails before any work, like a wrong key."""
    return sum(1 for _ in iter_inputs(kind, path))


# ----------------------------------------------------------------------------- manifests


def load_manifest(path: Path) -> list[SourceRow]:
    """Rows of a CSV / JSONL / Parquet manifest: one per line (row), none dropped."""
    return list(iter_manifest(path))


def iter_manifest(path: Path) -> Iterator[SourceRow]:
    """`load_manifest` read lazily; the file is checked (exists, known extension) at once."""
    if not path.is_file():
        raise SourceError(f"manifest not found: {path}")
    suffix = path.suffix.lower()
    readers = {".csv": _read_csv, ".jsonl": _read_jsonl, ".parquet": _read_parquet}
    if suffix not in readers:
        raise SourceError(
            f"manifest {path}: unsupported extension {suffix!r} (use {', '.join(MANIFEST_SUFFIXES)})"
        )
    return _checked_rows(path, readers[suffix](path))


def _checked_rows(path: Path, rows: Iterator[SourceRow | set[str]]) -> Iterator[SourceRow]:
    """The reader's rows with `url` made a string, and its failures as SourceErrors.

    A reader yields the manifest's columns (a set) before its rows when a header tells
    them, or after them (JSONL: the keys of all rows); a manifest without `url` among them
    is refused."""
    try:
        for row in rows:
            if isinstance(row, set):
                _require_url_column(path, row)
            else:
                yield _check_url(row)
    except UnicodeDecodeError as exc:
        raise SourceError(f"manifest {path} is not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise SourceError(f"cannot read manifest {path}: {exc.strerror or exc}") from exc


def _require_url_column(path: Path, columns: set[str]) -> None:
    if "url" not in columns:
        raise SourceError(
            f"manifest {path} has no 'url' column (columns: {sorted(columns)}); "
            "add one holding each video's URL"
        )


def _check_url(source_row: SourceRow) -> SourceRow:
    """Make `url` a string; a parsed row without one cannot be an input."""
    if source_row.reason:
        return source_row
    row = {
        key: None if isinstance(value, float) and math.isnan(value) else value
        for key, value in source_row.row.items()
    }
    url = "" if row.get("url") is None else str(row["url"])
    row["url"] = url
    if not url.strip():
        return SourceRow(row, source_row.where, "missing_url", f"{source_row.where}: no url")
    return SourceRow(row, source_row.where)


def _bad_line(where: str, reason: str, detail: str, raw: str) -> SourceRow:
    row = {"url": "", "manifest_line": where, "raw": raw.strip()[:1000]}
    return SourceRow(row, where, reason, f"{where}: {detail}")


def _read_csv(path: Path) -> Iterator[SourceRow | set[str]]:
    """The header's columns, then CSV rows by physical line (header = line 1); blank
    lines and misfits are bad lines."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        yield set(header)
        start = reader.line_num + 1
        for fields in reader:
            where, start = f"line {start}", reader.line_num + 1
            raw = ",".join(fields)
            if not any(field.strip() for field in fields):
                yield _bad_line(where, "empty_line", "the line is empty", raw)
            elif len(fields) != len(header):
                detail = f"{len(fields)} fields where the header has {len(header)}"
                yield _bad_line(where, "bad_manifest_line", detail, raw)
            else:
                yield SourceRow(dict(zip(header, fields, strict=True)), where)


def _read_jsonl(path: Path) -> Iterator[SourceRow | set[str]]:
    """JSONL rows by line (a blank line or one that is not a JSON object is a bad line),
    then the columns: the keys of the good rows (`url` when there is none)."""
    has_url = has_rows = False
    columns: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            where = f"line {number}"
            if not line.strip():
                yield _bad_line(where, "empty_line", "the line is empty", line)
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                yield _bad_line(where, "bad_manifest_line", f"not JSON ({exc.msg})", line)
                continue
            if not isinstance(value, dict):
                detail = f"expected a JSON object, got {type(value).__name__}"
                yield _bad_line(where, "bad_manifest_line", detail, line)
                continue
            has_rows, has_url = True, has_url or "url" in value
            if not has_url and len(columns) < 100:  # enough to name in the error
                columns.update(value)
            yield SourceRow(value, where)
    yield {"url"} if has_url or not has_rows else columns


def _read_parquet(path: Path) -> Iterator[SourceRow | set[str]]:
    """The schema's columns, then the rows batch by batch."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except pa.ArrowException as exc:
        raise SourceError(f"manifest {path} is not a readable Parquet file: {exc}") from exc
    yield set(parquet.schema_arrow.names)
    number = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield SourceRow(row, f"row {number}")


# ----------------------------------------------------------------------------- folders


def load_folder(path: Path, allow_outside_symlinks: bool = False) -> list[SourceRow]:
    """`iter_folder` as a list."""
    return list(iter_folder(path, allow_outside_symlinks))


def iter_folder(path: Path, allow_outside_symlinks: bool = False) -> Iterator[SourceRow]:
    """One row per media file under `path` (recursive, sorted), sidecars attached.

    A `<stem>.json` next to a file is its ground-truth annotations; `.json`, `.vtt` and
    `.srt` files are sidecars, never inputs themselves. Anything else, even a file that
    is not a video, becomes an input so fetch can reject it with a reason. A file (or a
    sidecar of it) that is a symlink to somewhere outside the folder is refused
    (`symlink_outside_folder`) unless `allow_outside_symlinks`: a folder handed over for
    a build must not read the rest of the machine. Symlinked directories are not entered.
    """
    if not path.is_dir():
        raise SourceError(f"folder not found: {path}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise SourceError(f"cannot read folder {path}: permission denied")
    return _folder_rows(path.resolve(), allow_outside_symlinks)


def _folder_rows(root: Path, allow_outside_symlinks: bool) -> Iterator[SourceRow]:
    for file in _media_files(root):
        sidecar = file.with_suffix(".json")
        row = {"url": str(file), "annotations_path": str(sidecar) if sidecar.is_file() else None}
        escaped = None if allow_outside_symlinks else _escaping_link(root, file)
        if escaped:
            yield SourceRow(row, str(file), "symlink_outside_folder", escaped)
        else:
            yield SourceRow(row, str(file))


def _media_files(root: Path) -> Iterator[Path]:
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        if file.suffix.lower() not in SIDECAR_SUFFIXES:
            yield file


def _escaping_link(root: Path, file: Path) -> str | None:
    """Why `file` or one of its sidecars leads outside `root`, or None when none does."""
    for candidate in [file, file.with_suffix(".json"), *subtitle_sidecars(file)]:
        if not candidate.exists():
            continue
        target = candidate.resolve()
        if target != root and root not in target.parents:
            return (
                f"{candidate} is a symlink to {target}, outside the folder {root}"
                " (set source.allow_outside_symlinks: true to follow it)"
            )
    return None
