"""Reading `qa` shards: the committed Parquet files of a pipeline output folder, filtered.

Rows are sorted by qa_id so the data order depends only on the rows, never on file
listing order; that is what makes `--resume` replay the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from longvid_pipeline.schemas import arrow_schema
from longvid_pipeline.shards import committed_files


def qa_shard_files(out: Path) -> list[Path]:
    """The qa files that commits list: a file of a killed run is never read as data."""
    return committed_files(Path(out)).get("qa", [])


def read_qa(
    out: Path, tasks: list[str] | None = None, splits: list[str] | None = None
) -> list[dict[str, Any]]:
    """QA rows of OUT matching `tasks` and `splits` (None or empty: all), sorted by qa_id.

    Raises:
        FileNotFoundError: no shard files, or no rows after filtering (says which filters).
    """
    files = qa_shard_files(out)
    if not files:
        raise FileNotFoundError(f"no qa shards under {Path(out) / 'qa'}; run the pipeline first")
    schema = arrow_schema("qa")
    table = pa.concat_tables(pq.read_table(path, schema=schema) for path in files)
    if tasks:
        table = table.filter(pc.is_in(table["task"], pa.array(tasks)))
    if splits:
        table = table.filter(pc.is_in(table["split"], pa.array(splits)))
    if table.num_rows == 0:
        raise FileNotFoundError(
            f"no qa rows in {len(files)} shard(s) of {out} with tasks={tasks} splits={splits}"
        )
    return sorted(table.to_pylist(), key=lambda row: row["qa_id"])
