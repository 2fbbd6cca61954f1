"""Fetch stage end to end on tiny real media: a loopback HTTP server and a local folder.

Every failing input must come out as one `rejects` row (stage fetch, level input, the
original source row as `input`), every good one as a contract-valid `videos` row with
normalized media under OUT/media.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import pytest
from support.network import refuse_beyond_loopback

from longvid_pipeline.fetching.coordination import HostSlots
from longvid_pipeline.fetching.download import MatchFilter, canonical_source, chapters_from_info
from longvid_pipeline.fetching.normalize import scan_packets
from longvid_pipeline.ids import input_id_for
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media.ffmpeg import run_ffmpeg
from longvid_pipeline.media.probe import probe
from longvid_pipeline.schemas import arrow_schema, row_problem
from longvid_pipeline.sources.files import load_folder
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.fetch import FetchConfig, FetchStage


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Unsafe URLs below are refused by the checks; if a check regressed, the socket layer
    still refuses them unsent, and the test fails."""
    refused = refuse_beyond_loopback(monkeypatch)
    yield
    assert not refused, f"connections beyond loopback were attempted: {refused}"


# ------------------------------------------------------------------------------- media


def _encode(
    path: Path, seconds: float, size: str, gop: int, audio: bool = True, faststart: bool = True
) -> Path:
    args = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate=25:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0"]
    if faststart:
        args += ["-movflags", "+faststart"]
    run_ffmpeg([*args, str(path)])
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Bytes of every test file, made once per module with ffmpeg's lavfi sources."""
    folder = tmp_path_factory.mktemp("media")
    good = _encode(folder / "good.mp4", 4, "160x90", gop=25).read_bytes()
    sparse = _encode(folder / "sparse.mp4", 6, "160x90", gop=125, audio=False).read_bytes()
    plain = _encode(folder / "plain.mp4", 4, "160x90", gop=25, faststart=False).read_bytes()
    run_ffmpeg(
        ["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac", str(folder / "a.m4a")]
    )
    run_ffmpeg(
        [
            "-display_rotation",
            "90",
            "-i",
            str(folder / "good.mp4"),
            "-c",
            "copy",
            str(folder / "rot.mp4"),
        ]
    )
    damaged = bytearray(good)
    damaged[len(good) * 4 // 5 :] = bytes(len(good) - len(good) * 4 // 5)  # zero the last fifth
    return {
        "good": good,
        "damaged": bytes(damaged),
        "rotated": (folder / "rot.mp4").read_bytes(),
        "sparse": sparse,
        "truncated": good[: len(good) // 2],
        "truncated_moov_last": plain[: len(plain) // 2],
        "audio": (folder / "a.m4a").read_bytes(),
        "text": b"this is a text file, not a video\n" * 10,
    }


# ------------------------------------------------------------------------------- server


class _Server:
    """Loopback HTTP server whose routes are (status, content type, body) or behaviours."""

    def __init__(self, media: dict[str, bytes]) -> None:
        self.media = media
        self.hits: Counter[str] = Counter()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.redirects: dict[str, str] = {}  # redirects: tests/pipeline/fetching/test_redirects.py

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def route(self, path: str) -> tuple[int, str, bytes]:
        self.hits[path] += 1
        good = ("video/mp4", self.media["good"])
        table: dict[str, tuple[str, bytes]] = {
            "/good.mp4": good,
            "/sparse.mp4": ("video/mp4", self.media["sparse"]),
            "/text.mp4": ("video/mp4", self.media["text"]),
            "/audio.m4a": ("audio/mp4", self.media["audio"]),
            "/truncated.mp4": ("video/mp4", self.media["truncated"]),
            "/damaged.mp4": ("video/mp4", self.media["damaged"]),
            "/good.json": ("application/json", json.dumps({"scenes": [1, 2]}).encode()),
            "/list.json": ("application/json", b"[1, 2, 3]"),
        }
        if path == "/404.mp4":
            return 404, "text/plain", b"missing"
        if path == "/500.mp4":
            return 500, "text/plain", b"boom"
        if path == "/slow.mp4":
            time.sleep(3)
            return 200, *good
        if path == "/flaky.mp4" and self.hits[path] <= 2:
            return 503, "text/plain", b"try again"
        if path == "/flaky.mp4":
            return 200, *good
        if path in table:
            return 200, *table[path]
        return 404, "text/plain", b"no route"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                if self.path in server.redirects:
                    server.hits[self.path] += 1
                    self.send_response(302)
                    self.send_header("Location", server.redirects[self.path])
                    self.end_headers()
                    return
                status, content_type, body = server.route(self.path)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture()
def server(media: dict[str, bytes]) -> Iterator[_Server]:
    with _Server(media) as running:
        yield running


# ------------------------------------------------------------------------------- helpers

TEST_CONFIG = FetchConfig(
    max_duration_s=60.0,
    retries=2,
    backoff_s=0.05,
    timeout_s=1.0,
    allow_loopback=True,
)


def _run(
    tmp_path: Path,
    url: str,
    config: FetchConfig = TEST_CONFIG,
    kind: str = "manifest",
    **extra: Any,
) -> WorkItem:
    item = WorkItem(input_id=input_id_for(url), source={"url": url, **extra}, source_kind=kind)
    return FetchStage(config, RunContext(out_dir=str(tmp_path))).run_item(item)


def _assert_rejected(item: WorkItem, reason: str) -> dict[str, Any]:
    assert item.failed_stage == "fetch", item.video
    assert len(item.rejects) == 1
    row = item.rejects[0]
    assert (row["stage"], row["level"], row["reason"]) == ("fetch", "input", reason), row["detail"]
    assert json.loads(row["input"]) == item.source
    assert item.video is None
    return row


def _assert_good(item: WorkItem, tmp_path: Path, normalized_by: str) -> dict[str, Any]:
    assert item.alive, item.rejects
    video = item.video
    assert video is not None
    assert row_problem(video, arrow_schema("videos")) is None
    media_file = tmp_path / video["uri"]
    assert video["uri"].startswith("media/v-") and media_file.is_file()
    assert Path(item.media_path or "") == media_file.resolve()
    assert video["normalized_by"] == normalized_by
    assert video["video_codec"] == "h264"
    assert video["bytes"] == media_file.stat().st_size
    assert not (tmp_path / ".tmp" / item.input_id).exists()
    return video


# ------------------------------------------------------------------------------- good inputs


def test_conforming_download_is_stream_copied(tmp_path: Path, server: _Server) -> None:
    url = server.url("/good.mp4")
    item = _run(tmp_path, url, title="clip one", license="cc-by")
    video = _assert_good(item, tmp_path, "copy")
    assert video["title"] == "clip one" and video["license"] == "cc-by"
    assert (video["width"], video["height"], video["audio_codec"]) == (160, 90, "aac")
    assert video["duration_s"] == pytest.approx(4.0, abs=0.1)
    assert video["fps"] == pytest.approx(25.0)
    assert json.loads(video["metadata"]) == {"title": "clip one", "license": "cc-by"}
    assert video["source"] == "manifest" and video["url"] == url
    assert video["has_subtitles"] is False and video["has_annotations"] is False


def test_sparse_keyframes_are_reencoded(tmp_path: Path, server: _Server) -> None:
    config = replace(TEST_CONFIG, max_keyframe_gap_s=2.0)  # the file's gap is 5 s
    video = _assert_good(_run(tmp_path, server.url("/sparse.mp4"), config), tmp_path, "reencode")
    scan = scan_packets(tmp_path / video["uri"])
    assert 0 < scan.max_keyframe_gap_s <= 2.0 + 1 / 25
    assert video["audio_codec"] is None
    assert video["duration_s"] == pytest.approx(6.0, abs=0.1)


def test_tall_video_is_scaled_to_max_height(tmp_path: Path, server: _Server) -> None:
    config = replace(TEST_CONFIG, max_height=60)
    video = _assert_good(_run(tmp_path, server.url("/good.mp4"), config), tmp_path, "reencode")
    assert video["height"] == 60 and video["width"] % 2 == 0
    assert video["width"] == 106  # 160x90 keeps its aspect at height 60, width made even
    assert scan_packets(tmp_path / video["uri"]).max_keyframe_gap_s <= 2.0 + 1 / 25


def test_rotated_video_is_reencoded_upright(tmp_path: Path, media: dict[str, bytes]) -> None:
    source = tmp_path / "rotated.mp4"
    source.write_bytes(media["rotated"])
    video = _assert_good(_run(tmp_path, str(source), kind="folder"), tmp_path, "reencode")
    assert (video["width"], video["height"]) == (90, 160)
    with av.open(str(tmp_path / video["uri"])) as container:
        assert next(container.decode(video=0)).rotation == 0


def test_flaky_server_is_retried(tmp_path: Path, server: _Server) -> None:
    _assert_good(_run(tmp_path, server.url("/flaky.mp4")), tmp_path, "copy")
    assert server.hits["/flaky.mp4"] >= 3


def test_annotations_url_is_kept(tmp_path: Path, server: _Server) -> None:
    item = _run(tmp_path, server.url("/good.mp4"), annotations_url=server.url("/good.json"))
    video = _assert_good(item, tmp_path, "copy")
    assert item.annotations == {"scenes": [1, 2]}
    assert video["has_annotations"] is True


def test_same_content_gets_same_video_id(tmp_path: Path, server: _Server) -> None:
    first = _run(tmp_path / "a", server.url("/good.mp4"))
    second = _run(tmp_path / "b", server.url("/flaky.mp4"), replace(TEST_CONFIG, retries=3))
    assert first.video_id == second.video_id and first.input_id != second.input_id


def test_same_video_through_two_urls_is_processed_once(tmp_path: Path, server: _Server) -> None:
    first = _run(tmp_path, server.url("/good.mp4"))
    again = _run(tmp_path, server.url("/good.mp4"))  # the owner itself may redo its input
    assert again.alive and again.video_id == first.video_id
    second = _run(tmp_path, server.url("/flaky.mp4"), replace(TEST_CONFIG, retries=3))
    assert second.failed_stage == "fetch"
    (reject,) = second.rejects
    assert reject["reason"] == "duplicate_video"
    assert first.input_id in reject["detail"]


# ------------------------------------------------------------------------------- failing URLs


@pytest.mark.parametrize(
    ("path", "reason", "config_change"),
    [
        ("/404.mp4", "http_404", {}),
        ("/500.mp4", "http_500", {"retries": 1}),
        ("/slow.mp4", "timeout", {"retries": 0}),
        ("/text.mp4", "not_a_video", {}),
        ("/audio.m4a", "no_video_stream", {}),
        ("/truncated.mp4", "corrupt", {}),
        ("/damaged.mp4", "corrupt", {}),
        ("/good.mp4", "too_long", {"max_duration_s": 2.0}),
        ("/good.mp4", "too_large", {"max_filesize_mb": 0.001}),
        ("/good.mp4", "bad_annotations", {"annotations_url": "/list.json"}),
    ],
)
def test_failing_url_becomes_reject(
    tmp_path: Path, server: _Server, path: str, reason: str, config_change: dict[str, Any]
) -> None:
    change = dict(config_change)
    extra = (
        {"annotations_url": server.url(change.pop("annotations_url"))}
        if "annotations_url" in change
        else {}
    )
    item = _run(tmp_path, server.url(path), replace(TEST_CONFIG, **change), **extra)
    _assert_rejected(item, reason)
    assert not list((tmp_path / ".tmp").glob("*"))


def test_not_found_is_not_retried_but_server_error_is(tmp_path: Path, server: _Server) -> None:
    _run(tmp_path, server.url("/404.mp4"))
    _run(tmp_path, server.url("/500.mp4"))
    assert server.hits["/404.mp4"] == 1
    assert server.hits["/500.mp4"] == TEST_CONFIG.retries + 1


def test_host_slots_limit_concurrent_holders(tmp_path: Path) -> None:
    slots = HostSlots(tmp_path / "locks", limit=2, poll_s=0.01)
    active, peak, lock = [0], [0], threading.Lock()

    def download() -> None:
        with slots.hold("example.com"):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.05)
            with lock:
                active[0] -= 1

    workers = [threading.Thread(target=download) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert peak[0] == 2
    with slots.hold("example.com") as first, slots.hold("example.com") as second:
        assert {first, second} == {0, 1}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "malformed_url"),
        ("", "malformed_url"),
        ("http://", "malformed_url"),
        ("ftp://127.0.0.1/a.mp4", "bad_scheme"),
        ("file:///etc/passwd", "bad_scheme"),
        ("http://169.254.169.254/latest/meta-data", "link_local_address"),
        ("http://10.0.0.1/a.mp4", "private_address"),
        ("http://[::ffff:10.0.0.1]/a.mp4", "private_address"),
    ],
)
def test_unsafe_or_malformed_url_is_refused(tmp_path: Path, url: str, reason: str) -> None:
    started = time.monotonic()
    _assert_rejected(_run(tmp_path, url), reason)
    assert time.monotonic() - started < 1.0  # refused before any connection attempt


