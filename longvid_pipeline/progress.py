"""Live progress of a build: inputs done of total, video-hours per hour, rejects so far by
reason, and an ETA, while the run streams.

A person watching a two-day build wants to know where it is without reading logs. On a
terminal the report is one line rewritten in place; anywhere else (CI, `ray job submit`
logs, a file) it is a plain line every `every_s` seconds, so logs stay readable. `-q`
turns it off. The numbers come from the finished items the writer receives, so they
count exactly what the summary will count.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TextIO

from longvid_pipeline.item import WorkItem


@dataclass
class Progress:
    """Running totals of a build and how to show them."""

    total: int
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    every_s: float = 30.0
    live: bool | None = None  # None: rewrite one line when the stream is a terminal
    clock: Callable[[], float] = time.monotonic
    done: int = 0
    kept: int = 0
    video_s: float = 0.0
    rejects: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.live is None:
            self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = self.clock()
        self.last_shown = self.started

    def add(self, items: Iterable[WorkItem]) -> None:
        """Count finished items, then show the line if it is time to."""
        for item in items:
            self.done += 1
            if item.alive and item.video:
                self.kept += 1
                self.video_s += float(item.video.get("duration_s") or 0.0)
            self.rejects.update(r["reason"] for r in item.rejects if r["level"] == "input")
        now = self.clock()
        if self.live or now - self.last_shown >= self.every_s:
            self.show(now)

    def line(self, now: float) -> str:
        """e.g. `progress: 120/400 inputs (30%), 41.2 video-h/h, ETA 1h02m; rejects: http_404 3`."""
        elapsed = max(now - self.started, 1e-9)
        share = self.done / self.total if self.total else 1.0
        text = f"progress: {self.done}/{self.total} inputs ({share:.0%})"
        text += f", {self.video_s / elapsed:.1f} video-h/h"
        if 0 < self.done < self.total:
            text += f", ETA {format_duration(elapsed / self.done * (self.total - self.done))}"
        if self.rejects:
            top = ", ".join(f"{reason} {n}" for reason, n in self.rejects.most_common(4))
            text += f"; rejects: {top}"
        return text

    def show(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        self.last_shown = now
        if self.live:
            self.stream.write("\r\033[K" + self.line(now))
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """The final line (and the newline a live line still owes)."""
        if self.done:
            self.show()
            if self.live:
                self.stream.write("\n")
                self.stream.flush()


def format_duration(seconds: float) -> str:
    """12s, 4m05s, 3h07m, 2d04h: two units at most."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
