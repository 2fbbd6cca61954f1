"""OUT on an object store (s3://, gs://, any fsspec URL): the commit protocol without rename.

A local OUT relies on rename being atomic. An object store has no rename, but a single
object PUT is atomic (a reader sees the whole object or none), and that is all the commit
protocol needs:

- data objects are written under names no other commit uses (`part-<commit id>-NNNN`),
  so an upload never replaces anything a reader trusts;
- the commit record `_commits/<commit id>.json` is written last, as one PUT: the only
  write that makes data visible. Readers list commit records and read only the objects
  they name;
- a run killed between the two leaves data objects no record names: orphans, deleted by
  the next writer (`StoreOut.reconcile`).

How a build uses it: the run works in a local mirror of OUT (`mirror_dir`) exactly as in
a local OUT — Ray workers write media, claims and host-slot locks there — and publishes
each commit once it is durable in the mirror: its Parquet files, the media of its kept
videos, then its record. At start, the mirror and the store are reconciled (commits the
mirror holds and the store lacks are published; commits the store holds and the mirror
lacks, say on a new machine, are fetched), so a killed build resumes from either side.
One driver writes an OUT at a time; on a cluster the mirror folder must be one all nodes
see (or a single node runs the workers), because workers coordinate through it.

How readers use it: `query`/`stats` open the committed Parquet objects through pyarrow's
fsspec filesystem and hand DuckDB Arrow datasets (no DuckDB extension is needed); the
trainer and the evaluator call `local_copy`, which fetches committed files and the kept
videos' media once into a read mirror and returns that folder.

Credentials and endpoints come from the store's usual settings (AWS_* variables, or
fsspec's `FSSPEC_S3_ENDPOINT_URL`-style variables for any protocol).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from longvid_pipeline.errors import StoreError
from longvid_pipeline.files import write_atomic
from longvid_pipeline.media.housekeeping import (
    CLIP_FILES_DIR,
    MEDIA_DIR,
    media_owner,
    video_media_files,
)
from longvid_pipeline.tables import COMMITS_DIR, available_tables

URL_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
# Files a build writes at its end, next to the tables (published after the last commit).
REPORTS = ("manifest.json", "validation.json", "validation.md", "README.md")
REPORT_DIRS = ("card",)


def is_url(out: str | Path) -> bool:
    """True when OUT names a store (`s3://…`); plain paths and `file://` stay local."""
    text = str(out)
    return bool(URL_PATTERN.match(text)) and not text.startswith("file://")


def cache_root() -> Path:
    """Where mirrors of remote OUTs live: $LONGVID_CACHE, else ~/.cache/longvid."""
    return Path(os.environ.get("LONGVID_CACHE") or Path.home() / ".cache" / "longvid")


def mirror_dir(url: str, purpose: str) -> Path:
    """The local folder that mirrors `url` for `purpose` ("build" or "read").

    Builds and readers keep separate mirrors: a build mirror may hold a commit not yet
    published, which a reader must never see."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", url.split("://", 1)[-1]).strip("-")[-48:]
    digest = hashlib.sha256(url.encode()).hexdigest()[:10]
    return cache_root() / "outs" / f"{slug}-{digest}" / purpose


