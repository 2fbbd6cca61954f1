"""The QA stage's parameters (recipe key `stages.qa`) and default resources.

Kept apart from the stage so that validating a recipe (`run --check`) imports only this
module and the pure-Python task registry it names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from longvid_pipeline.config import param
from longvid_pipeline.qa.posing import LETTERS
from longvid_pipeline.qa.tasks import GENERATORS, TASKS
from longvid_pipeline.stage import Resources


@dataclass
class QAConfig:
    """Parameters of the QA stage (recipe key `stages.qa`)."""

    default_resources: ClassVar[Resources] = Resources()

    tasks: list[str] = param(list(TASKS), f"task types to generate, among {list(TASKS)}")
    per_task_max: int = param(10, "at most this many questions per task and video", min=1)
    options_count: int = param(4, "options of a multiple-choice question", min=2, max=len(LETTERS))
    seed: int = param(0, "seed of question sampling and option order (mixed with the run seed)")
    val_fraction: float = param(
        0.05, "share of videos whose questions go to split val", min=0.0, max=1.0
    )
    test_fraction: float = param(
        0.05, "share of videos whose questions go to split test", min=0.0, max=1.0
    )
    max_gap_s: float = param(
        1.0, "whole-video questions need clips covering the video with no larger gap", min=0.0
    )
    generator: str = param("longvid-templates/1", "question generator", choices=tuple(GENERATORS))
    near_duplicate_jaccard: float = param(
        0.9,
        "drop a question whose word set overlaps a kept one of the same task, format and"
        " answer at least this much (1.0 drops only exact rewordings)",
        min=0.0,
        max=1.0,
    )

    def __post_init__(self) -> None:
        unknown = [task for task in self.tasks if task not in TASKS]
        if unknown:
            raise ValueError(f"tasks: unknown {unknown} (known: {list(TASKS)})")
        if len(set(self.tasks)) != len(self.tasks):
            raise ValueError(f"tasks: listed more than once in {self.tasks}")
        if self.val_fraction + self.test_fraction > 1.0:
            raise ValueError("val_fraction + test_fraction must not exceed 1")