def test_loopback_refused_unless_allowed(tmp_path: Path, server: _Server) -> None:
    config = replace(TEST_CONFIG, allow_loopback=False)
    _assert_rejected(_run(tmp_path, server.url("/good.mp4"), config), "loopback_address")
    assert server.hits["/good.mp4"] == 0


# ------------------------------------------------------------------------------- folder source


@pytest.fixture()
def folder(tmp_path: Path, media: dict[str, bytes]) -> Path:
    root = tmp_path / "inbox"
    (root / "sub").mkdir(parents=True)
    (root / "good.mp4").write_bytes(media["good"])
    (root / "good.json").write_text(json.dumps({"objects": ["ball"]}))
    (root / "good.en.vtt").write_text("WEBVTT\n\n00:00.500 --> 00:01.500\n<b>Hello</b> there\n")
    (root / "sub" / "sparse.mp4").write_bytes(media["sparse"])
    (root / "sub" / "sparse.json").write_text("[not json")
    (root / "notes.txt").write_bytes(media["text"])
    (root / "audio.m4a").write_bytes(media["audio"])
    (root / "cut.mp4").write_bytes(media["truncated"])
    (root / "cut_moov_last.mp4").write_bytes(media["truncated_moov_last"])
    (root / "damaged.mp4").write_bytes(media["damaged"])
    return root