class StoreOut:
    """An OUT on an fsspec filesystem, addressed by its URL."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.url = url.rstrip("/")
        try:
            self.fs, self.root = fsspec.core.url_to_fs(self.url)
        except (ImportError, ValueError) as exc:  # e.g. s3:// without s3fs
            raise StoreError(
                f'{self.url}: {_first_line(exc)} (pip install -e ".[cloud]")'
            ) from None
        self.root = self.root.rstrip("/")

    def check_writable(self) -> None:
        """Write and delete a probe object: a missing bucket or credentials fail here, in
        one line, before any work."""
        probe = self.path(f"{COMMITS_DIR}/.probe-{os.getpid()}")
        try:
            self.fs.pipe_file(probe, b"")
            self.fs.rm_file(probe)
        except Exception as exc:  # the store's own errors (botocore, gcsfs, OSError)
            raise StoreError(f"{self.url}: cannot write there ({_first_line(exc)})") from None

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    # ------------------------------------------------------------ reading

    def commit_records(self) -> list[dict[str, Any]]:
        """Every readable commit record, oldest first (an unreadable one is never data)."""
        records = []
        self.fs.invalidate_cache()  # another process may have committed since the last look
        for path in sorted(self._listing(COMMITS_DIR)):
            if not path.endswith(".json"):
                continue
            try:
                records.append(json.loads(self.fs.cat_file(path)))
            except (OSError, ValueError):
                continue
        return sorted(records, key=lambda record: record.get("sequence", 0))

    def committed_paths(self) -> dict[str, list[str]]:
        """Table -> store paths of the Parquet objects commit records name."""
        files: dict[str, list[str]] = {}
        for record in self.commit_records():
            for table, names in record["files"].items():
                files.setdefault(table, []).extend(self.path(name) for name in names)
        return files

    def arrow_dataset(self, paths: list[str], schema: Any) -> Any:
        """A lazy pyarrow dataset over Parquet objects (DuckDB scans it as a table)."""
        import pyarrow.dataset as ds
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        filesystem = PyFileSystem(FSSpecHandler(self.fs))
        return ds.dataset(paths, schema=schema, format="parquet", filesystem=filesystem)

    def read_text(self, relative: str) -> str:
        """A small object as text. Raises FileNotFoundError when it is absent."""
        try:
            return bytes(self.fs.cat_file(self.path(relative))).decode()
        except FileNotFoundError:
            raise FileNotFoundError(f"no {relative} in {self.url}") from None

    def exists(self) -> bool:
        """True when the store holds anything under this OUT (committed or not).

        Raises:
            StoreError: the store cannot be read (no such bucket, no credentials)."""
        self.fs.invalidate_cache()
        try:
            return bool(self.fs.exists(self.root))
        except Exception as exc:  # the store's own errors (botocore, gcsfs, OSError)
            raise StoreError(f"{self.url}: cannot read there ({_first_line(exc)})") from None

    def _listing(self, relative: str) -> list[str]:
        """The objects directly under `relative` (not its sub-folders: the clips table's
        folder also holds per-video folders of clip files)."""
        try:
            entries = self.fs.ls(self.path(relative), detail=True)
        except FileNotFoundError:
            return []
        return [str(entry["name"]) for entry in entries if entry.get("type") == "file"]

    def _tree(self, relative: str) -> dict[str, int]:
        """Every object under `relative` (recursive): store path -> size, from one listing."""
        try:
            found = self.fs.find(self.path(relative), detail=True)
        except FileNotFoundError:
            return {}
        return {str(path): int(info.get("size") or 0) for path, info in found.items()}

    # ------------------------------------------------------------ writing (one driver)

    def _upload(self, local: Path, relative: str) -> None:
        self.fs.put_file(str(local), self.path(relative))

    def publish_commit(self, mirror: Path, record: dict[str, Any]) -> None:
        """Publish a commit durable in `mirror`: data objects first, the record last (one
        PUT), so a reader sees all of the commit or none of it. (The media of its videos
        are already up: the worker that wrote them uploaded them, `upload_media`.)"""
        for names in record["files"].values():
            for name in names:
                self._upload(mirror / name, name)
        self.fs.pipe_file(
            self.path(f"{COMMITS_DIR}/{record['commit']}.json"),
            json.dumps(record, indent=1).encode(),
        )

    def publish_reports(self, mirror: Path) -> None:
        """Publish the end-of-run files (manifest, validation reports, card)."""
        for name in REPORTS:
            if (mirror / name).is_file():
                self._upload(mirror / name, name)
        for folder in REPORT_DIRS:
            for local in sorted((mirror / folder).rglob("*")) if (mirror / folder).is_dir() else []:
                if local.is_file():
                    self._upload(local, str(local.relative_to(mirror)))

    def reconcile(self, mirror: Path) -> dict[str, int]:
        """Bring a build mirror and the store to the same commits, then delete the store's
        orphans (data objects no record names). Returns what it did, for the run record."""
        from longvid_pipeline.shards import read_commits

        remote = {record["commit"]: record for record in self.commit_records()}
        local = {record["commit"]: record for record in read_commits(mirror)}
        for commit in sorted(set(local) - set(remote)):
            self.publish_commit(mirror, local[commit])
        for commit in sorted(set(remote) - set(local)):
            self._fetch_commit(mirror, remote[commit])
        listed = {
            self.path(name)
            for record in [*remote.values(), *local.values()]
            for name in _names(record)
        }
        orphans = [
            path
            for table in available_tables()
            for path in self._listing(table)
            if path not in listed
        ]
        for path in orphans:
            self.fs.rm_file(path)
        return {
            "published": len(set(local) - set(remote)),
            "fetched": len(set(remote) - set(local)),
            "store_orphans_removed": len(orphans),
        }

    def _fetch_commit(self, mirror: Path, record: dict[str, Any]) -> None:
        """Copy a commit's data files, then its record, into a local mirror."""
        for name in _names(record):
            _download(self.fs, self.path(name), mirror / name)
        (mirror / COMMITS_DIR).mkdir(parents=True, exist_ok=True)
        write_atomic(mirror / COMMITS_DIR / f"{record['commit']}.json", json.dumps(record).encode())

    # ------------------------------------------------------------ media (workers, driver)

    def upload_media(self, work: Path, video_id: str) -> None:
        """Upload one video's media from a worker's folder: the normalized mp4 and its
        sidecars, and its clip files when segment cut them."""
        for local in video_media_files(work, video_id):
            self._upload(local, local.relative_to(work).as_posix())

    def download_media(self, video_id: str, work: Path) -> None:
        """Fetch one video's media into a worker's folder (a later stage on another
        machine than the one that fetched it)."""
        for path in self.fs.glob(self.path(f"{MEDIA_DIR}/{video_id}.*")):
            _download(self.fs, str(path), work / MEDIA_DIR / str(path).rsplit("/", 1)[-1])

    def remove_media(self, video_id: str) -> int:
        """Delete one video's media from the store; returns how many objects went."""
        paths = [
            *self.fs.glob(self.path(f"{MEDIA_DIR}/{video_id}.*")),
            *self._tree(f"{CLIP_FILES_DIR}/{video_id}"),
        ]
        for path in paths:
            self.fs.rm_file(str(path))
        return len(paths)

    def sweep_media(self, kept_video_ids: set[str]) -> int:
        """Delete media no kept video owns (inputs rejected after fetch uploaded them)."""
        return sum(
            self.remove_media(owner) for owner in sorted(self._media_owners() - kept_video_ids)
        )

    def _media_files(self) -> dict[str, int]:
        """Every media object, relative to OUT -> size: media/<id>.* and clips/<id>/…,
        never the clips table's own part files (clips/part-….parquet)."""
        listed = {**self._tree(MEDIA_DIR), **self._tree(CLIP_FILES_DIR)}
        relative = {path[len(self.root) + 1 :]: size for path, size in listed.items()}
        return {path: size for path, size in relative.items() if media_owner(path)}

    def _media_owners(self) -> set[str]:
        return {owner for path in self._media_files() if (owner := media_owner(path))}

    def clear(self) -> None:
        """Delete everything a build wrote under this OUT (`run --force`)."""
        for relative in (*available_tables(), COMMITS_DIR, MEDIA_DIR, *REPORTS, *REPORT_DIRS):
            if self.fs.exists(self.path(relative)):
                self.fs.rm(self.path(relative), recursive=True)

    # ------------------------------------------------------------ read mirror

    def sync_read_mirror(self, mirror: Path) -> Path:
        """Make `mirror` hold exactly the store's committed data, reports and kept media.

        Objects are immutable under their names, so a file already present with the
        store's size is not fetched again; commit records the store no longer has (it was
        rebuilt) are dropped first, and with them their files."""
        from longvid_pipeline.shards import read_commits

        records = self.commit_records()
        wanted = {record["commit"] for record in records}
        for record in read_commits(mirror):
            if record["commit"] not in wanted:
                (mirror / COMMITS_DIR / f"{record['commit']}.json").unlink(missing_ok=True)
        listed = {mirror / name for record in records for name in _names(record)}
        for table in available_tables():
            stale = (mirror / table).glob("*.parquet") if (mirror / table).is_dir() else []
            for path in stale:
                if path not in listed:
                    path.unlink()
        for record in records:
            self._fetch_commit(mirror, record)
        for name in REPORTS:  # rewritten by every run: always fetched again
            (mirror / name).unlink(missing_ok=True)
            if self.fs.exists(self.path(name)):
                _download(self.fs, self.path(name), mirror / name)
        for relative, size in self._media_files().items():
            _download(self.fs, self.path(relative), mirror / relative, size)
        return mirror


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _names(record: dict[str, Any]) -> Iterable[str]:
    return (name for names in record["files"].values() for name in names)


