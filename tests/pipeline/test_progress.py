"""The live progress line: counts, rate, ETA, rejects by reason; periodic plain lines off a
terminal, one rewritten line on one."""

from __future__ import annotations

import io

from longvid_pipeline.item import WorkItem
from longvid_pipeline.progress import Progress, format_duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def kept(duration_s: float) -> WorkItem:
    item = WorkItem(input_id=f"in-{duration_s}", source={"url": "x"}, source_kind="manifest")
    item.video = {"video_id": "v", "duration_s": duration_s}
    return item


def rejected(reason: str) -> WorkItem:
    item = WorkItem(input_id=f"in-{reason}", source={"url": "y"}, source_kind="manifest")
    item.reject_input("fetch", reason, "detail")
    return item


def test_plain_lines_every_interval_with_rate_eta_and_rejects() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = Progress(total=4, stream=stream, every_s=10.0, live=False, clock=clock)
    clock.now += 5
    progress.add([kept(1800.0)])
    assert stream.getvalue() == ""  # not yet time for a line
    clock.now += 5  # 10 s in: one input of 4, half an hour of video
    progress.add([rejected("http_404")])
    assert stream.getvalue() == (
        "progress: 2/4 inputs (50%), 180.0 video-h/h, ETA 10s; rejects: http_404 1\n"
    )
    clock.now += 10
    progress.add([rejected("http_404"), rejected("corrupt")])
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[1] == "progress: 4/4 inputs (100%), 90.0 video-h/h; rejects: http_404 2, corrupt 1"
    assert lines[-1] == lines[1]  # close repeats the final state


def test_live_mode_rewrites_one_line() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = Progress(total=2, stream=stream, live=True, clock=clock)
    clock.now += 60
    progress.add([kept(60.0)])
    clock.now += 60
    progress.add([kept(60.0)])
    progress.close()
    text = stream.getvalue()
    assert text.count("\r\033[K") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "progress: 1/2 inputs (50%), 1.0 video-h/h, ETA 1m00s" in text


def test_format_duration() -> None:
    assert [format_duration(s) for s in (4.4, 65, 3 * 3600 + 7 * 60, 50 * 3600)] == [
        "4s", "1m05s", "3h07m", "2d02h",
    ]  # fmt: skip