def test_folder_source_end_to_end(tmp_path: Path, folder: Path) -> None:
    out = tmp_path / "out"
    stage = FetchStage(TEST_CONFIG, RunContext(out_dir=str(out)))
    results = {}
    for source_row in load_folder(folder):
        row = source_row.row
        item = WorkItem(input_id=input_id_for(row["url"]), source=row, source_kind="folder")
        results[Path(row["url"]).name] = stage.run_item(item)
    assert sorted(results) == [
        "audio.m4a", "cut.mp4", "cut_moov_last.mp4", "damaged.mp4", "good.mp4", "notes.txt",
        "sparse.mp4",
    ]  # fmt: skip
    expected = {
        "audio.m4a": "no_video_stream",
        "cut.mp4": "corrupt",
        "cut_moov_last.mp4": "corrupt",
        "damaged.mp4": "corrupt",
        "notes.txt": "not_a_video",
        "sparse.mp4": "bad_annotations",
    }
    for name, reason in expected.items():
        _assert_rejected(results[name], reason)
    good = results["good.mp4"]
    video = _assert_good(good, out, "copy")
    assert video["source"] == "folder" and video["title"] == "good"
    assert good.annotations == {"objects": ["ball"]} and video["has_annotations"] is True
    assert good.subtitles == [{"start_s": 0.5, "end_s": 1.5, "text": "Hello there"}]
    assert video["has_subtitles"] is True
    assert (out / "media" / f"{video['video_id']}.vtt").is_file()
    assert probe(out / video["uri"]).height == 90


