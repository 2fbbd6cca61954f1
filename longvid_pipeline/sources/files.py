"""Sources: turn a manifest file or a local folder into input rows, dropping nothing.

An input row is a plain dict with a `url` (a URL, or an absolute file path for a folder
source) and any other columns as metadata; the runner wraps each one in a WorkItem. No
row is filtered here, not even one with an empty url: fetch rejects it with a reason so
`stats` can prove inputs = kept + rejected.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

SOURCE_KINDS = ("manifest", "folder")
SIDECAR_SUFFIXES = (".json", ".vtt", ".srt")
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".parquet")


class SourceError(Exception):
    """A source that cannot be read at all (the run stops before any work starts)."""


def load_inputs(kind: str, path: Path) -> list[dict[str, Any]]:
    """Input rows of one source.

    Use it when the recipe names a `manifest` (CSV, JSONL or Parquet with a `url` column)
    or a `folder` of media files.

    Example:
        >>> rows = load_inputs("manifest", Path("videos.csv"))  # doctest: +SKIP
        >>> rows[0]["url"]
        'https://example.com/a.mp4'

    Raises:
        SourceError: unknown kind, missing file, unsupported extension or no `url` column.
    """
    path = Path(path)
    if kind == "manifest":
        return load_manifest(path)
    if kind == "folder":
        return load_folder(path)
    raise SourceError(f"unknown source kind {kind!r} (known: {', '.join(SOURCE_KINDS)})")


def load_manifest(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV / JSONL / Parquet manifest; every row kept, `url` made a string."""
    if not path.is_file():
        raise SourceError(f"manifest not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        columns, rows = _read_csv(path)
    elif suffix == ".jsonl":
        columns, rows = _read_jsonl(path)
    elif suffix == ".parquet":
        columns, rows = _read_parquet(path)
    else:
        raise SourceError(
            f"manifest {path}: unsupported extension {suffix!r} (use {', '.join(MANIFEST_SUFFIXES)})"
        )
    if "url" not in columns:
        raise SourceError(
            f"manifest {path} has no 'url' column (columns: {sorted(columns)}); "
            "add one holding each video's URL"
        )
    return [_clean_row(row) for row in rows]


def _clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """Make `url` a string ('' when missing) and turn NaN cells into None for JSON."""
    cleaned = {
        key: None if isinstance(value, float) and math.isnan(value) else value
        for key, value in row.items()
    }
    url = cleaned.get("url")
    cleaned["url"] = "" if url is None else str(url)
    return cleaned


def _read_csv(path: Path) -> tuple[set[str], list[dict[str, Any]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [dict(row) for row in reader]
        return set(reader.fieldnames or []), rows


def _read_jsonl(path: Path) -> tuple[set[str], list[dict[str, Any]]]:
    """JSONL rows; a line that is not a JSON object is kept as a row with an empty url."""
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                value = None
            if not isinstance(value, dict):
                value = {"url": "", "manifest_line": number, "raw": line.strip()[:1000]}
            rows.append(value)
    columns = {key for row in rows for key in row}
    return columns or {"url"}, rows


def _read_parquet(path: Path) -> tuple[set[str], list[dict[str, Any]]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return set(table.column_names), table.to_pylist()


def load_folder(path: Path) -> list[dict[str, Any]]:
    """One row per media file under `path` (recursive, sorted), sidecars attached.

    A `<stem>.json` next to a file is its ground-truth annotations; `.json`, `.vtt` and
    `.srt` files are sidecars, never inputs themselves. Anything else, even a file that
    is not a video, becomes an input so fetch can reject it with a reason.
    """
    if not path.is_dir():
        raise SourceError(f"folder not found: {path}")
    rows = []
    for file in sorted(p for p in path.resolve().rglob("*") if p.is_file()):
        if file.suffix.lower() in SIDECAR_SUFFIXES:
            continue
        sidecar = file.with_suffix(".json")
        rows.append(
            {
                "url": str(file),
                "annotations_path": str(sidecar) if sidecar.is_file() else None,
            }
        )
    return rows
