"""The validate stage's parameters (recipe key `stages.validate`) and default resources.

Kept apart from the stage so that validating a recipe (`run --check`) imports only this
light module: which suites exist and which parameters they use are read from the suite
files as JSON, without great_expectations, pandas, pyarrow or DuckDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from longvid_pipeline.config import param
from longvid_pipeline.stage import Resources
from longvid_pipeline.validation.suite_files import available_suites, suite_parameters


@dataclass
class ValidateConfig:
    """Recipe key `validate`: which suites run, and what a failing row costs."""

    # Its own operator: items come in batches (one GX run per table for up to 8 videos:
    # GX costs ~8 ms per expectation and run, whatever the rows), and it asks for no CPU
    # of its own, which a 1-CPU run has none left of next to the fused CPU stages; batched,
    # it is a few percent of the stage CPU.
    default_resources: ClassVar[Resources] = Resources(num_cpus=0.0, concurrency=1, batch_size=8)

    tables: list[str] = param([], "tables to validate; empty = every table with a suite")
    mode: str = param(
        "reject",
        "reject: failing rows go to rejects; warn: keep and count",
        choices=("reject", "warn"),
    )
    repetition_threshold: float = param(
        0.3, "max share of repeated word 3-grams in a caption or answer", min=0.0, max=1.0
    )
    min_caption_chars: int = param(1, "min characters of a caption", min=0)
    max_evidence_gap_s: float = param(
        1.0,
        "max seconds of a question's evidence that no kept clip covers (keep >= qa.max_gap_s)",
        min=0.0,
    )

    def __post_init__(self) -> None:
        known = available_suites()
        unknown = [table for table in self.tables if table not in known]
        if unknown:
            raise ValueError(f"tables {unknown} have no suite (known: {', '.join(known)})")
        for table in self.selected_tables():
            missing = suite_parameters(table) - set(self.parameters())
            if missing:
                raise ValueError(f"suite {table} needs parameters {sorted(missing)}")

    def selected_tables(self) -> list[str]:
        """The tables to validate, in pipeline order (videos first: the rest depend on it)."""
        known = available_suites()
        return [table for table in known if not self.tables or table in self.tables]

    def parameters(self) -> dict[str, Any]:
        """Values the suites reference as {"$PARAMETER": name}."""
        return {
            "repetition_threshold": self.repetition_threshold,
            "min_caption_chars": self.min_caption_chars,
            "max_evidence_gap_s": self.max_evidence_gap_s,
        }
