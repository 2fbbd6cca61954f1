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

from longvid_pipeline.schemas import arrow_schema, ddl
from longvid_pipeline.shards import committed_files
from longvid_pipeline.store import StoreOut, is_url
from longvid_pipeline.tables import available_tables, schema_dir


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def connect(out: str | Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one view per table over OUT's committed shards (OUT is a
    folder or an object store URL)."""
    if is_url(out):
        return _connect_store(StoreOut(str(out)))
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
    return _add_views(connection)


def _add_views(connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    views = schema_dir() / "views.sql"
    if views.exists():
        connection.execute(views.read_text())
    return connection


def _connect_store(store: StoreOut) -> duckdb.DuckDBPyConnection:
    """Views over a store's committed Parquet objects: pyarrow reads them through fsspec
    and DuckDB scans the Arrow datasets (no DuckDB extension, nothing downloaded whole)."""
    if not store.exists():
        raise FileNotFoundError(f"no pipeline output at {store.url} (run `longvid-pipeline run`)")
    paths = store.committed_paths()
    connection = duckdb.connect()
    for table in available_tables():
        if paths.get(table):
            connection.register(
                f"{table}_objects", store.arrow_dataset(paths[table], arrow_schema(table))
            )
            connection.execute(f"CREATE VIEW {table} AS SELECT * FROM {table}_objects")
        else:
            connection.execute(ddl(table))
    return _add_views(connection)


def run_query(out: str | Path, sql: str) -> pa.Table:
    """Run `sql` against OUT's views and return an Arrow table."""
    connection = connect(out)
    try:
        return connection.sql(sql).to_arrow_table()
    finally:
        connection.close()
