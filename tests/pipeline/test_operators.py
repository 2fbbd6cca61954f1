"""An actor pool keeps all its actors through a lull: items that arrive after a wait longer
than Ray Data's scale-down debounce (10 s) are still shared by the whole pool."""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from longvid_pipeline.feed import ONE_ROW_BLOCKS, read_task
from longvid_pipeline.operators import actor_pool
from longvid_pipeline.raysession import ray_temp_dir

pytestmark = pytest.mark.slow(minutes=1)

LULL_S = 13  # longer than Ray Data's 10 s debounce before an idle actor may be removed
LATE_ITEMS = 6


def _rows(first: int, count: int, wait_s: float) -> Iterator[Any]:
    import pyarrow as pa

    time.sleep(wait_s)
    for number in range(first, first + count):
        yield pa.table({"number": [number]})


class _RecordPid:
    """Takes a second per item and says which actor (process) did it."""

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        time.sleep(1.0)
        return {"number": batch["number"], "pid": [os.getpid()] * len(batch["number"])}


def test_an_actor_pool_keeps_every_actor_through_a_lull(tmp_path: Path) -> None:
    import ray
    import ray.data
    from ray.data.datasource import Datasource

    class OneThenLull(Datasource):
        """One item at once, then after the lull the rest together."""

        def estimate_inmemory_data_size(self) -> int | None:
            return 8 * (1 + LATE_ITEMS)

        def get_read_tasks(
            self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
        ) -> list[Any]:
            return [
                read_task(lambda: _rows(0, 1, 0.0), 1, 8),
                read_task(lambda: _rows(1, LATE_ITEMS, LULL_S), LATE_ITEMS, 8 * LATE_ITEMS),
            ]

    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=ray_temp_dir(tmp_path / "ray"))
    context = ray.data.DataContext.get_current()
    block_size, context.target_max_block_size = context.target_max_block_size, ONE_ROW_BLOCKS
    try:
        context.enable_progress_bars = False
        dataset = ray.data.read_datasource(
            OneThenLull(), override_num_blocks=2, num_cpus=0, concurrency=2
        ).map_batches(
            _RecordPid, batch_size=1, num_cpus=1, batch_format="numpy", compute=actor_pool(2)
        )
        rows = [(int(row["number"]), int(row["pid"])) for row in dataset.iter_rows()]
    finally:
        context.target_max_block_size = block_size
        ray.shutdown()
    assert sorted(number for number, _ in rows) == list(range(1 + LATE_ITEMS))
    late = Counter(pid for number, pid in rows if number > 0)
    # Both actors are still there after the lull and share the late items (an elastic pool
    # had lost one: all six went to the other).
    assert len(late) == 2 and min(late.values()) >= 2, late
