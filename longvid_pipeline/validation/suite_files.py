"""Where expectation suites live and which recipe parameters they use: read as plain JSON.

Light on purpose (no great_expectations, pandas, pyarrow or DuckDB): recipe validation
uses it to check `stages.validate` before any work. `suites.load_suite_spec` does the
full check of a suite against its table's contract when the validate stage sets up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from longvid_pipeline.tables import TABLE_NAMES, available_tables, schema_dir

PARAMETER_KEY = "$PARAMETER"


def suite_dir() -> Path:
    """Folder of the expectation suites, next to the table contracts."""
    return schema_dir() / "expectations"


def available_suites() -> list[str]:
    """Tables that have both a contract and a suite, in pipeline order."""
    contracts = set(available_tables())
    return [t for t in TABLE_NAMES if t in contracts and (suite_dir() / f"{t}.json").exists()]


def parameters_of(value: Any) -> set[str]:
    """Names referenced as {"$PARAMETER": name} anywhere inside `value`."""
    if isinstance(value, dict):
        if PARAMETER_KEY in value:
            return {str(value[PARAMETER_KEY])}
        return set().union(*(parameters_of(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(parameters_of(v) for v in value))
    return set()


def suite_parameters(table: str) -> frozenset[str]:
    """The recipe parameters a table's suite references in its expectations' kwargs."""
    raw = json.loads((suite_dir() / f"{table}.json").read_text())
    return frozenset(parameters_of([config["kwargs"] for config in raw["expectations"]]))
