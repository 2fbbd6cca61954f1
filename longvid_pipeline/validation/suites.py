"""Expectation suites: one JSON file per table, run with great-expectations on every batch.

A suite (schemas/expectations/<table>.json) is GX's own suite format (`name`, `meta`,
`expectations` of `type` + `kwargs` + `notes`) plus `derived_columns`: named helper
columns computed in Python for checks GX has no built-in for (options distinct, answer
among the options, a caption's repetition score, a sampling plan that fits the video).
A derived column is a small registered function plus its arguments, both data, so a new
table (niah) needs a new suite file and nothing else. The expectations themselves stay in
the JSON and are evaluated by GX; this module only prepares the frame, runs the suite,
and maps GX's unexpected row indices back to the rows that failed.

Only row-level expectations (column map, column pair map, multicolumn map) are allowed:
a failure must name rows, because failing rows become `rejects`. Uniqueness is checked
within one batch here; uniqueness across batches is the shard writer's concern.

`SuiteRunner` imports great_expectations when built (once per worker, ~4 s); the rest of
the module imports no GX, so the driver and the report writer stay light.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from longvid_pipeline.schemas import arrow_schema
from longvid_pipeline.tables import TABLE_NAMES
from longvid_pipeline.validation.derived import (
    DERIVATIONS,
    RELATED_DERIVATIONS,
    ROW_COLUMN_ARGS,
    VIDEO_COLUMN_ARGS,
    Related,
    Row,
    Video,
    hashable,
)
from longvid_pipeline.validation.suite_files import (
    parameters_of,
    suite_dir,
)

Validation = dict[str, dict[str, dict[str, int]]]

ROW_LEVEL_BASES = ("ColumnMapExpectation", "ColumnPairMapExpectation", "MulticolumnMapExpectation")
UNIQUENESS_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


class SuiteError(ValueError):
    """A suite file is wrong (unknown column, derivation or parameter): fix the JSON."""


# --------------------------------------------------------------------------- suite specs
@dataclass(frozen=True)
class DerivedColumn:
    """One helper column: a registered derivation and its arguments, from the suite JSON."""

    name: str
    fn: str
    args: dict[str, Any]

    def value(self, row: Row, video: Video, related: Related) -> Any:
        """The helper value for one row (derivations may also read the video row, and
        related ones the item's rows of other tables)."""
        if self.fn in RELATED_DERIVATIONS:
            return RELATED_DERIVATIONS[self.fn](row, video, related, **self.args)
        return DERIVATIONS[self.fn](row, video, **self.args)


@dataclass(frozen=True)
class SuiteSpec:
    """A suite as data: named expectation configs, derived columns, parameters used."""

    table: str
    expectations: list[dict[str, Any]]
    derived: list[DerivedColumn]
    row_columns: list[str]
    parameters: frozenset[str] = field(default_factory=frozenset)

    def names(self) -> list[str]:
        return [exp["meta"]["name"] for exp in self.expectations]


def expectation_name(config: dict[str, Any]) -> str:
    """`type(columns)`, e.g. expect_column_pair_values_a_to_be_greater_than_b(end_s,start_s)."""
    if config.get("meta", {}).get("name"):
        return str(config["meta"]["name"])
    return f"{config['type']}({','.join(_columns_of(config['kwargs']))})"


def _columns_of(kwargs: dict[str, Any]) -> list[str]:
    found = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    return found + list(kwargs.get("column_list", []))


def _load_derived(table: str, raw: dict[str, Any], contract: set[str]) -> list[DerivedColumn]:
    video_contract = set(arrow_schema("videos").names)
    derived = []
    for name, spec in raw.items():
        args = {k: v for k, v in spec.items() if k not in ("fn", "about")}
        if not name.startswith("_"):
            raise SuiteError(f"{table}: derived column {name!r} must start with '_'")
        known_fns = {**DERIVATIONS, **RELATED_DERIVATIONS}
        if spec.get("fn") not in known_fns:
            raise SuiteError(
                f"{table}: {name}: unknown fn {spec.get('fn')!r} "
                f"(known: {', '.join(sorted(known_fns))})"
            )
        if "table" in args and args["table"] not in TABLE_NAMES:
            raise SuiteError(f"{table}: {name}: unknown table {args['table']!r}")
        columns = [args[k] for k in ROW_COLUMN_ARGS if k in args] + args.get("columns", [])
        video_columns = [args[k] for k in VIDEO_COLUMN_ARGS if k in args]
        if spec["fn"] == "video_value":
            video_columns, columns = [args["column"]], []
        missing = [c for c in columns if c not in contract]
        missing += [c for c in video_columns if c not in video_contract]
        if missing:
            raise SuiteError(f"{table}: {name}: unknown columns {missing}")
        derived.append(DerivedColumn(name=name, fn=spec["fn"], args=args))
    return derived


def load_suite_spec(table: str) -> SuiteSpec:
    """Read schemas/expectations/<table>.json and check it against the table's contract.

    Every column an expectation names must be a contract column or a derived one, and
    expectation names must be unique (they key the validation counts); a typo in the JSON
    fails here, at recipe validation, not as a silent pass at run time.
    """
    path = suite_dir() / f"{table}.json"
    raw = json.loads(path.read_text())
    contract = set(arrow_schema(table).names)
    derived = _load_derived(table, raw.get("derived_columns", {}), contract)
    known = contract | {d.name for d in derived}
    expectations: list[dict[str, Any]] = []
    used: set[str] = set()
    for config in raw["expectations"]:
        columns = _columns_of(config["kwargs"])
        unknown = [c for c in columns if c not in known]
        if unknown:
            raise SuiteError(f"{path}: {config['type']}: unknown columns {unknown}")
        used.update(c for c in columns if c in contract)
        named = {**config, "meta": {**config.get("meta", {}), "name": expectation_name(config)}}
        expectations.append(named)
    names = [e["meta"]["name"] for e in expectations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SuiteError(f"{path}: duplicate expectation names {duplicates}; set meta.name")
    parameters = frozenset(parameters_of([e["kwargs"] for e in expectations]))
    return SuiteSpec(table, expectations, derived, sorted(used), parameters)


def build_frame(
    spec: SuiteSpec, rows: list[Row], video: Video, related: Related | None = None
) -> pd.DataFrame:
    """The contract columns GX reads, plus derived helpers; index = position in `rows`.

    List and struct columns stay out unless an expectation names them: derivations read
    them from the row, and GX plans faster on a narrow frame of scalars.
    """
    records = []
    for row in rows:
        record = {column: row.get(column) for column in spec.row_columns}
        record.update({d.name: d.value(row, video, related or {}) for d in spec.derived})
        records.append(record)
    columns = spec.row_columns + [d.name for d in spec.derived]
    return pd.DataFrame.from_records(records, columns=columns, index=range(len(rows)))


# --------------------------------------------------------------------------- running
@dataclass
class TableOutcome:
    """What a suite found in one batch of one table."""

    counts: dict[str, dict[str, int]]
    failures: dict[int, list[str]]  # row position -> names of the expectations it failed


class SuiteRunner:
    """GX context and suites, built once per worker; `run` validates one batch of rows."""

    def __init__(self, tables: Iterable[str]) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,  # offline-first: no usage statistics
            progress_bars=ProgressBarsConfig(globally=False),  # one bar per batch is noise
        )
        self._context = gx.get_context(mode="ephemeral", project_config=config)
        source = self._context.data_sources.add_pandas("rows")
        self.specs = {table: load_suite_spec(table) for table in tables}
        self._batches = {
            t: source.add_dataframe_asset(t).add_batch_definition_whole_dataframe(t)
            for t in self.specs
        }
        self._suites = {t: self._build_suite(gx, spec) for t, spec in self.specs.items()}

    @staticmethod
    def _build_suite(gx: Any, spec: SuiteSpec) -> Any:
        """Build every expectation ourselves: GX's suite constructor only logs a bad one."""
        from great_expectations.expectations.expectation_configuration import (
            ExpectationConfiguration,
        )

        expectations = []
        for config in spec.expectations:
            expectation = ExpectationConfiguration(**config).to_domain_obj()
            bases = {cls.__name__ for cls in type(expectation).__mro__}
            if not bases.intersection(ROW_LEVEL_BASES):
                raise SuiteError(
                    f"{spec.table}: {config['type']} is not row-level; "
                    "failures must name rows (table-level checks belong to the writer)"
                )
            expectations.append(expectation)
        return gx.ExpectationSuite(name=spec.table, expectations=expectations)

    def run(
        self,
        table: str,
        rows: list[Row],
        video: Video,
        parameters: dict[str, Any],
        related: Related | None = None,
    ) -> TableOutcome:
        """Validate `rows` of `table` (one batch) and name each failing row's expectations.

        `related`: the item's rows of other tables, for cross-table derivations."""
        spec = self.specs[table]
        frame = build_frame(spec, rows, video, related)
        batch = self._batches[table].get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            self._suites[table],
            result_format={"result_format": "COMPLETE"},
            expectation_parameters={k: parameters[k] for k in spec.parameters},
        )
        counts: dict[str, dict[str, int]] = {}
        failures: dict[int, list[str]] = {}
        for expectation_result in result.results:
            name, failed, evaluated = _read_result(table, frame, expectation_result)
            counts[name] = {"evaluated": evaluated, "failed": len(failed)}
            for position in failed:
                failures.setdefault(position, []).append(name)
        return TableOutcome(counts=counts, failures=failures)


