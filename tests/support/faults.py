"""Fault injection for crash tests: writer failpoints, a full disk, a flaky HTTP server.

Faults reach every process of a run (the driver and the Ray workers it starts) through
the environment, without any hook in the pipeline code: `fault_env(spec, folder)` writes a
`sitecustomize.py` into `folder` and returns an environment with that folder on
PYTHONPATH and the spec (JSON) in LONGVID_FAULTS. Python imports sitecustomize at start
in every process, which calls `install_from_env()`. Local Ray workers inherit the
driver's environment, so they get the same faults. Every fault that fires appends one
JSON line to `spec["log"]` (pid, what, where) so a test can say what happened.

Specs (dicts):

- ``{"kind": "kill_writer", "out": OUT, "event": k, "mode": "before" | "after" | "torn"}``:
  SIGKILL the process at the k-th write event of the shard writer (a Parquet file
  written under OUT/<table>/, or a rename into OUT/<table>/ or OUT/_commits/), before
  it runs or after it ran; "torn": at the k-th Parquet write (renames not counted),
  after truncating the file written to half its size.
- ``{"kind": "disk_full", "out": OUT, "dirs": [...], "fail_from": k}``: from the k-th
  write (1-based) into OUT/<dir> for the listed dirs on, every write fails with
  OSError(ENOSPC) after writing part of its bytes, as a full disk does.
- ``serve_flaky(folder)``: a loopback HTTP server that answers each (method, path) with
  500 first, then a reset connection (mid-body for GET), then a slow but good answer.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import json
import os
import signal
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from longvid_pipeline.tables import COMMITS_DIR, TABLE_NAMES

FAULTS_ENV = "LONGVID_FAULTS"
WRITER_DIRS = (*TABLE_NAMES, COMMITS_DIR)

_SITECUSTOMIZE = """\
# Written by tests/support/faults.py: installs the faults in LONGVID_FAULTS.
import os
if os.environ.get("LONGVID_FAULTS"):
    from support.faults import install_from_env
    install_from_env()
"""


def fault_env(
    spec: dict[str, Any], folder: Path, base: dict[str, str] | None = None
) -> dict[str, str]:
    """An environment that installs `spec` in every Python process started with it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    env = dict(os.environ if base is None else base)
    tests_dir = str(Path(__file__).resolve().parents[1])  # `support` is imported from there
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(folder), tests_dir, env.get("PYTHONPATH", "")) if p
    )
    env[FAULTS_ENV] = json.dumps(spec)
    return env


