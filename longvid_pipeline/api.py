"""The public API for code that consumes a built dataset (the trainer, the evaluator,
notebooks): committed shards, table contracts, frames by timestamp, media probing, the
sampling plan / timestamp prompt that qa rows carry, and the answer formats of qa rows
(`format_span`, `format_choice`, `parse_span`, `parse_count`, `parse_letter`: the writer's own parsers, so
an evaluator reads answers back exactly as the QA stage writes them).

An OUT may be an object store URL (`s3://bucket/out`): `read_rows` and `committed_files`
read it directly; `local_copy(out)` returns a local folder holding its committed files and
media (fetched once), for code that decodes frames from `root / video_uri`.

Consumers read through here, not through pipeline internals, so the writer's layout
(commit records, part files) can change without breaking them.

Example:
    from longvid_pipeline.api import read_rows, frames_at
    rows = read_rows("out/demo", "qa", where={"split": ["test"]})
    frames = frames_at("out/demo/" + rows[0]["video_uri"], rows[0]["sample_timestamps"])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from longvid_pipeline.media.frames import frames_at, iter_frames_at
from longvid_pipeline.media.probe import MediaInfo, ProbeError, probe
from longvid_pipeline.qa.formats import (
    LETTERS,
    format_choice,
    format_span,
    parse_count,
    parse_letter,
    parse_span,
)
from longvid_pipeline.segmenting.sampling import (
    TIMESTAMP_PROMPT_PATTERN,
    SamplingConfig,
    SamplingPlan,
    plan_for,
    timestamp_prompt,
)
from longvid_pipeline.store import is_url, local_copy

__all__ = [
    "LETTERS",
    "TIMESTAMP_PROMPT_PATTERN",
    "MediaInfo",
    "ProbeError",
    "SamplingConfig",
    "SamplingPlan",
    "commit_records",
    "committed_files",
    "format_choice",
    "format_span",
    "frames_at",
    "is_url",
    "iter_frames_at",
    "iter_niah_frames",
    "local_copy",
    "parse_count",
    "parse_letter",
    "parse_span",
    "plan_for",
    "probe",
    "ray_temp_dir",
    "read_rows",
    "table_schema",
    "timestamp_prompt",
]


def commit_records(out: str | Path) -> list[dict[str, Any]]:
    """OUT's commit records (a folder or a store URL), oldest first: what is data there."""
    from longvid_pipeline.shards import read_commits

    return read_commits(out)


def committed_files(out: str | Path, table: str) -> list[Path]:
    """The Parquet files of `table` that commit records list: the only files that are data
    (a file of a killed run is never read)."""
    from longvid_pipeline.shards import committed_files as files_by_table

    return files_by_table(local_copy(out)).get(table, [])


def table_schema(table: str) -> Any:
    """The Arrow schema of `table` as its contract (schemas/<table>.sql) defines it."""
    from longvid_pipeline.schemas import arrow_schema

    return arrow_schema(table)


def read_rows(
    out: str | Path, table: str, where: dict[str, Sequence[Any] | None] | None = None
) -> list[dict[str, Any]]:
    """Committed rows of `table`, keeping rows whose column value is in each `where` list
    (None or an empty list: no filter on that column). Order: as committed.

    Raises:
        FileNotFoundError: the table has no committed files under `out`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = committed_files(out, table)
    if not files:
        raise FileNotFoundError(f"no committed {table} shards under {out}; run the pipeline first")
    schema = table_schema(table)
    data = pa.concat_tables(pq.read_table(path, schema=schema) for path in files)
    for column, values in (where or {}).items():
        if values:
            data = data.filter(pc.is_in(data[column], pa.array(list(values))))
    return data.to_pylist()


def iter_niah_frames(row: dict[str, Any], haystack_root: str | Path | None = None) -> Iterator[Any]:
    """Every frame of a `niah` sample in order (RGB uint8, height x width x 3), streamed:
    haystack frames decoded at their timestamps, needle frames from their PNGs.

    Use it to feed a sample to a model frame by frame (or to sample from it) without
    rendering an mp4; `haystack_root` overrides the row's when the haystack output moved.

    Example:
        row = read_rows("out/mh_niah", "niah")[0]
        frames = [frame for i, frame in enumerate(iter_niah_frames(row)) if i % 10 == 0]
    """
    from longvid_pipeline.niah.render import iter_sample_frames

    return iter_sample_frames(row, haystack_root)


def ray_temp_dir(folder: str | Path) -> str:
    """A local Ray's temp dir inside `folder` (reached through a short /tmp link when the
    path is deep: Ray's unix sockets must stay under ~107 characters). Consumers that
    start their own local Ray (the evaluator's actor pool) keep its files with their
    output, as the pipeline does under OUT."""
    from longvid_pipeline.raysession import ray_temp_dir

    return ray_temp_dir(Path(folder))
