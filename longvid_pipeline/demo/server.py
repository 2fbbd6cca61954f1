"""Serve a folder over loopback HTTP so the demo recipe exercises the real fetch path.

Why not `python -m http.server`: yt-dlp and resumable downloads send `Range` requests,
which the standard library handler ignores (it always answers 200 with the whole file).
This handler answers a single byte range with 206 Partial Content, an unsatisfiable one
with 416, and keeps HEAD, 404 and Last-Modified from the standard handler. It logs
nothing, so test and pipeline output stay clean.

Example::

    from pathlib import Path
    import urllib.request
    from longvid_pipeline.demo.server import serve_folder
    with serve_folder(Path("/tmp/world")) as base_url:
        body = urllib.request.urlopen(base_url + "demo-000.json").read()
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single-range `Range` header for a file of `size`.

    Returns None when the header should be ignored (absent, malformed, or several ranges:
    RFC 9110 lets a server answer those with the full body) and raises ValueError when
    the range is well formed but unsatisfiable (the server answers 416).
    """
    match = _RANGE.match(header.strip()) if header else None
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first_text, last_text = match.groups()
    if not first_text:  # suffix range: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise ValueError(f"unsatisfiable suffix range {header!r}")
        return max(size - length, 0), size - 1
    first = int(first_text)
    last = min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or last < first:
        raise ValueError(f"unsatisfiable range {header!r} for {size} bytes")
    return first, last


class RangeRequestHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single byte ranges, and no logging."""

    byte_range: tuple[int, int] | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the per-request stderr line."""

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self) -> BinaryIO | None:
        """Answer 206/416 for a Range on a regular file; else defer to the standard handler."""
        self.byte_range = None
        path = self.translate_path(self.path)
        header = self.headers.get("Range", "")
        if not header or not os.path.isfile(path) or self.path.endswith("/"):
            return super().send_head()
        size = os.path.getsize(path)
        try:
            byte_range = parse_range(header, size)
        except ValueError:
            self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if byte_range is None:
            return super().send_head()
        return self._send_partial_head(path, size, byte_range)

    def _send_partial_head(self, path: str, size: int, byte_range: tuple[int, int]) -> BinaryIO:
        first, last = byte_range
        handle = open(path, "rb")  # noqa: SIM115 - closed by copyfile's caller (do_GET)
        handle.seek(first)
        self.byte_range = byte_range
        self.send_response(HTTPStatus.PARTIAL_CONTENT)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Last-Modified", self.date_time_string(int(os.path.getmtime(path))))
        self.end_headers()
        return handle

    def copyfile(self, source: Any, outputfile: Any) -> None:
        """Copy only the requested range when one was granted, else the whole file."""
        if self.byte_range is None:
            shutil.copyfileobj(source, outputfile)
            return
        remaining = self.byte_range[1] - self.byte_range[0] + 1
        while remaining > 0:
            chunk = source.read(min(remaining, 1 << 16))
            if not chunk:
                break
            outputfile.write(chunk)
            remaining -= len(chunk)


class _QuietServer(ThreadingHTTPServer):
    """Threaded server whose clients hanging up mid-download are not printed as tracebacks."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Drop the error: a client closing early (a range probe, a cancelled fetch) is normal."""


@contextmanager
def serve_folder(folder: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `folder` read-only over HTTP until the block exits; yields the base URL.

    Use it to make local files reachable through the same URL-based fetch path (yt-dlp,
    HTTP downloads) that real sources take. Port 0 picks a free port.

    Args:
        folder: the directory to serve (files are addressed relative to it).
        host: interface to bind; loopback by default so nothing is exposed.
        port: TCP port, 0 for any free one.

    Returns:
        A context manager yielding a URL such as "http://127.0.0.1:41234/".

    Raises:
        FileNotFoundError: `folder` is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot serve {folder}: not a directory")
    handler = functools.partial(RangeRequestHandler, directory=str(folder))
    server = _QuietServer((host, port), handler)
    thread = threading.Thread(
        target=server.serve_forever, name=f"serve_folder:{folder}", daemon=True
    )
    thread.start()
    try:
        bound_host, bound_port = server.socket.getsockname()[:2]
        yield f"http://{bound_host}:{bound_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
