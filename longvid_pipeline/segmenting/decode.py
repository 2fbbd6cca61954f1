"""The decode-once pass: one PyAV decode of a video yields everything segmentation needs.

Which frames leave this pass, and which do not (issue 3, point 3): the pass yields the
shot detector's small frames (every decoded frame, streamed in chunks to the detector),
the filter statistics (sampled at `filters.sample_fps`) and the decode health (holes, decode
errors, keyframe times). It does **not** yield caption frames: the caption stage seeks
by timestamp in the normalized file (keyframes every <= 2 s make a seek cost at most two
seconds of decode), so frames never travel between stages and this pass never holds
more than one chunk of tiny frames.

Why PyAV and not an ffmpeg subprocess piping tiny rawvideo: measured on 640x360 H.264,
both cost the same CPU per video-second (a full decode plus < 10%) once PyAV's scaler
is reused across frames (`VideoReformatter`; a fresh `frame.reformat` per frame builds a
new swscale context and costs +40%). PyAV also gives each frame's presentation time
(variable frame rate) and each corrupt packet as an exception with its time, which
rawvideo on a pipe loses.

Where the CPU goes besides the decode (benchmarks/segment.py): a swscale area scale to
48x27 costs ~140 us per 640x360 frame, more than decoding a flat frame, so the content
detector's frames come from `BoxScaler` (numpy box averages over the decoder's planes,
batched, ~40 us); statistics frames are summarized in vectorized batches; the detector
scores whole chunks at once. TransNetV2 keeps swscale's exact area average.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from longvid_pipeline.segmenting.box_scaler import BOX_BATCH, BoxScaler, cached_scaler, small_rgb
from longvid_pipeline.segmenting.frame_stats import FrameStats

# Receives (times_s [n], rgb frames [n, height, width, 3] uint8) for consecutive frames.
ChunkConsumer = Callable[[np.ndarray, np.ndarray], None]


@dataclass
class DecodeResult:
    """What one decode pass learned about a video."""

    frame_times: np.ndarray
    keyframe_times: list[float]
    error_times: list[float]
    stats: FrameStats

    @property
    def frame_interval(self) -> float:
        """Typical frame duration (median gap), the unit of 'one frame' for boundaries."""
        if len(self.frame_times) < 2:
            return 1 / 30
        return float(np.median(np.diff(self.frame_times)))


class _StatsFrames:
    """Sampled statistics frames, summarized a batch at a time (vectorized).

    Scaling is swscale's area average, done in numpy where the boxes tile the frame
    exactly (640x360 to 160x90 is 4x4 boxes: the same average, batched). The numpy path
    copies whole planes, so its batch is capped at `BATCH_BYTES` of them (16 frames at
    640x360, one at 4K).
    """

    BATCH, BATCH_BYTES = 16, 8 << 20

    def __init__(self, size: tuple[int, int], stats: FrameStats) -> None:
        self.size, self.stats = size, stats
        self.area = VideoReformatter()
        self.scalers: dict[Any, BoxScaler | None] = {}
        self.scaler: BoxScaler | None = None  # scaler of the frames held
        self.out = np.empty((self.BATCH, size[1], size[0], 3), dtype=np.uint8)
        self.times: list[float] = []

    def add(self, time_s: float, frame: av.VideoFrame) -> None:
        batch = max(1, min(self.BATCH, self.BATCH_BYTES * 2 // (3 * frame.width * frame.height)))
        every_row = {"luma_rows": 1 << 16, "chroma_rows": 1 << 16, "batch": batch}
        scaler = cached_scaler(self.scalers, frame, self.size, True, **every_row)
        if scaler is not self.scaler:
            self.flush()
            self.scaler = scaler
        if scaler is None:
            self.out[len(self.times)] = small_rgb(self.area, frame, *self.size)
        else:
            scaler.add(len(self.times), frame)
        self.times.append(time_s)
        if len(self.times) == (scaler.batch if scaler is not None else self.BATCH):
            self.flush()

    def flush(self) -> None:
        if self.times:
            if self.scaler is not None:
                self.scaler.rgb(len(self.times), self.out)
            self.stats.add_batch(self.times, self.out[: len(self.times)])
            self.times = []


class _ChunkBuffer:
    """Collects small detector frames into fixed-size chunks for vectorized consumers.

    `resize` "area" scales each frame with libswscale's area averaging of the whole
    frame (what TransNetV2 was trained on); "box" uses `BoxScaler` where the frame fits
    (swscale otherwise), converting every `BOX_BATCH` frames (its samples stay in
    cache). A change of geometry or scaler converts what is pending first.
    """

    def __init__(
        self, consumer: ChunkConsumer, size: tuple[int, int], chunk_frames: int, resize: str
    ) -> None:
        width, height = size
        self.consumer, self.size, self.resize = consumer, size, resize
        self.frames = np.empty((chunk_frames, height, width, 3), dtype=np.uint8)
        self.times = np.empty(chunk_frames, dtype=np.float64)
        self.count = 0
        self.area = VideoReformatter()
        self.scalers: dict[Any, BoxScaler | None] = {}
        self.scaler: BoxScaler | None = None  # box scaler of the frames not yet converted
        self.pending = 0  # index of the first frame the box scaler holds

    def add(self, time_s: float, frame: av.VideoFrame) -> None:
        scaler = self._scaler(frame) if self.resize == "box" else None
        if scaler is not self.scaler:
            self._convert()
            self.scaler = scaler
        if scaler is None:
            self.frames[self.count] = small_rgb(self.area, frame, *self.size)
            self.pending = self.count + 1
        else:
            scaler.add(self.count - self.pending, frame)
        self.times[self.count] = time_s
        self.count += 1
        if scaler is not None and self.count - self.pending == scaler.batch:
            self._convert()
        if self.count == len(self.times):
            self.flush()

    def _scaler(self, frame: av.VideoFrame) -> BoxScaler | None:
        return cached_scaler(self.scalers, frame, self.size, exact=False, batch=BOX_BATCH)

    def _convert(self) -> None:
        if self.scaler is not None and self.count > self.pending:
            self.scaler.rgb(self.count - self.pending, self.frames[self.pending : self.count])
        self.pending = self.count

    def flush(self) -> None:
        self._convert()
        if self.count:
            self.consumer(self.times[: self.count].copy(), self.frames[: self.count].copy())
        self.count = self.pending = 0


@dataclass(frozen=True)
class DecodeSettings:
    """How the pass decodes: detector frame size, statistics sampling, threads."""

    detector_size: tuple[int, int] | None = (48, 27)
    detector_resize: str = "area"  # or "box": see _ChunkBuffer
    stats_size: tuple[int, int] = (160, 90)
    stats_fps: float = 2.0
    black_luma: float = 24.0  # what counts as a dark pixel in the statistics (filters.black_luma)
    chunk_frames: int = 256
    threads: int = 0


class _Timeline:
    """Monotonic presentation times, inventing one where a frame has none (broken pts)."""

    def __init__(self, fallback_interval: float) -> None:
        self.interval = fallback_interval
        self.last: float | None = None

    def next(self, frame_time: float | None) -> float:
        if frame_time is None:
            frame_time = 0.0 if self.last is None else self.last + self.interval
        if self.last is not None and frame_time <= self.last:
            frame_time = self.last + 1e-6
        self.last = frame_time
        return frame_time


def decode_pass(
    path: str, settings: DecodeSettings, consumer: ChunkConsumer | None = None
) -> DecodeResult:
    """Decode every frame of `path` once; feed the detector, sample statistics.

    A packet that fails to decode is recorded (its time) and skipped, so a corrupt
    stretch leaves a hole in `frame_times` instead of stopping the pass.

    Raises:
        av.error.FFmpegError: the file cannot be opened or has no video stream.
    """
    stats = FrameStats(black_luma=settings.black_luma)
    times = array("d")  # 8 bytes per frame: 1.7 MB for two hours at 30 fps
    keyframes: list[float] = []
    errors: list[float] = []
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = settings.threads
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        timeline = _Timeline(1.0 / rate if rate > 0 else 1 / 30)
        buffer = (
            _ChunkBuffer(
                consumer, settings.detector_size, settings.chunk_frames, settings.detector_resize
            )
            if consumer is not None and settings.detector_size is not None
            else None
        )
        sampled = _StatsFrames(settings.stats_size, stats)
        next_sample = 0.0
        for packet in container.demux(stream):
            if packet.is_keyframe and packet.pts is not None and packet.time_base is not None:
                keyframes.append(float(packet.pts * packet.time_base))
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                errors.append(_packet_time(packet, timeline))
                continue
            for frame in frames:
                time_s = timeline.next(frame.time)
                times.append(time_s)
                if buffer is not None:
                    buffer.add(time_s, frame)
                if time_s >= next_sample:
                    sampled.add(time_s, frame)
                    next_sample = time_s + 1.0 / settings.stats_fps - 1e-6
        if buffer is not None:
            buffer.flush()
        sampled.flush()
    return DecodeResult(
        frame_times=np.asarray(times, dtype=np.float64),
        keyframe_times=sorted(keyframes),
        error_times=errors,
        stats=stats,
    )


def _packet_time(packet: av.Packet, timeline: _Timeline) -> float:
    if packet.pts is not None and packet.time_base is not None:
        return float(packet.pts * packet.time_base)
    return timeline.last if timeline.last is not None else 0.0
