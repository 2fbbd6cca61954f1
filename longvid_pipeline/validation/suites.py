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
Group = tuple[list[Row], Video, Related]  # one item's rows of a table, its video, its other rows

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


def build_frame(spec: SuiteSpec, groups: list[Group]) -> pd.DataFrame:
    """The contract columns GX reads, plus derived helpers, for the rows of every group
    (one item's rows, its video row and its rows of other tables) one after another;
    index = position overall.

    List and struct columns stay out unless an expectation names them: derivations read
    them from the row, and GX plans faster on a narrow frame of scalars.
    """
    records = []
    for rows, video, related in groups:
        for row in rows:
            record = {column: row.get(column) for column in spec.row_columns}
            record.update({d.name: d.value(row, video, related) for d in spec.derived})
            records.append(record)
    columns = spec.row_columns + [d.name for d in spec.derived]
    return pd.DataFrame.from_records(records, columns=columns, index=range(len(records)))


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
        return self.run_groups(table, [(rows, video, related or {})], parameters)[0]

    def run_groups(
        self, table: str, groups: list[Group], parameters: dict[str, Any]
    ) -> list[TableOutcome]:
        """Validate several items' rows of `table` in one GX run; one outcome per group.

        GX's cost is mostly per expectation and run (~8 ms each), not per row, so items
        are validated together. Each group's outcome is what validating it alone gives:
        failing rows by position in the group, uniqueness within the group (across items
        it is the writer's), and counts of the rows evaluated in the group.
        """
        spec = self.specs[table]
        frame = build_frame(spec, groups)
        batch = self._batches[table].get_batch(batch_parameters={"dataframe": frame})
        result = batch.validate(
            self._suites[table],
            result_format={"result_format": "COMPLETE"},
            expectation_parameters={k: parameters[k] for k in spec.parameters},
        )
        return _outcomes_by_group(
            table, frame, result.results, [len(rows) for rows, _, _ in groups]
        )


def _outcomes_by_group(
    table: str, frame: pd.DataFrame, results: list[Any], sizes: list[int]
) -> list[TableOutcome]:
    """Split one GX run's results over the groups of rows it validated, in order."""
    bounds = _group_bounds(sizes)
    outcomes = [TableOutcome(counts={}, failures={}) for _ in sizes]
    for expectation_result in results:
        name, failed, evaluated = _read_result(table, frame, expectation_result)
        config = expectation_result.expectation_config
        per_group = _evaluated_per_group(frame, config, bounds)
        if sum(per_group) != evaluated:
            raise SuiteError(f"{table}: {name}: cannot split its counts by item")
        for outcome, (start, end), count in zip(outcomes, bounds, per_group, strict=True):
            mine = [p - start for p in failed if start <= p < end]
            if config.type in UNIQUENESS_TYPES:  # within the group only: across is the writer's
                group = frame.iloc[start:end].reset_index(drop=True)
                mine = _later_occurrences(group, _columns_of(config.kwargs), mine)
            outcome.counts[name] = {"evaluated": count, "failed": len(mine)}
            for position in mine:
                outcome.failures.setdefault(position, []).append(name)
    return outcomes


def _group_bounds(sizes: list[int]) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size
    return bounds


def _evaluated_per_group(
    frame: pd.DataFrame, config: Any, bounds: list[tuple[int, int]]
) -> list[int]:
    """Rows each group has in the expectation's domain: GX skips rows whose value is
    missing (a column map), both values (a pair, by default) or all (multicolumn), and
    counts every row for a null check. The caller checks the sum against GX's count."""
    columns = _columns_of(config.kwargs)
    if config.type == "expect_column_values_to_not_be_null" or not columns:
        missing = pd.Series(False, index=frame.index)
    else:
        nulls = frame[columns].isna()
        rule = config.kwargs.get("ignore_row_if", "both_values_are_missing")
        if len(columns) == 1 or rule in ("both_values_are_missing", "all_values_are_missing"):
            missing = nulls.all(axis=1)
        elif rule in ("either_value_is_missing", "any_value_is_missing"):
            missing = nulls.any(axis=1)
        else:
            missing = pd.Series(False, index=frame.index)
    return [int((~missing.iloc[start:end]).sum()) for start, end in bounds]


def _read_result(table: str, frame: pd.DataFrame, result: Any) -> tuple[str, list[int], int]:
    """(name, failing row positions, rows evaluated) of one expectation's result (for a
    uniqueness expectation, every row of a repeated value: `_later_occurrences` picks)."""
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
