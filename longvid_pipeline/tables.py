"""The table registry: which tables a dataset has, their id columns, and which of them a
work item carries as row lists.

The one list every part reads (the shard writer, the runner's `--force`, validation,
contracts, fault injection in tests) instead of spelling the tables out again. Columns and
types live in schemas/<table>.sql; this module imports nothing heavy, so recipe checks
stay light.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Table:
    """One table of a dataset."""

    name: str
    id_column: str
    item_rows: bool  # held on the work item as a list of rows (clips, qa, niah)


TABLES: tuple[Table, ...] = (
    Table("videos", "video_id", item_rows=False),
    Table("clips", "clip_id", item_rows=True),
    Table("qa", "qa_id", item_rows=True),
    Table("niah", "sample_id", item_rows=True),
    Table("rejects", "reject_id", item_rows=False),
)
COMMITS_DIR = "_commits"  # commit records: the only files that say which shards are data
TABLE_NAMES: tuple[str, ...] = tuple(table.name for table in TABLES)
ID_COLUMNS: dict[str, str] = {table.name: table.id_column for table in TABLES}
ROW_TABLES: tuple[str, ...] = tuple(table.name for table in TABLES if table.item_rows)


SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def schema_dir() -> Path:
    """Folder of the contracts; next to the package in a checkout or an editable install."""
    if not SCHEMA_DIR.is_dir():
        raise FileNotFoundError(f"contracts folder not found: {SCHEMA_DIR}")
    return SCHEMA_DIR


def available_tables() -> list[str]:
    """Tables that have a contract file (schemas/<table>.sql), in pipeline order."""
    return [name for name in TABLE_NAMES if (schema_dir() / f"{name}.sql").exists()]