def _download(fs: Any, path: str, local: Path, size: int | None = None) -> None:
    """Fetch one object to `local` unless it is there already: a file is only ever written
    whole (through a temp name), and a part file's name is never reused, so presence is
    enough; for media the listing's `size` is checked too (no request per file)."""
    if local.is_file() and (size is None or local.stat().st_size == size):
        return
    local.parent.mkdir(parents=True, exist_ok=True)
    temp = local.with_name(f".{local.name}.part")
    fs.get_file(path, str(temp))
    os.replace(temp, local)


def localize_media(item: Any, context: Any) -> None:
    """Point a live item's media at this machine's work folder, fetching it from the store
    when another machine fetched the video (workers of a store build share no folder)."""
    if not item.alive or not item.media_path or not item.video:
        return
    local = context.media_dir() / Path(item.media_path).name
    if not local.is_file():
        StoreOut(context.store_url).download_media(item.video["video_id"], context.out)
    item.media_path = str(local)


def local_copy(out: str | Path) -> Path:
    """A local folder holding OUT's committed data: OUT itself when local; for a store URL,
    a read mirror synced from the store (committed files, reports, kept media)."""
    if not is_url(out):
        return Path(out)
    store = StoreOut(str(out))
    if not store.exists():
        raise FileNotFoundError(f"no pipeline output at {out}: nothing committed there yet")
    return store.sync_read_mirror(mirror_dir(str(out), "read"))
