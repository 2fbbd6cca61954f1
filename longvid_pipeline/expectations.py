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
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from longvid_pipeline.schemas import TABLES, arrow_schema, available_tables, schema_dir
from longvid_pipeline.shards import sum_validation, write_atomic

Row = dict[str, Any]
Video = dict[str, Any]
Validation = dict[str, dict[str, dict[str, int]]]

PARAMETER_KEY = "$PARAMETER"
ROW_LEVEL_BASES = ("ColumnMapExpectation", "ColumnPairMapExpectation", "MulticolumnMapExpectation")
UNIQUENESS_TYPES = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")


class SuiteError(ValueError):
    """A suite file is wrong (unknown column, derivation or parameter): fix the JSON."""


def suite_dir() -> Path:
    """Folder of the expectation suites, next to the table contracts."""
    return schema_dir() / "expectations"


def available_suites() -> list[str]:
    """Tables that have both a contract and a suite, in pipeline order."""
    contracts = set(available_tables())
    return [t for t in TABLES if t in contracts and (suite_dir() / f"{t}.json").exists()]


# --------------------------------------------------------------------------- derivations
# Each derivation computes one helper value from a row (and its video row). None means
# "does not apply to this row" (an open-ended question has no options): GX skips nulls.

_NUMBER_WORDS = {w: i for i, w in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"])}
_SENTENCE_END = re.compile(r"[.!?…。！？][\"'”’)\]]*\s*$")


def _video_value(row: Row, video: Video, column: str, add: float = 0.0) -> Any:
    """A value of the video row, e.g. its duration (plus a tolerance) as a bound."""
    value = video.get(column)
    return value + add if isinstance(value, (int, float)) and add else value


def _equals_video(
    row: Row, video: Video, column: str, video_column: str, tolerance: float = 0.0
) -> bool | None:
    """The row repeats a video value (video_id, duration) and must agree with it."""
    value, expected = row.get(column), video.get(video_column)
    if value is None:
        return None
    if isinstance(value, (int, float)) and isinstance(expected, (int, float)):
        return abs(value - expected) <= tolerance
    return value == expected


def _length(row: Row, video: Video, column: str) -> int | None:
    value = row.get(column)
    return None if value is None else len(value)


def _distinct(row: Row, video: Video, column: str) -> bool | None:
    value = row.get(column)
    return None if value is None else len(set(map(_hashable, value))) == len(value)


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def _contains(row: Row, video: Video, list_column: str, value_column: str) -> bool | None:
    values = row.get(list_column)
    return None if values is None else row.get(value_column) in values


def _element_at_equals(
    row: Row, video: Video, list_column: str, index_column: str, value_column: str
) -> bool | None:
    """options[answer_index] == answer; False when the index does not point into the list."""
    values, index = row.get(list_column), row.get(index_column)
    if values is None or index is None:
        return None
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(values):
        return False
    return values[index] == row.get(value_column)


def _null_together(row: Row, video: Video, columns: list[str]) -> bool:
    """Fields that only make sense together (options + answer_index) are all set or all null."""
    nulls = [row.get(column) is None for column in columns]
    return all(nulls) or not any(nulls)


def _increasing(row: Row, video: Video, column: str) -> bool | None:
    values = row.get(column)
    return None if values is None else all(a < b for a, b in zip(values, values[1:], strict=False))


def _within(
    row: Row,
    video: Video,
    column: str,
    min_value: float | None = None,
    min_column: str | None = None,
    max_value: float | None = None,
    max_column: str | None = None,
    max_video_column: str | None = None,
    tolerance: float = 0.0,
) -> bool | None:
    """Every value of a list (or a scalar) lies in [min, max + tolerance]."""
    value = row.get(column)
    if value is None:
        return None
    low = row.get(min_column) if min_column else min_value
    high = row.get(max_column) if max_column else max_value
    if max_video_column:
        high = video.get(max_video_column)
    values = value if isinstance(value, list) else [value]
    if (min_column and low is None) or ((max_column or max_video_column) and high is None):
        return False
    return all(
        (low is None or v >= low) and (high is None or v <= high + tolerance) for v in values
    )


def _repetition(row: Row, video: Video, column: str, n: int = 3) -> float | None:
    """Share of repeated word n-grams: 0 for varied text, near 1 for 'the the the the'."""
    text = row.get(column)
    if text is None:
        return None
    words = str(text).lower().split()
    grams = list(zip(*(words[i:] for i in range(n)), strict=False))
    return 0.0 if not grams else round(1.0 - len(set(grams)) / len(grams), 4)


def _ends_sentence(
    row: Row, video: Video, column: str, skip_column: str | None = None,
    skip_values: list[Any] | None = None,
) -> bool | None:
    """A generator cut at its token limit stops mid-word; a finished caption ends a sentence.

    Rows whose `skip_column` is in `skip_values` are not judged (None): subtitle cues are
    verbatim speech, whole words without sentence punctuation.
    """
    text = row.get(column)
    if text is None or (skip_column and row.get(skip_column) in (skip_values or [])):
        return None
    return bool(_SENTENCE_END.search(str(text)))


def _mentions(row: Row, video: Video, column: str, templates: list[str]) -> bool | None:
    """The text contains each template filled from the row, e.g. '{sample_frames} frames'."""
    text = row.get(column)
    if text is None:
        return None
    try:
        return all(template.format(**row) in text for template in templates)
    except (KeyError, TypeError, ValueError):  # a needed value is missing or not a number
        return False


def _whole_number_when(
    row: Row, video: Video, column: str, when_column: str, when_value: Any
) -> int | None:
    """The single count in a counting answer, -1 when there is none (so `>= 0` fails)."""
    if row.get(when_column) != when_value:
        return None
    tokens = re.findall(r"[a-z]+|[+-]?\d+", str(row.get(column) or "").lower())
    numbers = [int(t) if t[-1].isdigit() else _NUMBER_WORDS[t] for t in tokens
               if t[-1].isdigit() or t in _NUMBER_WORDS]
    return numbers[0] if len(numbers) == 1 else -1


DERIVATIONS: dict[str, Callable[..., Any]] = {
    "video_value": _video_value,
    "equals_video": _equals_video,
    "length": _length,
    "distinct": _distinct,
    "contains": _contains,
    "element_at_equals": _element_at_equals,
    "null_together": _null_together,
    "increasing": _increasing,
    "within": _within,
    "repetition": _repetition,
    "ends_sentence": _ends_sentence,
    "mentions": _mentions,
    "whole_number_when": _whole_number_when,
}
# Arguments that name a column of the row (checked against the contract on load).
_ROW_COLUMN_ARGS = ("column", "list_column", "index_column", "value_column", "when_column",
                    "min_column", "max_column", "skip_column")
_VIDEO_COLUMN_ARGS = ("video_column", "max_video_column")


# --------------------------------------------------------------------------- suite specs
@dataclass(frozen=True)
class DerivedColumn:
    """One helper column: a registered derivation and its arguments, from the suite JSON."""

    name: str
    fn: str
    args: dict[str, Any]

    def value(self, row: Row, video: Video) -> Any:
        """The helper value for one row (derivations may also read the video row)."""
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


def _parameters_of(value: Any) -> set[str]:
    if isinstance(value, dict):
        if PARAMETER_KEY in value:
            return {str(value[PARAMETER_KEY])}
        return set().union(*(_parameters_of(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_parameters_of(v) for v in value))
    return set()


def _load_derived(table: str, raw: dict[str, Any], contract: set[str]) -> list[DerivedColumn]:
    video_contract = set(arrow_schema("videos").names)
    derived = []
    for name, spec in raw.items():
        args = {k: v for k, v in spec.items() if k not in ("fn", "about")}
        if not name.startswith("_"):
            raise SuiteError(f"{table}: derived column {name!r} must start with '_'")
        if spec.get("fn") not in DERIVATIONS:
            raise SuiteError(f"{table}: {name}: unknown fn {spec.get('fn')!r} "
                             f"(known: {', '.join(sorted(DERIVATIONS))})")
        columns = [args[k] for k in _ROW_COLUMN_ARGS if k in args] + args.get("columns", [])
        video_columns = [args[k] for k in _VIDEO_COLUMN_ARGS if k in args]
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
    expectations, used = [], set()
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
    parameters = frozenset(_parameters_of([e["kwargs"] for e in expectations]))
    return SuiteSpec(table, expectations, derived, sorted(used), parameters)


def build_frame(spec: SuiteSpec, rows: list[Row], video: Video) -> pd.DataFrame:
    """The contract columns GX reads, plus derived helpers; index = position in `rows`.

    List and struct columns stay out unless an expectation names them: derivations read
    them from the row, and GX plans faster on a narrow frame of scalars.
    """
    records = []
    for row in rows:
        record = {column: row.get(column) for column in spec.row_columns}
        record.update({d.name: d.value(row, video) for d in spec.derived})
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
                raise SuiteError(f"{spec.table}: {config['type']} is not row-level; "
                                 "failures must name rows (table-level checks belong to the writer)")
            expectations.append(expectation)
        return gx.ExpectationSuite(name=spec.table, expectations=expectations)

    def run(self, table: str, rows: list[Row], video: Video, parameters: dict[str, Any]) -> TableOutcome:
        """Validate `rows` of `table` (one batch) and name each failing row's expectations."""
        spec = self.specs[table]
        frame = build_frame(spec, rows, video)
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
    evaluated = int(details.get("element_count", len(frame))) - int(details.get("missing_count") or 0)
    positions = sorted({int(i) for i in details.get("unexpected_index_list") or []})
    if not result.success and not positions and details.get("unexpected_count"):
        raise SuiteError(f"{table}: {name} failed but GX named no rows")
    if config.type in UNIQUENESS_TYPES:
        positions = _later_occurrences(frame, _columns_of(config.kwargs), positions)
    return name, positions, evaluated


def _raise_on_exception(table: str, name: str, info: dict[str, Any]) -> None:
    """An expectation that raised is a broken suite, not a bad row: fail loudly."""
    infos = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for item in infos:
        if item.get("raised_exception"):
            raise SuiteError(f"{table}: {name} raised: {item.get('exception_message')}")


def _later_occurrences(frame: pd.DataFrame, columns: list[str], positions: list[int]) -> list[int]:
    """Of rows sharing an id, the first is kept: a duplicate is a copy, not a bad original."""
    seen: set[Any] = set()
    later = []
    for position in positions:
        key = tuple(_hashable(frame.at[position, c]) for c in columns)
        if key in seen:
            later.append(position)
        seen.add(key)
    return later


# --------------------------------------------------------------------------- summaries
def merge_validation(a: Validation, b: Validation) -> Validation:
    """Sum two validation summaries (table -> expectation -> evaluated/failed)."""
    return sum_validation([a, b])


def _pass_rate(counts: dict[str, int]) -> float | None:
    evaluated = counts.get("evaluated", 0)
    return None if evaluated == 0 else round(1.0 - counts.get("failed", 0) / evaluated, 6)


def _suite_notes(table: str) -> dict[str, str]:
    """Expectation name -> the suite's note on why it exists (for the readable report)."""
    path = suite_dir() / f"{table}.json"
    if not path.exists():
        return {}
    configs = json.loads(path.read_text()).get("expectations", [])
    return {expectation_name(c): str(c.get("notes") or "") for c in configs}


def report_data(validation: Validation) -> dict[str, Any]:
    """The JSON report: per table and expectation, the counts and the pass rate."""
    tables = {}
    for table in sorted(validation, key=lambda t: (TABLES.index(t) if t in TABLES else 99, t)):
        rows = {name: {**counts, "pass_rate": _pass_rate(counts)}
                for name, counts in sorted(validation[table].items())}
        tables[table] = {
            "expectations": rows,
            "failed_checks": sum(c["failed"] for c in rows.values()),
            "evaluated_checks": sum(c["evaluated"] for c in rows.values()),
        }
    return {"tables": tables}


def report_markdown(data: dict[str, Any]) -> str:
    """A readable report: one Markdown table per data table, worst expectations first."""
    lines = ["# Validation report", "",
             "Counts are summed over every validated batch of the run; `failed` rows were "
             "rejected (mode `reject`) or kept and counted (mode `warn`).", ""]
    for table, summary in data["tables"].items():
        notes = _suite_notes(table)
        lines += [f"## {table}", "", "| expectation | evaluated | failed | pass rate | why |",
                  "|---|---:|---:|---:|---|"]
        ordered = sorted(summary["expectations"].items(),
                         key=lambda kv: (kv[1]["pass_rate"] if kv[1]["pass_rate"] is not None else 2, kv[0]))
        for name, counts in ordered:
            rate = "n/a" if counts["pass_rate"] is None else f"{100 * counts['pass_rate']:.2f}%"
            why = notes.get(name, "").replace("|", "\\|")
            lines.append(f"| `{name}` | {counts['evaluated']} | {counts['failed']} | {rate} | {why} |")
        lines.append("")
    return "\n".join(lines)


def write_report(out_dir: Path, validation: Validation) -> tuple[Path, Path]:
    """Write OUT/validation.json and OUT/validation.md from a run's summed counts.

    Example:
        write_report(Path("out/demo"), {"qa": {"expect_column_values_to_be_unique(qa_id)":
                                                {"evaluated": 10, "failed": 1}}})
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = report_data(validation)
    json_path, md_path = out_dir / "validation.json", out_dir / "validation.md"
    _write_report_file(json_path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    _write_report_file(md_path, report_markdown(data))
    return json_path, md_path


def _write_report_file(path: Path, text: str) -> None:
    """Readers never see half a report: the shared temp-name-then-rename writer."""
    write_atomic(path, text.encode("utf-8"))