def read_fault_log(path: Path) -> list[dict[str, Any]]:
    """The events a fault log holds (one JSON object a line)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def install_from_env() -> None:
    """Install the fault described by LONGVID_FAULTS in this process (once)."""
    text = os.environ.get(FAULTS_ENV)
    if not text or getattr(install_from_env, "_done", False):
        return
    install_from_env._done = True  # type: ignore[attr-defined]
    spec = json.loads(text)
    kinds = {"kill_writer": _install_kill_writer, "disk_full": _install_disk_full}
    kinds[spec["kind"]](spec)


def _log(spec: dict[str, Any], **event: Any) -> None:
    if not spec.get("log"):
        return
    line = json.dumps({"pid": os.getpid(), "time": time.time(), **event}) + "\n"
    fd = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _under(path: Any, out: Path, dirs: tuple[str, ...] | list[str]) -> str | None:
    """`path` relative to OUT when it lies under OUT/<one of dirs>, else None."""
    try:
        resolved = Path(os.fsdecode(path)).resolve()
    except (TypeError, ValueError):
        return None
    if not resolved.is_relative_to(out):
        return None
    rel = resolved.relative_to(out)
    return str(rel) if len(rel.parts) > 1 and rel.parts[0] in dirs else None


# ---------------------------------------------------------------- writer failpoints


def _install_kill_writer(spec: dict[str, Any]) -> None:
    import pyarrow.parquet as pq

    out = Path(spec["out"]).resolve()
    target, mode = int(spec["event"]), spec.get("mode", "before")
    dirs = tuple(spec.get("dirs", WRITER_DIRS))
    count = [0]
    real_write_table, real_replace = pq.write_table, os.replace

    def die(what: str, where: str) -> None:
        _log(spec, fault="kill_writer", event=count[0], mode=mode, what=what, where=where)
        os.kill(os.getpid(), signal.SIGKILL)

    def write_table(table: Any, where: Any, *args: Any, **kwargs: Any) -> Any:
        rel = _under(where, out, dirs) if isinstance(where, (str, os.PathLike)) else None
        if rel is None:
            return real_write_table(table, where, *args, **kwargs)
        count[0] += 1
        if count[0] == target and mode == "before":
            die("write_parquet", rel)
        result = real_write_table(table, where, *args, **kwargs)
        if count[0] == target:
            if mode == "torn":
                size = os.path.getsize(where)
                os.truncate(where, size // 2)
            die("write_parquet", rel)
        return result

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> Any:
        rel = _under(dst, out, dirs)
        if rel is None or mode == "torn":  # torn: the k-th Parquet write, renames do not count
            return real_replace(src, dst, *args, **kwargs)
        count[0] += 1
        if count[0] == target and mode == "before":
            die("rename", rel)
        result = real_replace(src, dst, *args, **kwargs)
        if count[0] == target:
            die("rename", rel)
        return result

    pq.write_table = write_table
    os.replace = replace


# ---------------------------------------------------------------- a full disk


ENOSPC_TEXT = os.strerror(errno.ENOSPC)  # "No space left on device"
PYARROW_ENOSPC_TEXT = f"Error writing bytes to file. Detail: [errno {errno.ENOSPC}] {ENOSPC_TEXT}"


class _FullDiskFile(io.RawIOBase):
    """A writable file on a full disk: the first write stores a few bytes, then fails the
    way a real one does: OSError(ENOSPC) without a file name."""

    def __init__(self, handle: Any, name: str, on_fail: Any) -> None:
        self._handle, self.name, self._on_fail = handle, name, on_fail

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._handle.write(view[: min(len(view), 512)])
        self._handle.flush()
        self._on_fail(self.name)
        raise OSError(errno.ENOSPC, ENOSPC_TEXT)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._handle.close()
        super().close()

    def fileno(self) -> int:
        return self._handle.fileno()


def _install_disk_full(spec: dict[str, Any]) -> None:
    """From the k-th write into OUT/<dirs> on, writes fail with ENOSPC (a disk that filled up)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(spec["out"]).resolve()
    dirs = tuple(spec["dirs"])
    fail_from = int(spec.get("fail_from", 1))
    count = [0]
    real_open, real_os_open, real_write_table = builtins.open, os.open, pq.write_table

    def full(rel: str) -> bool:
        count[0] += 1
        return count[0] >= fail_from

    def on_fail(name: str) -> None:
        _log(spec, fault="disk_full", write=count[0], where=name)

    def is_write(mode: str) -> bool:
        return any(flag in mode for flag in "wax+")

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        rel = _under(file, out, dirs) if isinstance(file, (str, bytes, os.PathLike)) else None
        if (
            rel is None
            or not is_write(mode)
            or kwargs.get("opener")
            or os.path.isdir(file)
            or not full(rel)
        ):
            # with an opener (tempfile does that), the patched os.open decides
            return real_open(file, mode, *args, **kwargs)
        handle = real_open(file, "wb" if "b" in mode or "w" in mode else "ab")
        raw = _FullDiskFile(handle, rel, on_fail)
        return raw if "b" in mode else io.TextIOWrapper(io.BufferedWriter(raw), write_through=True)

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        rel = _under(path, out, dirs) if isinstance(path, (str, bytes, os.PathLike)) else None
        if rel is not None and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and full(rel):
            on_fail(rel)
            raise OSError(errno.ENOSPC, ENOSPC_TEXT, os.fsdecode(path))
        return real_os_open(path, flags, *args, **kwargs)

    def write_table(table: Any, where: Any, *args: Any, **kwargs: Any) -> Any:
        rel = _under(where, out, dirs) if isinstance(where, (str, os.PathLike)) else None
        if rel is None:
            return real_write_table(table, where, *args, **kwargs)
        sink = pa.BufferOutputStream()
        real_write_table(table, sink, *args, **kwargs)
        try:
            with open_(where, "wb") as handle:  # the bytes go through the full disk
                handle.write(sink.getvalue().to_pybytes())
        except OSError as exc:  # what pyarrow raises on ENOSPC: errno 28, no file name
            raise OSError(errno.ENOSPC, PYARROW_ENOSPC_TEXT) from exc
        return None

    builtins.open = open_
    io.open = open_
    os.open = os_open
    pq.write_table = write_table


# ---------------------------------------------------------------- a flaky server


@contextlib.contextmanager
def serve_flaky(folder: Path, slow_s: float = 0.5) -> Iterator[tuple[str, Counter[str]]]:
    """Serve `folder` like demo_server.serve_folder, but badly: the n-th request of each
    (method, path) gets 1: HTTP 500, 2: a reset connection (GET: after part of the body),
    3: a good answer after `slow_s` seconds, 4 and later: a good answer.

    Yields the base URL and a Counter of what was served ("500", "reset", "slow", "ok").
    """
    import functools
    from http.server import ThreadingHTTPServer

    from longvid_pipeline.demo.server import RangeRequestHandler

    seen: Counter[tuple[str, str]] = Counter()
    served: Counter[str] = Counter()
    lock = threading.Lock()

    class Flaky(RangeRequestHandler):
        def _turn(self) -> int:
            with lock:
                seen[(self.command, self.path)] += 1
                return seen[(self.command, self.path)]

        def _reset(self) -> None:
            served["reset"] += 1
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.wfile.flush()
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()

        def _flaky(self) -> bool:
            """True when this request was answered badly (the caller stops)."""
            turn = self._turn()
            if turn == 1:
                served["500"] += 1
                self.send_error(500, "flaky server: first try fails")
                return True
            if turn == 2 and self.command != "GET":
                self._reset()
                return True
            if turn == 3:
                served["slow"] += 1
                time.sleep(slow_s)
            return False

        def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
            if not self._flaky():
                served["ok"] += 1
                super().do_HEAD()

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            if self._flaky():
                return
            if seen[(self.command, self.path)] == 2:  # reset after part of the body
                source = self.send_head()
                if source is not None:
                    with source:
                        size = os.fstat(source.fileno()).st_size
                        self.wfile.write(source.read(max(1, min(4096, size // 2))))
                self._reset()
                return
            served["ok"] += 1
            super().do_GET()

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            """Resets make the handler fail on a closed socket; that is the point."""

    server = Server(("127.0.0.1", 0), functools.partial(Flaky, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, name="serve_flaky", daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/", served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
