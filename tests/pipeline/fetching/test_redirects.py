"""Redirect hops are checked before they are sent, and connections go to the checked address.

Everything here talks to one HTTP server on 127.0.0.1. A fake network patches the socket
layer: `media.example` resolves to a public address (so it passes the checks) and a
connection to that address is carried to the loopback server; every connection attempt is
recorded at `socket.socket.connect`, and one to any other non-loopback address is refused
there before a packet leaves (169.254.169.254 is never connected to, even when a test
fails). Names the fake network does not know are unresolvable: no real DNS either.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from longvid_pipeline.fetching.pinning import PinnedResolver, pinned_opener, redirect_reason
from longvid_pipeline.fetching.safety import UnsafeURL
from longvid_pipeline.ids import input_id_for
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media.ffmpeg import run_ffmpeg
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.fetch import FetchConfig, FetchStage

PUBLIC = "93.184.216.34"  # what media.example "resolves" to: global, so the checks pass
METADATA = "169.254.169.254"


@dataclass
class FakeNet:
    """Names, and a record of every connection attempt (host, port) at the socket layer."""

    names: dict[str, list[str]]
    attempts: list[tuple[str, int]] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    lookups: Counter[str] = field(default_factory=Counter)


@pytest.fixture()
def net(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeNet]:
    fake = FakeNet(names={"media.example": [PUBLIC], "localhost": ["127.0.0.1"]})
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        fake.lookups[name] += 1
        try:
            ipaddress.ip_address(name.strip("[]"))
            return real_getaddrinfo(host, port, *args, **kwargs)  # a literal: no lookup
        except ValueError:
            pass
        if name not in fake.names:
            raise socket.gaierror(socket.EAI_NONAME, f"unknown to the fake network: {name}")
        answers = fake.names[name]
        address = answers.pop(0) if len(answers) > 1 else answers[0]  # a list: rebinding
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    def connect(sock: socket.socket, address: Any) -> Any:
        host, port = address[0], address[1]
        fake.attempts.append((host, port))
        if host == PUBLIC:
            return real_connect(sock, ("127.0.0.1", port))
        if ipaddress.ip_address(host).is_loopback:
            return real_connect(sock, address)
        fake.refused.append((host, port))
        raise ConnectionRefusedError(f"test network: no traffic to {host}")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield fake
    assert not [a for a in fake.refused if a[0] == METADATA], "metadata address contacted"


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("media") / "v.mp4"
    run_ffmpeg(
        ["-f", "lavfi", "-i", "testsrc=size=64x36:rate=10:duration=1", "-c:v", "libx264",
         "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10", str(path)]
    )  # fmt: skip
    return path.read_bytes()


class Server:
    """Loopback server: /good.mp4, /page.html (a <video> pointing at a redirect) and
    redirects; records (Host header, path) of every request it answers."""

    def __init__(self, video: bytes) -> None:
        self.video = video
        self.requests: list[tuple[str, str]] = []
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        port = self.port
        self.redirects = {
            "/to-loopback": f"http://127.0.0.1:{port}/good.mp4",
            "/to-localhost": f"http://localhost:{port}/good.mp4",
            "/to-unspecified": f"http://0.0.0.0:{port}/good.mp4",
            "/to-metadata": f"http://{METADATA}/latest/meta-data/",
            "/to-private": f"http://10.1.2.3:{port}/good.mp4",
            "/to-ftp": f"ftp://media.example:{port}/good.mp4",
            "/twice": "/to-loopback",  # relative: first hop stays on the public host
            "/to-public": f"http://media.example:{port}/good.mp4",
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests.append((self.headers.get("Host", ""), self.path))
                if self.path in server.redirects:
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/page.html":
                    body = b'<html><body><video src="/to-loopback"></video></body></html>'
                    kind = "text/html"
                elif self.path == "/good.mp4":
                    body, kind = server.video, "video/mp4"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def url(self, path: str, host: str = "media.example") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture()
def server(video: bytes) -> Iterator[Server]:
    running = Server(video)
    thread = threading.Thread(target=running.httpd.serve_forever, daemon=True)
    thread.start()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


PRIVATE_ONLY = FetchConfig(retries=0, timeout_s=2.0, allow_private=True)  # loopback refused
LOOPBACK_OK = replace(PRIVATE_ONLY, allow_private=False, allow_loopback=True)


def _fetch(tmp_path: Path, url: str, config: FetchConfig, **extra: Any) -> WorkItem:
    item = WorkItem(
        input_id=input_id_for(url), source={"url": url, **extra}, source_kind="manifest"
    )
    return FetchStage(config, RunContext(out_dir=str(tmp_path))).run_item(item)


def _reason(item: WorkItem) -> tuple[str, str]:
    assert item.failed_stage == "fetch", item.video
    (reject,) = item.rejects
    return reject["reason"], reject["detail"]


@pytest.mark.parametrize(
    ("path", "config", "reason", "never"),
    [
        ("/to-loopback", PRIVATE_ONLY, "redirect_to_loopback", "127.0.0.1"),
        ("/to-localhost", PRIVATE_ONLY, "redirect_to_loopback", "localhost"),
        ("/to-unspecified", PRIVATE_ONLY, "redirect_to_reserved", "0.0.0.0"),
        ("/twice", PRIVATE_ONLY, "redirect_to_loopback", "127.0.0.1"),
        ("/to-metadata", LOOPBACK_OK, "redirect_to_link_local", METADATA),
        ("/to-private", LOOPBACK_OK, "redirect_to_private", "10.1.2.3"),
        ("/to-ftp", LOOPBACK_OK, "redirect_bad_scheme", "ftp"),
    ],
)
def test_media_redirect_is_refused_before_it_is_sent(
    tmp_path: Path,
    net: FakeNet,
    server: Server,
    path: str,
    config: FetchConfig,
    reason: str,
    never: str,
) -> None:
    item = _fetch(tmp_path, server.url(path), config)
    got, detail = _reason(item)
    assert got == reason, detail
    assert never in detail
    # Only the public host was contacted: no connection to the target of the refused hop.
    assert set(net.attempts) == {(PUBLIC, server.port)}
    assert all(host.startswith("media.example") for host, _ in server.requests)
    assert not list((tmp_path / "media").glob("*.mp4")) if (tmp_path / "media").exists() else True


def test_redirect_refused_during_the_download_itself(
    tmp_path: Path, net: FakeNet, server: Server
) -> None:
    """The page extracts fine; the media request (yt-dlp's downloader) redirects to loopback."""
    item = _fetch(tmp_path, server.url("/page.html"), PRIVATE_ONLY)
    assert _reason(item)[0] == "redirect_to_loopback"
    assert (f"media.example:{server.port}", "/to-loopback") in server.requests
    assert set(net.attempts) == {(PUBLIC, server.port)}


def test_allowed_redirects_are_followed(tmp_path: Path, net: FakeNet, server: Server) -> None:
    item = _fetch(tmp_path, server.url("/to-public"), PRIVATE_ONLY)
    assert item.alive and item.video is not None, item.rejects
    loopback_ok = _fetch(tmp_path / "b", server.url("/to-loopback"), LOOPBACK_OK)
    assert loopback_ok.alive, loopback_ok.rejects


def test_the_input_url_keeps_its_own_reasons(tmp_path: Path, net: FakeNet, server: Server) -> None:
    item = _fetch(tmp_path, server.url("/good.mp4", host="127.0.0.1"), PRIVATE_ONLY)
    assert _reason(item)[0] == "loopback_address"
    assert net.attempts == []


def test_a_host_is_resolved_once_and_connected_at_the_checked_address(
    tmp_path: Path, net: FakeNet, server: Server
) -> None:
    """DNS rebinding: public when checked, loopback on a second lookup. The pin means
    there is no second lookup: every request of the input goes to the checked address."""
    net.names["rebind.example"] = [PUBLIC, "127.0.0.1", "127.0.0.1", "127.0.0.1"]
    item = _fetch(
        tmp_path,
        server.url("/good.mp4", host="rebind.example"),
        PRIVATE_ONLY,
        annotations_url=server.url("/missing.json", host="rebind.example"),
    )
    assert _reason(item)[0] == "bad_annotations"  # 404: the sidecar request was sent...
    assert net.lookups["rebind.example"] == 1  # ... after one lookup for media + sidecar
    assert set(net.attempts) == {(PUBLIC, server.port)}
    assert (f"rebind.example:{server.port}", "/missing.json") in server.requests


def test_annotations_redirect_to_metadata_is_refused(
    tmp_path: Path, net: FakeNet, server: Server
) -> None:
    item = _fetch(
        tmp_path,
        server.url("/good.mp4", host="127.0.0.1"),
        LOOPBACK_OK,
        annotations_url=server.url("/to-metadata", host="127.0.0.1"),
    )
    reason, detail = _reason(item)
    assert reason == "bad_annotations" and detail.startswith("redirect_to_link_local")
    assert {host for host, _ in net.attempts} == {"127.0.0.1"}


def test_pinned_opener_refuses_each_hop(net: FakeNet, server: Server) -> None:
    resolver = PinnedResolver(allow_loopback=False, allow_private=True)
    opener = pinned_opener(resolver)
    with opener.open(server.url("/to-public"), timeout=2) as response:
        assert response.read() == server.video
    with pytest.raises(UnsafeURL) as refused:
        opener.open(server.url("/twice"), timeout=2)
    assert refused.value.reason == "redirect_to_loopback"
    assert set(net.attempts) == {(PUBLIC, server.port)}
    assert redirect_reason("unresolvable_host") == "redirect_unresolvable_host"
