"""Table contracts: read from schemas/*.sql (the single source) and enforced on write.

Each table is one DuckDB DDL file with column comments. DuckDB parses it (no DDL
parser of our own), and its empty table gives the Arrow schema that writers enforce.
`conform_rows` checks rows against a contract without coercing: a value of the wrong
type, a missing required value or an unknown column makes the row a reject with the
reason, never a silently converted value.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from longvid_pipeline.tables import schema_dir


@functools.cache
def ddl(table: str) -> str:
    path = schema_dir() / f"{table}.sql"
    if not path.exists():
        raise KeyError(f"no contract for table {table!r} (expected {path})")
    return path.read_text()


@functools.cache
def _describe(table: str) -> tuple[pa.Schema, dict[str, str]]:
    connection = duckdb.connect()
    try:
        connection.execute(ddl(table))
        arrow_schema = connection.sql(f"SELECT * FROM {table} LIMIT 0").to_arrow_table().schema
        rows = connection.execute(
            "SELECT column_name, comment, is_nullable FROM duckdb_columns() WHERE table_name = ?",
            [table],
        ).fetchall()
    finally:
        connection.close()
    comments = {name: comment or "" for name, comment, _ in rows}
    nullable = {name: bool(is_nullable) for name, _, is_nullable in rows}
    fields = [
        pa.field(f.name, _plain_type(f.type), nullable=nullable[f.name]) for f in arrow_schema
    ]
    return pa.schema(fields), comments


def _plain_type(arrow_type: pa.DataType) -> pa.DataType:
    """DuckDB exports VARCHAR as string_view / large types; Parquet readers want plain ones."""
    if pa.types.is_string_view(arrow_type) or pa.types.is_large_string(arrow_type):
        return pa.string()
    if (
        pa.types.is_list(arrow_type)
        or pa.types.is_large_list(arrow_type)
        or pa.types.is_list_view(arrow_type)
    ):
        return pa.list_(_plain_type(arrow_type.value_type))
    if pa.types.is_struct(arrow_type):
        return pa.struct([pa.field(f.name, _plain_type(f.type)) for f in arrow_type])
    return arrow_type


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of `table` as its contract defines it."""
    return _describe(table)[0]


def column_comments(table: str) -> dict[str, str]:
    """Column name -> comment, from the contract."""
    return _describe(table)[1]


@dataclass(frozen=True)
class RowProblem:
    """Why one row does not fit its contract."""

    row: dict[str, Any]
    reason: str


def _value_problem(name: str, value: Any, field_type: pa.DataType) -> str | None:
    """Reject conversions Arrow would perform silently (bool<->int, int->str, float->int)."""
    if value is None:
        return None
    if pa.types.is_string(field_type) and not isinstance(value, str):
        return f"{name}: expected string, got {type(value).__name__}"
    if pa.types.is_integer(field_type) and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{name}: expected integer, got {type(value).__name__}"
    if pa.types.is_floating(field_type) and (
        isinstance(value, bool) or not isinstance(value, (int, float))
    ):
        return f"{name}: expected number, got {type(value).__name__}"
    if pa.types.is_boolean(field_type) and not isinstance(value, bool):
        return f"{name}: expected boolean, got {type(value).__name__}"
    if pa.types.is_timestamp(field_type) and not isinstance(value, (str, datetime)):
        return f"{name}: expected timestamp, got {type(value).__name__}"
    if pa.types.is_list(field_type):
        if not isinstance(value, list):
            return f"{name}: expected list, got {type(value).__name__}"
        for index, element in enumerate(value):
            problem = _value_problem(f"{name}[{index}]", element, field_type.value_type)
            if problem:
                return problem
    if pa.types.is_struct(field_type):
        if not isinstance(value, dict):
            return f"{name}: expected object, got {type(value).__name__}"
        extra = set(value) - {f.name for f in field_type}
        if extra:
            return f"{name}: unknown keys {sorted(extra)}"
        for sub in field_type:
            problem = _value_problem(f"{name}.{sub.name}", value.get(sub.name), sub.type)
            if problem:
                return problem
    return None


def row_problem(row: dict[str, Any], schema: pa.Schema) -> str | None:
    """The first reason `row` does not fit `schema`, or None when it fits."""
    unknown = sorted(set(row) - set(schema.names))
    if unknown:
        return f"unknown columns {unknown}"
    for fld in schema:
        value = row.get(fld.name)
        if value is None:
            if not fld.nullable:
                return f"{fld.name}: missing required value"
            continue
        if isinstance(value, float) and value != value:  # NaN is never a valid value
            return f"{fld.name}: NaN"
        problem = _value_problem(fld.name, value, fld.type)
        if problem:
            return problem
    return None


def _to_arrow_value(value: Any, field_type: pa.DataType) -> Any:
    if value is not None and pa.types.is_timestamp(field_type) and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def conform_rows(table: str, rows: list[dict[str, Any]]) -> tuple[pa.Table, list[RowProblem]]:
    """Split `rows` into an Arrow table that fits the contract and the rows that do not."""
    schema = arrow_schema(table)
    good: list[dict[str, Any]] = []
    problems: list[RowProblem] = []
    for row in rows:
        reason = row_problem(row, schema)
        if reason:
            problems.append(RowProblem(row=row, reason=reason))
        else:
            good.append({f.name: _to_arrow_value(row.get(f.name), f.type) for f in schema})
    try:
        table_data = pa.Table.from_pylist(good, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, OverflowError) as exc:
        # A value passed the checks above but Arrow still refused it: find it row by row.
        table_data, late = _conform_one_by_one(good, schema, exc)
        problems.extend(late)
    return table_data, problems


def _conform_one_by_one(
    rows: list[dict[str, Any]], schema: pa.Schema, first_error: Exception
) -> tuple[pa.Table, list[RowProblem]]:
    kept, problems = [], []
    for row in rows:
        try:
            pa.Table.from_pylist([row], schema=schema)
            kept.append(row)
        except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError, OverflowError) as exc:
            problems.append(RowProblem(row=row, reason=f"arrow: {exc}"))
    del first_error
    return pa.Table.from_pylist(kept, schema=schema), problems


def describe_markdown(table: str) -> str:
    """The contract as a Markdown table (used by `longvid-pipeline inspect`)."""
    schema, comments = _describe(table)
    lines = [f"### {table}", "", "| column | type | null | meaning |", "|---|---|---|---|"]
    for fld in schema:
        lines.append(
            f"| {fld.name} | {fld.type} | {'yes' if fld.nullable else 'no'} | {comments.get(fld.name, '')} |"
        )
    return "\n".join(lines)
