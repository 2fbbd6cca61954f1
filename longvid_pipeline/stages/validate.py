"""Validate stage: run each table's expectation suite on the item's rows before writing.

Runs as an actor so great_expectations (~4 s to import) and the suites load once per
worker in `setup()`. Items come in batches (`resources.batch_size`, 8 by default, which
gives validate an operator of its own) and each table's rows of the whole batch go through
GX in one run: GX costs ~8 ms per expectation and run whatever the rows, so validating
items one by one was a quarter of the demo's stage CPU. Each item still gets exactly what
validating it alone gives (`SuiteRunner.run_groups`). In mode `reject` a failing row
leaves the item for `rejects` with the failed expectations named (a failing `videos` row
drops the whole input, since its clips and questions depend on it; so does a failing
`niah` row of a benchmark build, where the sample is the input; a dropped clip takes the
questions whose evidence lies in it, `validation.dependents`); in mode `warn` rows stay and
are only counted. Tables run in pipeline order, so the qa suite sees the clips that were
kept. Counts per expectation go to `item.validation`, which the shard writer sums into the
run's report.

Uniqueness is checked within one item here; across items and runs it is the writer's job.
"""

from __future__ import annotations

from typing import Any, ClassVar

from longvid_pipeline.item import WorkItem
from longvid_pipeline.shards import sum_validation
from longvid_pipeline.stage import Stage
from longvid_pipeline.tables import ROW_TABLES
from longvid_pipeline.validation.config import ValidateConfig
from longvid_pipeline.validation.dependents import DEPENDS_ON_REJECTED_CLIP, clip_dependents
from longvid_pipeline.validation.suites import (
    SuiteRunner,
    TableOutcome,
)


class ValidateStage(Stage):
    """Expectation suites over every table of an item; see the module docstring."""

    name: ClassVar[str] = "validate"
    uses_actor: ClassVar[bool] = True
    batched: ClassVar[bool] = True
    Config: ClassVar[type] = ValidateConfig

    def setup(self) -> None:
        """Import GX and build the ephemeral context and suites, once per actor."""
        self.runner = SuiteRunner(self.config.selected_tables())

    def process(self, item: WorkItem) -> WorkItem:
        self.process_batch([item])
        return item

    def process_batch(self, items: list[WorkItem]) -> None:
        """Validate every table of several items with one GX run per table."""
        parameters = self.config.parameters()
        for table in self.runner.specs:
            groups = [(item, self._rows(item, table)) for item in items]
            groups = [(item, rows) for item, rows in groups if rows and item.alive]
            if not groups:
                continue
            outcomes = self.runner.run_groups(
                table,
                [(rows, item.video or {}, self._related(item)) for item, rows in groups],
                parameters,
            )
            for (item, rows), outcome in zip(groups, outcomes, strict=True):
                self._apply(item, table, rows, outcome)

    @staticmethod
    def _rows(item: WorkItem, table: str) -> list[dict[str, Any]]:
        if item.video is None and not item.niah:
            return []  # nothing fetched, nothing to validate (fetch rejected it already)
        return ([item.video] if item.video else []) if table == "videos" else getattr(item, table)

    @staticmethod
    def _related(item: WorkItem) -> dict[str, list[dict[str, Any]]]:
        """The item's rows of every table, for cross-table derivations."""
        return {name: getattr(item, name) for name in ROW_TABLES}

    def _apply(
        self, item: WorkItem, table: str, rows: list[dict[str, Any]], outcome: TableOutcome
    ) -> None:
        """Count, and in mode `reject` drop failing rows (or the input, for its own row)."""
        item.validation = sum_validation([item.validation, {table: outcome.counts}])
        if self.config.mode != "reject" or not outcome.failures:
            return
        # The item's own row (a video, or a benchmark build's sample) takes the input.
        if table == "videos" or (table == "niah" and item.video is None):
            item.reject_input(self.name, "expectations", _detail(outcome, 0))
            return
        setattr(item, table, self._drop_failures(item, table, rows, outcome))
        if table == "clips":
            rejected = [rows[position] for position in sorted(outcome.failures)]
            self._drop_clip_dependents(item, rejected)

    def _drop_clip_dependents(self, item: WorkItem, rejected: list[dict[str, Any]]) -> None:
        """Questions whose evidence lies in a dropped clip go to rejects with it."""
        dependents = clip_dependents(item.qa, rejected, item.clips)
        dropped = {id(row) for row, _ in dependents}
        for row, detail in dependents:
            item.reject_row(self.name, "qa", DEPENDS_ON_REJECTED_CLIP, detail, row)
        item.qa = [row for row in item.qa if id(row) not in dropped]

    def _drop_failures(
        self, item: WorkItem, table: str, rows: list[dict[str, Any]], outcome: TableOutcome
    ) -> list[dict[str, Any]]:
        """Move failing rows to rejects; return the rows that passed, order kept."""
        kept = []
        for position, row in enumerate(rows):
            if position in outcome.failures:
                item.reject_row(self.name, table, "expectations", _detail(outcome, position), row)
            else:
                kept.append(row)
        return kept


def _detail(outcome: TableOutcome, position: int) -> str:
    """'failed: expect_...(column), ...': what a rejects reader needs to see."""
    return "failed: " + ", ".join(outcome.failures[position])
