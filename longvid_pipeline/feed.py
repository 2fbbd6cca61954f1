"""How a pass's work items enter Ray Data without the driver holding them as objects.

`ray.data.from_items(rows, override_num_blocks=len(rows))` puts every row into Ray at once,
owned by the driver (small objects live in the owner's own memory store): a 114k-input
build is 114k objects in the driver before the first input runs. Instead the runner
spools the pass's items to one JSONL file under OUT/.feed (one line each) and hands Ray
Data read tasks holding only byte ranges of that file. The streaming executor starts
reads only as the stages downstream take work, so the number of items alive as blocks is
bounded by the pipeline's backpressure, not by the number of inputs.

Each item is still its own block, so every input is its own task downstream (no input
waits behind another in the same block), but one read task yields the blocks of up to
`LINES_PER_READ` consecutive lines. A read per line made the driver `ray.put` one read
task per input and needed a worker process per read (slow to start on a loaded machine,
so items reached the first pool one at a time); lines that arrive together are dealt over
the pool's idle actors one each.

The spool is a file under the driver's OUT (or build mirror), read by tasks pinned to the
driver's machine; it is removed when the pass ends.
"""

from __future__ import annotations

import contextlib
import os
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from longvid_pipeline.item import ITEM_COLUMN, WorkItem

SPOOL_DIR = ".feed"


# Lines per read task: enough that an actor pool's idle actors each get an item at once,
# few enough that a slice's first videos start without waiting for a long read.
LINES_PER_READ = 16
# A block larger than this is cut into one-row blocks: so each line a read yields (a few
# KB of JSON) is a block of its own, and so are the rows of a batch a stage returns, instead
# of being merged up to Ray Data's default 128 MiB.
ONE_ROW_BLOCKS = 1


def _read_lines(path: str, spans: list[tuple[int, int]]) -> Iterator[Any]:
    """One block per line of the spool in `spans`: that line as a one-row Arrow table."""
    import pyarrow as pa

    with open(path, "rb") as handle:
        for offset, length in spans:
            handle.seek(offset)
            text = handle.read(length).decode()
            input_id = WorkItem.from_json(text).input_id
            yield pa.table({"input_id": [input_id], ITEM_COLUMN: [text]})


def read_task(blocks: Callable[[], Iterator[Any]], num_rows: int, size_bytes: int) -> Any:
    """A Ray Data read task whose blocks `blocks()` makes in the read worker: only the
    callable and what it closes over (here a path and byte offsets) travel, never rows."""
    from ray.data.block import BlockMetadata
    from ray.data.datasource import ReadTask

    metadata = BlockMetadata(
        num_rows=num_rows, size_bytes=size_bytes, exec_stats=None, input_files=None
    )
    return ReadTask(blocks, metadata)


def _spool_read_task(path: str, spans: list[tuple[int, int]]) -> Any:
    size = sum(length for _, length in spans)
    return read_task(lambda: _read_lines(path, spans), len(spans), size)


def spooled_dataset(path: Path, spans: list[tuple[int, int]], readers: int = 2) -> Any:
    """A Ray dataset of the spool's items, one block per item, read `LINES_PER_READ` lines
    per task, at most `max(2, readers)` reads at a time (no more than there are).

    Reads keep ahead of the first pool, so its actors do not wait for items. The dataset
    (and every stage chained to it) splits blocks into single rows: the runner relies on
    one item per block."""
    import ray.data
    from ray.data.datasource import Datasource

    class SpooledItems(Datasource):
        """The spool's lines as read tasks; nothing of the items is held but offsets."""

        def estimate_inmemory_data_size(self) -> int | None:
            return sum(length for _, length in spans)

        def get_read_tasks(
            self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
        ) -> list[Any]:
            return [
                _spool_read_task(str(path), spans[start : start + LINES_PER_READ])
                for start in range(0, len(spans), LINES_PER_READ)
            ]

    # Reading a line costs nothing: the read tasks ask for no CPU. With one CPU each they
    # would wait forever whenever the stages' actor pools hold every CPU (check_fits lets
    # them), since from_items' blocks needed no task at all. Without a CPU nothing bounds
    # how many run at once: Ray started a worker process for each (87 workers, load 27 on
    # 2 cores at 500 inputs), so a few at a time; each takes a few milliseconds.
    # The spool is a file of the driver's machine: its reads run there (workers of a build
    # into an object store share no folder with the driver).
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    reads = max(1, -(-len(spans) // LINES_PER_READ))
    # A dataset keeps the DataContext it was made under (the stages chained to it too), so
    # the one-row blocks are set only while it is made: the caller's own Ray Data use keeps
    # its block size.
    data_context = ray.data.DataContext.get_current()
    block_size = data_context.target_max_block_size
    data_context.target_max_block_size = ONE_ROW_BLOCKS
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
            return ray.data.read_datasource(
                SpooledItems(),
                override_num_blocks=reads,
                num_cpus=0,
                concurrency=min(reads, max(2, readers)),
                ray_remote_args={"scheduling_strategy": here},
            )
    finally:
        data_context.target_max_block_size = block_size


@contextlib.contextmanager
def spool_items(
    out: Path, items: Iterable[WorkItem]
) -> Iterator[tuple[Path, list[tuple[int, int]]]]:
    """Write `items` to a spool file under OUT/.feed; yield its path and each line's span."""
    folder = out / SPOOL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"feed-{uuid.uuid4().hex}.jsonl"
    spans: list[tuple[int, int]] = []
    offset = 0  # counted, not asked of the file (a pipe or wrapped file cannot tell)
    try:
        with path.open("wb") as handle:
            for item in items:
                line = item.to_json().encode()
                spans.append((offset, len(line)))
                handle.write(line + b"\n")
                offset += len(line) + 1
        yield path, spans
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
