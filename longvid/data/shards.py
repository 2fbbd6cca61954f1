"""Reading `qa` shards: the committed Parquet files of a pipeline output folder, filtered.

Rows are sorted by qa_id so the data order depends only on the rows, never on file
listing order; that is what makes `--resume` replay the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from longvid_pipeline.api import commit_records, committed_files, is_url, read_rows


def qa_shard_files(out: Path | str) -> list[Path]:
    """The qa files that commits list: a file of a killed run is never read as data."""
    return committed_files(out, "qa")


def data_root_problem(root: str) -> str | None:
    """Why the folder `root` cannot feed training (empty, missing, no qa shards), or None."""
    if not root.strip():  # checked as text: Path("") would read as the current folder
        return "empty: set it to a pipeline output folder (--set data.root=out/demo)"
    if is_url(root):
        try:
            found = any("qa" in record["files"] for record in commit_records(root))
            return None if found else f"{root} has no committed qa shards"
        except (OSError, ImportError) as exc:  # no such bucket, no credentials, no s3fs
            return f"{root}: cannot read the store ({type(exc).__name__}: {exc})"
    out = Path(root)
    if not out.is_dir():
        return f"{out} is not a folder: build one with longvid-pipeline run, or fix the path"
    if not qa_shard_files(out):
        return f"{out} has no committed qa shards: run longvid-pipeline run into it first"
    return None


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
    rows = read_rows(out, "qa", where={"task": tasks, "split": splits})
    if not rows:
        raise FileNotFoundError(
            f"no qa rows in {len(files)} shard(s) of {out} with tasks={tasks} splits={splits}"
        )
    return sorted(rows, key=lambda row: row["qa_id"])
