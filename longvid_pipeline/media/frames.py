"""The one frame decoder by timestamps: frames of a video at chosen times, seeking or
decoding forward, whichever is cheaper.

Used by every reader of pixels after the segment stage (the trainer's data loader, the
captioner's preprocessing, the needle builder's haystacks), so frames never travel
between stages. Long videos are sampled sparsely (about 1 fps), so decoding every frame
wastes most of the work: the decoder seeks when the next timestamp is more than
`seek_gap_s` ahead and decodes forward otherwise (normalized media has a keyframe at
least every 2 s, so a seek costs at most two seconds of decode). Only the frames that are
yielded are converted (at 1 fps from 30 fps video, converting every decoded frame cost
twice the decode); scaling happens in swscale through one reused context.

Example:
    frames = frames_at("out/demo/media/v-1.mp4", [0.5, 12.0, 3.0], width=224, height=224)
    frames.shape  # (3, 224, 224, 3), in the order asked
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

SEEK_GAP_S = 2.0


def iter_frames_at(
    path: str | Path,
    timestamps: Sequence[float],
    *,
    width: int | None = None,
    height: int | None = None,
    seek_gap_s: float = SEEK_GAP_S,
    interpolation: str | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (index into `timestamps`, RGB uint8 frame [H, W, 3]) in increasing time.

    Each frame is the first at or after its timestamp; a timestamp past the last
    decodable frame gets the last frame, so every index is yielded exactly once. Only one
    decoded frame is held at a time: a 10,000-frame request streams. `interpolation` is
    swscale's scaler (None: BILINEAR; "BICUBIC" matches what vision models were trained on).

    Raises:
        ValueError: the file has no decodable video frame.
    """
    order = sorted(range(len(timestamps)), key=lambda index: timestamps[index])
    scaler = VideoReformatter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        position: float | None = None
        last: np.ndarray | None = None
        decoder: Iterator[av.VideoFrame] | None = None
        for index in order:
            target = float(timestamps[index])
            if position is not None and last is not None and target <= position:
                yield index, last  # sorted targets: the held frame is the first at/after this one
                continue
            if decoder is None or position is None or target - position > seek_gap_s:
                container.seek(
                    int(max(target - 0.5, 0) / stream.time_base), stream=stream, backward=True
                )
                decoder = container.decode(stream)
            reached: av.VideoFrame | None = None
            for frame in decoder:  # decode forward; convert only the frame that is yielded
                position, reached = float(frame.time or 0.0), frame
                if position + 1e-3 >= target:
                    break
            if reached is not None:
                last = scaler.reformat(
                    reached, width=width, height=height, format="rgb24", interpolation=interpolation
                ).to_ndarray()
            if last is None:
                raise ValueError(f"{path}: no decodable video frame")
            yield index, last


def frames_at(
    path: str | Path,
    timestamps: Sequence[float],
    *,
    width: int | None = None,
    height: int | None = None,
    interpolation: str | None = None,
) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames at `timestamps`, in the order given (see iter_frames_at)."""
    frames: list[np.ndarray | None] = [None] * len(timestamps)
    scaled = iter_frames_at(
        path, timestamps, width=width, height=height, interpolation=interpolation
    )
    for index, frame in scaled:
        frames[index] = frame
    return np.stack(frames)  # type: ignore[arg-type]
