"""The one timestamp decoder: the first frame at or after each time, in the order asked,
the last frame past the end, the same pixels as a full decode, whether it seeks or not."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from support.shards import make_video

from longvid_pipeline.media.frames import frames_at, iter_frames_at, keyframe_times


def full_decode(path: Path, width: int, height: int) -> tuple[list[float], list[np.ndarray]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        times = [float(frame.time or 0.0) for frame in frames]
        images = [
            f.reformat(width=width, height=height, format="rgb24").to_ndarray() for f in frames
        ]
    return times, images


@pytest.mark.parametrize("gop", [10, 45, 250])  # keyframes every 1 s, 4.5 s, only the first
def test_frames_at_matches_a_full_decode(tmp_path: Path, gop: int) -> None:
    """Sparse keyframes (media kept as fetched) give the same frames; only seeks cost more."""
    path = make_video(tmp_path / "v.mp4", "testsrc2", seconds=12.0, gop=gop)  # 10 fps
    times, images = full_decode(path, 96, 64)
    # Unordered; gaps above and below 2 s, around and across keyframes.
    asked = [0.0, 0.35, 6.5, 0.1, 3.95, 99.0, 2.0, 2.05, 11.0, 4.4, 4.5, 9.05, 5.0]
    frames = frames_at(path, asked, width=96, height=64)
    assert frames.shape == (len(asked), 64, 96, 3)
    for timestamp, frame in zip(asked, frames, strict=True):
        expected = next((i for i, t in enumerate(times) if t + 1e-3 >= timestamp), len(times) - 1)
        assert np.array_equal(frame, images[expected]), timestamp
    order = [index for index, _ in iter_frames_at(path, asked, width=96, height=64)]
    assert sorted(order) == list(range(len(asked)))
    assert [asked[i] for i in order] == sorted(asked)  # yielded in increasing time


def test_keyframe_times_come_from_the_index(tmp_path: Path) -> None:
    path = make_video(tmp_path / "v.mp4", "testsrc2", seconds=12.0, gop=45)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        listed = keyframe_times(stream)
        decoded = [float(f.time or 0.0) for f in container.decode(stream) if f.key_frame]
    assert listed is not None
    np.testing.assert_allclose(listed, decoded, atol=1e-6)
    assert len(decoded) >= 3 and decoded[0] == 0.0 and max(np.diff(decoded)) <= 4.5 + 1e-6
