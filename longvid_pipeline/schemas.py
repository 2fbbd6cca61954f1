"""Table contracts: read from schemas/*.sql (the single source) and enforced on write.

Each table is one DuckDB DDL file with column comments. DuckDB parses it (no DDL
parser of our own), and its empty table gives the Arrow schema that writers enforce.
`conform_rows` checks rows against a contract without coercing: a value of the wrong
type, a missing required value or an unknown column makes the row a reject with the
reason, never a silently converted value.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
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


# A value checker: (the value's dotted name, the value) -> why it does not fit, or None.
Checker = Callable[[str, Any], "str | None"]


def _kind_checker(expected: str, accepts: Callable[[Any], bool]) -> Checker:
    def check(name: str, value: Any) -> str | None:
        if value is None or accepts(value):
            return None
        return f"{name}: expected {expected}, got {type(value).__name__}"

    return check


def _list_checker(element: Checker) -> Checker:
    def check(name: str, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, list):
            return f"{name}: expected list, got {type(value).__name__}"
        for index, item in enumerate(value):
            if element("", item) is not None:  # the name is only spelled out on failure
                return element(f"{name}[{index}]", item)
        return None

    return check


def _struct_checker(field_type: pa.StructType) -> Checker:
    names = {sub.name for sub in field_type}
    subs = [(sub.name, _checker(sub.type)) for sub in field_type]

    def check(name: str, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            return f"{name}: expected object, got {type(value).__name__}"
        extra = set(value) - names
        if extra:
            return f"{name}: unknown keys {sorted(extra)}"
        for sub_name, sub_check in subs:
            problem = sub_check(f"{name}.{sub_name}", value.get(sub_name))
            if problem:
                return problem
        return None

    return check


@functools.cache
def _checker(field_type: pa.DataType) -> Checker:
    """The checker of one Arrow type, built once: the writer checks every value of every
    row in the driver, so the type dispatch must not be redone per value. It refuses the
    conversions Arrow would perform silently (bool<->int, int->str, float->int)."""
    if pa.types.is_string(field_type):
        return _kind_checker("string", lambda v: isinstance(v, str))
    if pa.types.is_integer(field_type):
        return _kind_checker("integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
    if pa.types.is_floating(field_type):
        return _kind_checker(
            "number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
        )
    if pa.types.is_boolean(field_type):
        return _kind_checker("boolean", lambda v: isinstance(v, bool))
    if pa.types.is_timestamp(field_type):
        return _kind_checker("timestamp", lambda v: isinstance(v, (str, datetime)))
    if pa.types.is_list(field_type):
        return _list_checker(_checker(field_type.value_type))
    if pa.types.is_struct(field_type):
        return _struct_checker(field_type)
    return lambda name, value: None


def _value_problem(name: str, value: Any, field_type: pa.DataType) -> str | None:
    """Why `value` cannot be stored as `field_type` without a silent conversion, or None."""
    return _checker(field_type)(name, value)


@functools.cache
def _field_checks(schema: pa.Schema) -> tuple[frozenset[str], list[tuple[str, bool, Checker]]]:
    return frozenset(schema.names), [(f.name, f.nullable, _checker(f.type)) for f in schema]


def row_problem(row: dict[str, Any], schema: pa.Schema) -> str | None:
    """The first reason `row` does not fit `schema`, or None when it fits."""
    names, checks = _field_checks(schema)
    if not names.issuperset(row):
        return f"unknown columns {sorted(set(row) - names)}"
    for name, nullable, check in checks:
        value = row.get(name)
        if value is None:
            if not nullable:
                return f"{name}: missing required value"
            continue
        if isinstance(value, float) and value != value:  # NaN is never a valid value
            return f"{name}: NaN"
        problem = check(name, value)
        if problem:
            return problem
    return None


@functools.cache
def _timestamp_names(schema: pa.Schema) -> tuple[str, ...]:
    return tuple(f.name for f in schema if pa.types.is_timestamp(f.type))


def _arrow_row(row: dict[str, Any], schema: pa.Schema) -> dict[str, Any]:
    """`row` with every column of `schema` and ISO timestamps parsed (Arrow wants datetimes)."""
    arrow_row = {name: row.get(name) for name in schema.names}
    for name in _timestamp_names(schema):
        value = arrow_row[name]
        if isinstance(value, str):
            arrow_row[name] = datetime.fromisoformat(value)
    return arrow_row


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
            good.append(_arrow_row(row, schema))
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
