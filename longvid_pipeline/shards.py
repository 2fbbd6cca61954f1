"""Shard writing with atomic commits: the only place rows become files.

Finished work items are buffered; every `videos_per_commit` items (or when a table
reaches `rows_per_file`) their rows are checked against the contracts, written as zstd
Parquet under temporary names, renamed into `OUT/<table>/`, and only then recorded by a
commit file `OUT/_commits/<commit>.json` (itself written by rename). Readers (DuckDB
views, the trainer, resume) only trust files a commit lists, so a run killed between
any two steps leaves nothing that is read as data; the next run deletes such orphans
and redoes their inputs. Why in the driver: rows are text (no frames), so one writer
keeps ids unique across the whole run without coordination.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from longvid_pipeline.files import atomic_path, write_atomic
from longvid_pipeline.ids import IdSet
from longvid_pipeline.item import WorkItem
from longvid_pipeline.schemas import conform_rows
from longvid_pipeline.store import StoreOut, is_url
from longvid_pipeline.tables import COMMITS_DIR, ID_COLUMNS, ROW_TABLES, available_tables

WRITE_STAGE = "write"


def read_commits(out: Path | str) -> list[dict[str, Any]]:
    """Every commit record of OUT (a folder or a store URL), oldest first (unreadable ones
    are skipped: never data)."""
    if is_url(out):
        return StoreOut(str(out)).commit_records()
    commit_dir = Path(out) / COMMITS_DIR
    records = []
    for path in sorted(commit_dir.glob("*.json")) if commit_dir.is_dir() else []:
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(records, key=lambda record: record.get("sequence", 0))


def committed_files(out: Path) -> dict[str, list[Path]]:
    """Table -> Parquet files listed by commits (the only files that are data)."""
    files: dict[str, list[Path]] = defaultdict(list)
    for record in read_commits(out):
        for table, names in record["files"].items():
            files[table].extend(out / name for name in names)
    return dict(files)


def committed_video_owners(out: Path) -> dict[str, str]:
    """video_id -> input_id of every committed `videos` row (who owns each kept video)."""
    owners: dict[str, str] = {}
    for path in committed_files(out).get("videos", []):
        table = pq.read_table(path, columns=["video_id", "input_id"])
        owners.update(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))
    return owners


class ShardWriter:
    """Buffers finished items and commits their rows atomically, table by table.

    `on_commit`, when set, is called with the items of each commit once it is durable
    (their `alive` is final by then): the runner releases claims and removes the media
    of rejected inputs there. `publish`, when set, gets each durable commit record first
    (a build into an object store uploads the commit there)."""

    def __init__(
        self,
        out: Path,
        rows_per_file: int,
        compression: str,
        videos_per_commit: int,
        on_commit: Callable[[list[WorkItem]], None] | None = None,
    ) -> None:
        self.out = out
        self.on_commit = on_commit
        self.publish: Callable[[dict[str, Any]], None] | None = None
        self.rows_per_file = rows_per_file
        self.compression = None if compression == "none" else compression
        self.videos_per_commit = videos_per_commit
        self.tables = available_tables()
        self._buffer: list[WorkItem] = []
        self._sequence = len(read_commits(out))
        for table in self.tables:
            (out / table).mkdir(parents=True, exist_ok=True)
        (out / COMMITS_DIR).mkdir(parents=True, exist_ok=True)
        self.removed_orphans = self._remove_orphans()
        self._seen_ids = self._load_seen_ids()
        self.committed_items = 0

    def _remove_orphans(self) -> int:
        """Delete files no commit lists: temporaries and shards of a run that died."""
        listed = {path.resolve() for paths in committed_files(self.out).values() for path in paths}
        removed = 0
        for table in self.tables:
            for path in (self.out / table).iterdir():
                if path.is_file() and path.resolve() not in listed:
                    path.unlink()
                    removed += 1
        for temp in (self.out / COMMITS_DIR).glob(".*.tmp"):
            temp.unlink()
            removed += 1
        return removed

    def _load_seen_ids(self) -> dict[str, IdSet]:
        """Row ids committed so far per table, compactly (`IdSet`), and the video ids as
        text in `_video_ids` (media is swept by them)."""
        self._video_ids: set[str] = set()
        seen = {table: IdSet() for table in self.tables if table != "videos"}
        for table, paths in committed_files(self.out).items():
            column = ID_COLUMNS.get(table)
            for path in paths:
                if not column or table not in self.tables:
                    continue
                ids = pq.read_table(path, columns=[column]).column(0).to_pylist()
                target = self._video_ids if table == "videos" else seen[table]
                for row_id in ids:
                    target.add(row_id)
        return seen

    def done_input_ids(self) -> set[str]:
        """Inputs already committed (kept or rejected): a rerun skips them."""
        return {input_id for record in read_commits(self.out) for input_id in record["input_ids"]}

    @property
    def video_ids(self) -> set[str]:
        """Ids of the videos kept so far (committed, or admitted to the commit under way)."""
        return self._video_ids

    @property
    def pending(self) -> int:
        """Items received but not committed yet."""
        return len(self._buffer)

    def add(self, items: Iterable[WorkItem]) -> None:
        for item in items:
            self._buffer.append(item)
            if len(self._buffer) >= self.videos_per_commit:
                self.flush()

    def flush(self) -> None:
        """Commit the buffered items: conform, write, rename, then record the commit."""
        if not self._buffer:
            return
        items, self._buffer = self._buffer, []
        rows = self._rows_by_table(items)
        record = commit_rows(
            self.out,
            rows,
            sorted({item.input_id for item in items}),
            rows_per_file=self.rows_per_file,
            compression=self.compression,
            sequence=self._sequence,
            extra={
                "accounts": _item_accounts(items),
                "validation": sum_validation(item.validation for item in items),
            },
        )
        self._sequence += 1
        self.committed_items += len(items)
        if self.publish:
            self.publish(record)
        if self.on_commit:
            self.on_commit(items)

    def _rows_by_table(self, items: list[WorkItem]) -> dict[str, list[dict[str, Any]]]:
        """Split items into table rows; contract misfits and duplicate ids become rejects."""
        rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            if item.alive:
                for table, table_rows in self._admit(item).items():
                    rows[table].extend(table_rows)
            rows["rejects"].extend(self._admit_rows(item, "rejects", item.rejects))
        return rows

    def _admit(self, item: WorkItem) -> dict[str, list[dict[str, Any]]]:
        """The writer is the last stage: it accounts for what it passes and rejects, and
        returns the item's rows that fit. An item is a video (its `videos` row) or, in a
        benchmark build, a sample (its `niah` row): without it the input is rejected."""
        account = item.account(WRITE_STAGE)
        account.inputs += 1
        admitted: dict[str, list[dict[str, Any]]] = {}
        if item.video is not None:
            self._admit_video(item, item.video)
        elif not item.niah:
            item.reject_input(
                WRITE_STAGE, "no_video", "the item reached the writer without a videos or niah row"
            )
        if item.alive:
            # The split the runner dealt this video travels on the item, stored with the row.
            admitted["videos"] = [{**item.video, "split": item.split}] if item.video else []
            for table in ROW_TABLES:
                admitted[table] = self._admit_rows(item, table, getattr(item, table))
            if item.video is None and not admitted["niah"]:
                item.reject_input(
                    WRITE_STAGE, "no_sample", "the sample's niah row was not admitted"
                )
                admitted = {}
        if item.alive:
            account.passed += 1
        else:
            account.rejected += 1
        account.note_worker()  # the writer's peak memory is the driver's
        return admitted

    def _admit_video(self, item: WorkItem, video: dict[str, Any]) -> None:
        _, problems = conform_rows("videos", [video])
        if problems:
            item.reject_input(WRITE_STAGE, "schema", f"videos row: {problems[0].reason}")
        elif video["video_id"] in self._video_ids:
            item.reject_input(
                WRITE_STAGE,
                "duplicate_video",
                f"video {video['video_id']} is already in the dataset",
            )
        else:
            self._video_ids.add(video["video_id"])

    def _admit_rows(
        self, item: WorkItem, table: str, table_rows: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        if table not in self.tables:
            return []
        _, problems = conform_rows(table, table_rows)
        bad = {id(problem.row): problem.reason for problem in problems}
        kept = []
        for row in table_rows:
            if id(row) in bad:
                item.reject_row(WRITE_STAGE, table, "schema", bad[id(row)], row)
                continue
            row_id = row[ID_COLUMNS[table]]  # present: the contract requires every id
            if self._seen_ids[table].add(row_id):
                kept.append(row)
            elif table != "rejects":
                item.reject_row(
                    WRITE_STAGE,
                    table,
                    "duplicate_id",
                    f"{ID_COLUMNS[table]} {row_id} already written",
                    row,
                )
        return kept

    def close(self) -> None:
        self.flush()


def _write_table(
    out: Path,
    table: str,
    table_rows: list[dict[str, Any]],
    commit_id: str,
    rows_per_file: int,
    compression: str | None,
) -> list[str]:
    """Write rows as Parquet files under temp names, fsync, rename; return their names."""
    data, problems = conform_rows(table, table_rows)
    if problems:
        raise ValueError(f"{table}: row does not fit the contract: {problems[0].reason}")
    names = []
    for part, offset in enumerate(range(0, data.num_rows, rows_per_file)):
        final = out / table / f"part-{commit_id}-{part:04d}.parquet"
        with atomic_path(final) as temp:
            pq.write_table(data.slice(offset, rows_per_file), temp, compression=compression)
        names.append(str(final.relative_to(out)))
    return names


def commit_rows(
    out: Path,
    rows_by_table: dict[str, list[dict[str, Any]]],
    input_ids: list[str],
    *,
    rows_per_file: int = 5000,
    compression: str | None = "zstd",
    sequence: int | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write rows that fit their contracts as one atomic commit; return the commit record.

    The shard writer uses it for every commit; tools that build shards from elsewhere
    (tests, importers) use it so their files are data readers trust. Rows must already
    fit their contracts (a misfit raises: admission is the caller's job)."""
    sequence = len(read_commits(out)) if sequence is None else sequence
    commit_id = f"{sequence:06d}-{uuid.uuid4().hex[:8]}"
    files: dict[str, list[str]] = {}
    for table, table_rows in rows_by_table.items():
        if table_rows:
            (out / table).mkdir(parents=True, exist_ok=True)
            files[table] = _write_table(
                out, table, table_rows, commit_id, rows_per_file, compression
            )
    record = {
        "commit": commit_id,
        "sequence": sequence,
        "created_at": time.time(),
        "input_ids": input_ids,
        "files": files,
        "rows": {
            table: len(table_rows) for table, table_rows in rows_by_table.items() if table_rows
        },
        **(extra or {}),
    }
    (out / COMMITS_DIR).mkdir(parents=True, exist_ok=True)
    write_atomic(out / COMMITS_DIR / f"{commit_id}.json", json.dumps(record, indent=1).encode())
    return record