def _read_result(table: str, frame: pd.DataFrame, result: Any) -> tuple[str, list[int], int]:
    """(name, failing row positions, rows evaluated) of one expectation's result."""
    config = result.expectation_config
    name = config.meta["name"]
    _raise_on_exception(table, name, result.exception_info or {})
    details = result.result or {}
    evaluated = int(details.get("element_count", len(frame))) - int(
        details.get("missing_count") or 0
    )
    positions = sorted({int(i) for i in details.get("unexpected_index_list") or []})
    if not result.success and not positions and details.get("unexpected_count"):
        raise SuiteError(f"{table}: {name} failed but GX named no rows")
    if config.type in UNIQUENESS_TYPES:
        positions = _later_occurrences(frame, _columns_of(config.kwargs), positions)
    return name, positions, evaluated


def _raise_on_exception(table: str, name: str, info: dict[str, Any]) -> None:
    """An expectation that raised is a broken suite, not a bad row: fail loudly."""
    infos = (
        [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    )
    for item in infos:
        if item.get("raised_exception"):
            raise SuiteError(f"{table}: {name} raised: {item.get('exception_message')}")


def _later_occurrences(frame: pd.DataFrame, columns: list[str], positions: list[int]) -> list[int]:
    """Of rows sharing an id, the first is kept: a duplicate is a copy, not a bad original."""
    seen: set[Any] = set()
    later = []
    for position in positions:
        key = tuple(hashable(frame.at[position, c]) for c in columns)
        if key in seen:
            later.append(position)
        seen.add(key)
    return later
