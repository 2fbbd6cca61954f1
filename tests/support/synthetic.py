"""A stage that makes contract-valid rows from nothing: the runner, the feed and the
shard writer measured or tested without any stage cost (benchmarks/driver.py, tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pyarrow as pa

from longvid_pipeline.config import param
from longvid_pipeline.ids import stable_hash
from longvid_pipeline.item import WorkItem
from longvid_pipeline.schemas import arrow_schema
from longvid_pipeline.stage import Stage


def _value(field: pa.Field, seed: str) -> Any:
    """A value of the field's type: enough to pass the writer's contract check."""
    kind = field.type
    if pa.types.is_string(kind):
        return f"{field.name}-{seed}"
    if pa.types.is_integer(kind):
        return 1
    if pa.types.is_floating(kind):
        return 1.0
    if pa.types.is_boolean(kind):
        return False
    if pa.types.is_timestamp(kind):
        return "2026-01-01T00:00:00+00:00"
    if pa.types.is_binary(kind):
        return b""
    if pa.types.is_list(kind):
        return [_value(pa.field("item", kind.value_type), seed)]
    if pa.types.is_struct(kind):
        return {sub.name: _value(sub, seed) for sub in kind}
    raise TypeError(f"no synthetic value for {field}")


def synthetic_row(table: str, seed: str, **fixed: Any) -> dict[str, Any]:
    return {**{f.name: _value(f, seed) for f in arrow_schema(table)}, **fixed}


# Categorical columns take the values a real build gives them (the card groups by them).
TASKS = ("caption", "grounding", "counting", "relationship", "understanding")


@dataclass
class SyntheticConfig:
    qa: int = param(50, "QA rows per input")
    clips: int = param(5, "clips per input")


class SyntheticStage(Stage):
    """Rows from nothing: the cost of everything but the stages."""

    name: ClassVar[str] = "synthetic"
    Config: ClassVar[type] = SyntheticConfig

    def process(self, item: WorkItem) -> WorkItem:
        video_id = "v-" + stable_hash(item.input_id)
        item.video = synthetic_row("videos", video_id, video_id=video_id, input_id=item.input_id)
        item.clips = [
            synthetic_row(
                "clips", f"{video_id}-{i}", clip_id=f"c-{video_id}-{i}", video_id=video_id
            )
            for i in range(self.config.clips)
        ]
        item.qa = [
            synthetic_row("qa", f"{video_id}-{i}", qa_id=f"q-{video_id}-{i}", video_id=video_id,
                          task=TASKS[i % len(TASKS)], answer_index=i % 4, split="train")
            for i in range(self.config.qa)
        ]  # fmt: skip
        return item


def _ship_by_value() -> None:
    """Ray workers cannot import tests/ or benchmarks/: send this module's code along."""
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


_ship_by_value()