def test_folder_input_must_be_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    _assert_rejected(_run(tmp_path, str(tmp_path / "adir"), kind="folder"), "not_a_video")
    _assert_rejected(_run(tmp_path, str(tmp_path / "gone.mp4"), kind="folder"), "missing_file")
    _assert_rejected(_run(tmp_path, "relative/x.mp4", kind="folder"), "malformed_url")


# ------------------------------------------------------------------------------- site metadata


def test_site_info_helpers_map_yt_dlp_fields() -> None:
    info = {
        "extractor_key": "Youtube",
        "id": "abc123",
        "duration": 7200,
        "chapters": [
            {"start_time": 0, "end_time": 60.5, "title": "Intro"},
            {"start_time": 60.5, "end_time": 7200, "title": None},
            {"title": "no times"},
        ],
    }
    assert canonical_source(info) == "youtube:abc123"
    assert canonical_source({"extractor_key": "Generic", "id": "good"}) is None
    assert chapters_from_info(info) == [
        {"start_s": 0.0, "end_s": 60.5, "title": "Intro"},
        {"start_s": 60.5, "end_s": 7200.0, "title": ""},
    ]
    match = MatchFilter(max_duration_s=3600, max_bytes=1000)
    assert match(info, incomplete=False) is not None
    assert match.rejection is not None and match.rejection.reason == "too_long"
    assert MatchFilter(3600, 1000)({"duration": 10, "filesize_approx": 5000}) is not None
    assert MatchFilter(3600, 1000)({"duration": 10, "filesize": 500}) is None
    playlist = MatchFilter(3600, 1000)
    playlist({"_type": "playlist"}, incomplete=True)
    assert playlist.rejection is not None and playlist.rejection.reason == "playlist"
