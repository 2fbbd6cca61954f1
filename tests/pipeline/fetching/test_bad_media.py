"""Bad and odd media through the fetch stage (issue 9, items 7-9).

Each input is crafted with ffmpeg's lavfi sources, handed to the fetch stage as a folder
input (or over a loopback server for the HTTP cases), and must come out either as a
normalized video or as one `rejects` row with the reason a user can act on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from longvid_pipeline.ids import input_id_for
from longvid_pipeline.item import WorkItem
from longvid_pipeline.media.ffmpeg import run_ffmpeg
from longvid_pipeline.media.probe import probe
from longvid_pipeline.stage import RunContext
from longvid_pipeline.stages.fetch import FetchConfig, FetchStage
from longvid_pipeline.stages.segment import SegmentConfig, SegmentStage

CONFIG = FetchConfig(retries=2, backoff_s=0.01, timeout_s=2.0, allow_loopback=True)
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]


def _lavfi(path: Path, source: str, *args: str) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", source, *args, str(path)])
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every crafted input of this module, made once."""
    folder = tmp_path_factory.mktemp("bad_media")
    png = _lavfi(folder / "still.png", "testsrc=s=160x90", "-frames:v", "1")
    renamed = folder / "still_renamed.mp4"
    renamed.write_bytes(png.read_bytes())
    made = {
        "slow_0.5fps": _lavfi(folder / "slow.mp4", "testsrc=s=160x90:r=0.5:d=12", *X264),
        "slow_0.2fps_gop1": _lavfi(
            folder / "slower.mkv", "testsrc=s=160x90:r=0.2:d=20", *X264, "-g", "1"
        ),
        "png_renamed_mp4": renamed,
        "one_frame": _lavfi(folder / "one.mp4", "testsrc=s=160x90:r=25", "-frames:v", "1", *X264),
        "short_0.04s": _lavfi(folder / "short.mp4", "testsrc=s=160x90:r=25:d=0.04", *X264),
        "short_0.5s": _lavfi(folder / "half.mp4", "testsrc=s=160x90:r=25:d=0.5", *X264),
        "tall_16x4000": _lavfi(folder / "tall.mp4", "testsrc=s=16x4000:r=10:d=2", *X264),
    }
    cover = folder / "cover.mp3"
    run_ffmpeg([
        "-f", "lavfi", "-i", "sine=d=3", "-i", str(png), "-map", "0", "-map", "1",
        "-c:a", "libmp3lame", "-c:v", "png", "-disposition:v", "attached_pic", str(cover),
    ])  # fmt: skip
    made["mp3_cover_art"] = cover
    return made


def _fetch(tmp_path: Path, url: str, kind: str = "folder", config: FetchConfig = CONFIG):
    item = WorkItem(input_id=input_id_for(url), source={"url": url}, source_kind=kind)
    return FetchStage(config, RunContext(out_dir=str(tmp_path / "out"))).run_item(item)


def _reason(item: WorkItem) -> tuple[str, str]:
    assert item.failed_stage == "fetch" and item.video is None, item.video
    (row,) = item.rejects
    assert row["level"] == "input"
    return row["reason"], row["detail"]


@pytest.mark.parametrize(
    ("name", "reason", "detail"),
    [
        ("png_renamed_mp4", "not_a_video", "still image"),
        ("one_frame", "too_short", "1 frame"),
        ("short_0.04s", "too_short", "1 frame"),
        ("short_0.5s", "too_short", "s < min_duration_s 1.0"),
        ("mp3_cover_art", "no_video_stream", "attached picture"),
        ("tall_16x4000", "bad_dimensions", "16x4000 would normalize to 2x720"),
    ],
)
def test_bad_media_is_rejected_with_its_reason(
    tmp_path: Path, files: dict[str, Path], name: str, reason: str, detail: str
) -> None:
    got_reason, got_detail = _reason(_fetch(tmp_path, str(files[name])))
    assert got_reason == reason, got_detail
    assert detail in got_detail


def test_limits_are_recipe_keys(tmp_path: Path, files: dict[str, Path]) -> None:
    """The same files pass once the recipe lowers the limits."""
    lenient = FetchConfig(min_duration_s=0.1, min_frames=1, min_side=2)
    for name in ("short_0.5s", "tall_16x4000"):
        item = _fetch(tmp_path / name, str(files[name]), config=lenient)
        assert item.alive, item.rejects
    assert (item.video["width"], item.video["height"]) == (2, 720)


@pytest.mark.parametrize("name", ["slow_0.5fps", "slow_0.2fps_gop1"])
def test_videos_under_one_fps_are_kept_and_segment(
    tmp_path: Path, files: dict[str, Path], name: str
) -> None:
    """A frame every 2 or 5 s: the tail check looks back one frame interval, not 1 s."""
    item = _fetch(tmp_path, str(files[name]))
    assert item.alive, item.rejects
    info = probe(item.media_path or "")
    assert info.duration_s == pytest.approx(probe(files[name]).duration_s, abs=0.5)
    segmented = SegmentStage(SegmentConfig(), RunContext(out_dir=str(tmp_path / "out"))).run_item(
        item
    )
    assert segmented.alive and segmented.rejects == [], segmented.rejects
    assert segmented.clips and segmented.clips[-1]["end_s"] >= info.duration_s - 0.1


# ------------------------------------------------------------------------------ HTTP


class _EmptyBody(BaseHTTPRequestHandler):
    """200 with an empty body; counts requests so a retry shows."""

    hits = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def empty_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyBody)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _EmptyBody.hits = 0
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/empty.mp4"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_zero_byte_body_is_empty_download_and_not_retried(
    tmp_path: Path, empty_server: str
) -> None:
    reason, detail = _reason(_fetch(tmp_path, empty_server, kind="manifest"))
    assert reason == "empty_download", detail
    single_attempt = _EmptyBody.hits
    assert single_attempt <= 2  # extraction and download of one attempt, no retries
