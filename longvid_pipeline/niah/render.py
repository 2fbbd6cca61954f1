"""A `niah` row as an mp4, for models that take files: frames stream, never all in memory.

Frame i of the sample is a needle frame when a needle is held there, otherwise the next
haystack frame, read at its recorded timestamp by the one frame decoder and scaled to the
sample's size. Frames go one at a time into ffmpeg's stdin (rgb24, libx264), so a
10,000-frame sample holds one haystack frame and the sample's few needle images at once.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from longvid_pipeline.files import atomic_path
from longvid_pipeline.media.ffmpeg import encode_rgb_frames, open_ffmpeg
from longvid_pipeline.media.frames import iter_frames_at

Row = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    path: Path
    frames: int
    wall_s: float


def needle_image(needle: dict[str, Any]) -> np.ndarray:
    """A needle's PNG as an RGB uint8 array."""
    with Image.open(io.BytesIO(needle["png"])) as image:
        return np.asarray(image.convert("RGB"))


def iter_haystack(row: Row, root: Path) -> Iterator[np.ndarray]:
    """The haystack frames in order, decoded by timestamp and scaled to the sample's size."""
    for segment in row["haystack"]:
        frames = iter_frames_at(
            root / segment["uri"], segment["timestamps"], width=row["width"], height=row["height"]
        )
        for _, frame in frames:
            yield frame


def iter_sample_frames(row: Row, haystack_root: str | Path | None = None) -> Iterator[np.ndarray]:
    """Every frame of the sample in order: `length` RGB arrays of height x width x 3."""
    root = Path(haystack_root or row["haystack_root"])
    starts = {needle["frame_index"]: k for k, needle in enumerate(row["needles"])}
    haystack = iter_haystack(row, root)
    index = 0
    while index < row["length"]:
        if index in starts:
            image = needle_image(row["needles"][starts[index]])
            for _ in range(row["hold_frames"]):
                yield image
            index += row["hold_frames"]
        else:
            yield next(haystack)
            index += 1


def render_sample(
    row: Row,
    path: Path,
    haystack_root: str | Path | None = None,
    crf: int = 18,
    preset: str = "veryfast",
) -> Rendered:
    """Write the sample as an H.264 mp4 at its fps (atomically: a failure leaves nothing).

    Raises:
        RuntimeError: ffmpeg failed (its message included).
    """
    started = time.perf_counter()
    width, height = row["width"], row["height"]
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = 0
    with atomic_path(path, suffix=".mp4") as temp, tempfile.TemporaryFile() as errors:
        graph = encode_rgb_frames(
            temp, width=width, height=height, fps=row["fps"], crf=crf, preset=preset
        )
        process = open_ffmpeg(graph, stderr=errors)
        assert process.stdin is not None
        try:
            for frame in iter_sample_frames(row, haystack_root):
                process.stdin.write(np.ascontiguousarray(frame).tobytes())
                frames += 1
            process.stdin.close()
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            errors.seek(0)
            raise RuntimeError(f"ffmpeg failed: {errors.read().decode(errors='replace').strip()}")
    return Rendered(path=path, frames=frames, wall_s=time.perf_counter() - started)


def read_sample(out: str | Path, sample_id: str) -> Row:
    """The committed `niah` row `sample_id` of the output at `out`.

    Raises:
        FileNotFoundError: no niah shards under `out`, or no such sample.
    """
    from longvid_pipeline.api import read_rows

    rows = read_rows(out, "niah", where={"sample_id": [sample_id]})
    if not rows:
        raise FileNotFoundError(f"no niah sample {sample_id!r} under {out}")
    return rows[0]
