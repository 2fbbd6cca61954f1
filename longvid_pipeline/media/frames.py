"""The one frame decoder by timestamps: frames of a video at chosen times, seeking or
decoding forward, whichever is cheaper.

Used by every reader of pixels after the segment stage (the trainer's data loader, the
captioner's preprocessing, the needle builder's haystacks), so frames never travel
between stages. Long videos are sampled sparsely (about 1 fps), so decoding every frame
wastes most of the work: the decoder seeks when that skips decoding and decodes forward
otherwise. A seek lands on the keyframe before the timestamp, so its cost is the
distance to that keyframe: at most 2 s of decode in media fetch re-encoded, up to the
kept keyframe gap (`fetch.max_keyframe_gap_s`, e.g. 8 s for x264's defaults) in media
kept as it came. Where the container lists its keyframes (MP4's index), the decoder seeks
only when the keyframe it would land on lies ahead of where it is (more than
`MIN_SKIP_S`); without an index, when the next timestamp is more than `seek_gap_s` ahead.
Only the frames that are yielded are converted (at 1 fps from 30 fps video, converting
every decoded frame cost twice the decode); scaling happens in swscale through one reused
context.

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

SEEK_GAP_S = 2.0  # without a keyframe index: seek when the next timestamp is further
MIN_SKIP_S = 0.5  # with one: seek when that skips more than this much decoding
SEEK_BACK_S = 0.5  # seek this much before a timestamp (index times are approximate)


def keyframe_times(stream: av.video.stream.VideoStream) -> np.ndarray | None:
    """Presentation times (s) of the keyframes the container's index lists, or None.

    MP4 lists every sample with its decode time; the keyframe's presentation time is that
    shifted by the stream's decode delay (B-frames), taken from the first sample. ~0.2 us
    per sample: 40 ms for two hours at 30 fps, once per file opened.
    """
    entries = stream.index_entries
    if entries is None or len(entries) == 0 or stream.time_base is None:
        return None
    keys = [entry.timestamp for entry in entries if entry.is_keyframe]
    if not keys:
        return None
    shift = (stream.start_time or 0) - entries[0].timestamp
    return (np.asarray(keys, dtype=np.float64) + shift) * float(stream.time_base)


def _seek_pays(target: float, position: float, keys: np.ndarray | None, seek_gap_s: float) -> bool:
    """Whether seeking to `target` decodes less than decoding forward from `position`."""
    if keys is None:
        return target - position > seek_gap_s
    landing = np.searchsorted(keys, target - SEEK_BACK_S, side="right") - 1
    return landing >= 0 and keys[landing] > position + MIN_SKIP_S


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
        keys = keyframe_times(stream)
        position: float | None = None
        last: np.ndarray | None = None
        decoder: Iterator[av.VideoFrame] | None = None
        for index in order:
            target = float(timestamps[index])
            if position is not None and last is not None and target <= position:
                yield index, last  # sorted targets: the held frame is the first at/after this one
                continue
            if (
                decoder is None
                or position is None
                or _seek_pays(target, position, keys, seek_gap_s)
            ):
                container.seek(
                    int(max(target - SEEK_BACK_S, 0) / stream.time_base),
                    stream=stream,
                    backward=True,
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
    """(T, H, W, 3) uint8 RGB frames at `timestamps`, in the order given (see iter_frames_at).

    The result is filled in place, so the peak is the T frames themselves (512 frames at
    224x224: 77 MB), not a list of frames plus their stacked copy.
    """
    frames: np.ndarray | None = None
    scaled = iter_frames_at(
        path, timestamps, width=width, height=height, interpolation=interpolation
    )
    for index, frame in scaled:
        if frames is None:
            frames = np.empty((len(timestamps), *frame.shape), dtype=frame.dtype)
        frames[index] = frame
    if frames is None:
        raise ValueError("frames_at needs at least one timestamp")
    return frames