def sum_accounts(accounts: Iterable[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Sum per-stage accounts (stage -> inputs/passed/rejected/wall_s/cpu_s, ...): counts
    and times add up, `peak_*` memory takes the maximum, `nodes` (node -> inputs) merges."""
    totals: dict[str, dict[str, Any]] = {}
    for per_stage in accounts:
        for stage, account in per_stage.items():
            slot = totals.setdefault(stage, {})
            for key, value in account.items():
                if isinstance(value, dict):
                    merged = slot.setdefault(key, {})
                    for name, count in value.items():
                        merged[name] = merged.get(name, 0) + count
                elif key.startswith("peak_"):
                    slot[key] = max(slot.get(key, 0.0), value)
                else:
                    slot[key] = slot.get(key, 0.0) + value
    return totals


def sum_validation(summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Sum validation summaries (table -> expectation -> evaluated/failed)."""
    total: dict[str, dict[str, dict[str, int]]] = {}
    for summary in summaries:
        for table, expectations in summary.items():
            for name, counts in expectations.items():
                slot = total.setdefault(table, {}).setdefault(name, {"evaluated": 0, "failed": 0})
                slot["evaluated"] += int(counts.get("evaluated", 0))
                slot["failed"] += int(counts.get("failed", 0))
    return total


def _item_accounts(items: Iterable[WorkItem]) -> dict[str, dict[str, float]]:
    return sum_accounts(
        {stage: asdict(account) for stage, account in item.accounts.items()} for item in items
    )


def sum_commit_accounts(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stage accounts summed over commit records (the whole dataset, across runs)."""
    return sum_accounts(record.get("accounts", {}) for record in records)


def sum_commit_validation(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Validation counts summed over commit records."""
    return sum_validation(record.get("validation", {}) for record in records)
