"""The one timestamp decoder: the first frame at or after each time, in the order asked,
the last frame past the end, the same pixels as a full decode, whether it seeks or not."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from support.shards import make_video

from longvid_pipeline.media.frames import frames_at, iter_frames_at


def full_decode(path: Path, width: int, height: int) -> tuple[list[float], list[np.ndarray]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        times = [float(frame.time or 0.0) for frame in frames]
        images = [
            f.reformat(width=width, height=height, format="rgb24").to_ndarray() for f in frames
        ]
    return times, images


def test_frames_at_matches_a_full_decode(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", "testsrc2", seconds=8.0)  # 10 fps, keyframe every 1 s
    times, images = full_decode(path, 96, 64)
    asked = [0.0, 0.35, 6.5, 0.1, 3.95, 99.0, 2.0, 2.05]  # unordered, gaps above and below 2 s
    frames = frames_at(path, asked, width=96, height=64)
    assert frames.shape == (len(asked), 64, 96, 3)
    for timestamp, frame in zip(asked, frames, strict=True):
        expected = next((i for i, t in enumerate(times) if t + 1e-3 >= timestamp), len(times) - 1)
        assert np.array_equal(frame, images[expected]), timestamp
    order = [index for index, _ in iter_frames_at(path, asked, width=96, height=64)]
    assert sorted(order) == list(range(len(asked)))
    assert [asked[i] for i in order] == sorted(asked)  # yielded in increasing time
