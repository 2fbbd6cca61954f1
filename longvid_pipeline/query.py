"""DuckDB over the shards: one view per table, over committed files only.

`connect(out)` returns a DuckDB connection where `videos`, `clips`, `qa`, `rejects`
(and any other table with a contract) are views over the Parquet files that commits
list; a table with no rows yet is an empty table of the contract's columns, so queries
never fail for lack of data. schemas/views.sql adds the user-facing views.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from longvid_pipeline.schemas import ddl
from longvid_pipeline.shards import committed_files
from longvid_pipeline.tables import available_tables, schema_dir


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def connect(out: str | Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per table over OUT's committed shards."""
    out_path = Path(out)
    if not out_path.is_dir():
        raise FileNotFoundError(
            f"no output folder at {out_path} (run `longvid-pipeline run` first)"
        )
    files = committed_files(out_path)
    connection = duckdb.connect()
    for table in available_tables():
        table_files = files.get(table, [])
        if table_files:
            file_list = ", ".join(_quote(path) for path in table_files)
            connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{file_list}])")
        else:
            connection.execute(ddl(table))
    views = schema_dir() / "views.sql"
    if views.exists():
        connection.execute(views.read_text())
    return connection


def run_query(out: str | Path, sql: str) -> pa.Table:
    """Run `sql` against OUT's views and return an Arrow table."""
    connection = connect(out)
    try:
        return connection.sql(sql).to_arrow_table()
    finally:
        connection.close()
