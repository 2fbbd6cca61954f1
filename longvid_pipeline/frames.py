"""The decode-once pass: one PyAV decode of a video yields everything segmentation needs.

Which frames leave this pass, and which do not (issue 3, point 3): the pass yields the
shot detector's small frames (every decoded frame, streamed in chunks to the detector),
the filter statistics (sampled at `stats_fps`) and the decode health (holes, decode
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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

# Receives (times_s [n], rgb frames [n, height, width, 3] uint8) for consecutive frames.
ChunkConsumer = Callable[[np.ndarray, np.ndarray], None]

HIST_BINS = 4  # per channel: 4x4x4 = 64-bin colour histograms of sampled frames
THUMB_SIZE = (32, 18)  # width, height of the luma thumbnails the motion score compares


@dataclass
class FrameStats:
    """Per sampled frame statistics, the raw material of filter scores and similarity.

    Sampled frames are taken at about `stats_fps` from the same decode; they are small
    (`stats_size`) so the statistics cost nothing next to the decode itself.
    """

    times: list[float] = field(default_factory=list)
    luma_mean: list[float] = field(default_factory=list)
    luma_std: list[float] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)
    histograms: list[np.ndarray] = field(default_factory=list)
    thumbs: list[np.ndarray] = field(default_factory=list)

    def add(self, time_s: float, rgb: np.ndarray) -> None:
        """Summarize one sampled frame; the frame itself is not kept."""
        self.add_batch([time_s], rgb[None])

    def add_batch(self, times: Sequence[float], rgbs: np.ndarray) -> None:
        """Summarize sampled frames [n, height, width, 3] at once (vectorized)."""
        count = len(rgbs)
        luma = rgb_to_luma(rgbs)
        flat = luma.reshape(count, -1)
        self.times.extend(float(t) for t in times)
        self.luma_mean.extend(float(v) for v in flat.mean(axis=1))
        self.luma_std.extend(float(v) for v in flat.std(axis=1))
        self.sharpness.extend(float(v) for v in laplacian_variance(luma))
        self.histograms.extend(color_histogram(rgbs))
        self.thumbs.extend(block_mean(luma, THUMB_SIZE))

    def indices(self, start_s: float, end_s: float) -> np.ndarray:
        """Indices of the sampled frames with start_s <= time < end_s."""
        times = np.asarray(self.times)
        return np.nonzero((times >= start_s) & (times < end_s))[0]

    def mean_histogram(self, start_s: float, end_s: float) -> np.ndarray | None:
        """Average colour histogram of a span, or None when no frame was sampled in it."""
        picked = self.indices(start_s, end_s)
        if len(picked) == 0:
            return None
        return np.mean([self.histograms[i] for i in picked], axis=0)


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


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma in 0..255 as float32; channels last."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return rgb.astype(np.float32) @ weights


def laplacian_variance(luma: np.ndarray) -> np.ndarray | float:
    """Variance of the 4-neighbour Laplacian: the classic focus measure (blur lowers it).

    One value for an image [h, w], one per image for a stack [n, h, w].
    """
    lap = (
        luma[..., 1:-1, :-2] + luma[..., 1:-1, 2:] + luma[..., :-2, 1:-1] + luma[..., 2:, 1:-1]
        - 4 * luma[..., 1:-1, 1:-1]
    )  # fmt: skip
    if lap.ndim == 2:
        return float(lap.var())
    return lap.reshape(len(lap), -1).var(axis=1)


def color_histogram(rgb: np.ndarray) -> np.ndarray:
    """Normalized 64-bin RGB histogram (4 levels per channel); [n, 64] for a stack."""
    levels = rgb // (256 // HIST_BINS)  # stays uint8: codes < 64; int32 math cost 2x
    codes = (levels[..., 0] * HIST_BINS + levels[..., 1]) * HIST_BINS + levels[..., 2]
    bins = HIST_BINS**3
    if rgb.ndim == 3:
        counts = np.bincount(codes.ravel(), minlength=bins).astype(np.float32)
        return counts / max(1.0, float(counts.sum()))
    offsets = (np.arange(len(rgb)) * bins)[:, None]
    flat = codes.reshape(len(rgb), -1) + offsets
    counts = np.bincount(flat.ravel(), minlength=bins * len(rgb)).astype(np.float32)
    counts = counts.reshape(len(rgb), bins)
    return counts / np.maximum(1.0, counts.sum(axis=1, keepdims=True))


def block_mean(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale a 2-D image (or a stack of them) to (width, height) by averaging blocks
    (crops the remainder)."""
    width, height = size
    rows, cols = image.shape[-2] // height, image.shape[-1] // width
    cropped = image[..., : rows * height, : cols * width]
    blocks = cropped.reshape(*image.shape[:-2], height, rows, width, cols)
    return blocks.mean(axis=(-3, -1))


# Pixel formats the numpy box scaler reads directly (8-bit planar 4:2:0).
BOX_FORMATS = {"yuv420p": False, "yuvj420p": True}  # name -> full (JPEG) range
BOX_BATCH = 32


def _rows_per_box(factor: int, target: int) -> int:
    """Smallest divisor of `factor` that is >= min(target, factor): rows sampled per box."""
    return next(r for r in range(min(target, factor), factor + 1) if factor % r == 0)


class BoxScaler:
    """Small RGB frames from yuv420p planes by box averages in numpy, batched.

    libswscale's area scaler costs ~140 us per 640x360 frame through PyAV (as much as
    decoding a flat frame); this ~40 us. Each output pixel averages a box of the centred
    crop that an even integer factor covers (640x360 to 48x27: 12x12 boxes over the
    middle 90% of each axis), reading every column but only `luma_rows` evenly spaced
    rows of each box (`chroma_rows` of its chroma box). The content detector's default
    reads 4 and 2: 48 luma and 12 chroma samples per output pixel, plenty to average
    grain away. With every row and a factor that tiles the frame exactly (640x360 to
    160x90) it is swscale's area average. YUV -> RGB is BT.601 (limited range, or full
    range for yuvj420p / JPEG-range frames) like swscale's default.
    """

    def __init__(
        self,
        size: tuple[int, int],
        frame_size: tuple[int, int],
        full_range: bool,
        *,
        luma_rows: int = 4,
        chroma_rows: int = 2,
        batch: int = 32,  # frames per conversion: ~2 MB of samples at 640x360
    ) -> None:
        width, height = size
        self.size, self.full_range, self.batch = size, full_range, batch
        fy, fx = self.factors(frame_size, size)
        y0, x0 = ((frame_size[1] - height * fy) // 2) & ~1, ((frame_size[0] - width * fx) // 2) & ~1
        self.planes = []  # (rows slice, columns slice, rows per box, box width)
        luma = (fy, fx, y0, x0, luma_rows)
        chroma = (fy // 2, fx // 2, y0 // 2, x0 // 2, chroma_rows)
        for sy, sx, oy, ox, target in (luma, chroma, chroma):
            rows = _rows_per_box(sy, target)
            step = sy // rows
            self.planes.append(
                (
                    slice(oy + step // 2, oy + height * sy, step),
                    slice(ox, ox + width * sx),
                    rows,
                    sx,
                )
            )
        self.samples = [
            np.empty((batch, height * rows, width * box), dtype=np.uint8)
            for _, _, rows, box in self.planes
        ]

    @staticmethod
    def factors(frame_size: tuple[int, int], size: tuple[int, int]) -> tuple[int, int]:
        """Even box (height, width) in frame pixels: the largest that fit."""
        return (frame_size[1] // size[1]) & ~1, (frame_size[0] // size[0]) & ~1

    @staticmethod
    def fits(
        format_name: str, frame_size: tuple[int, int], size: tuple[int, int], exact: bool = False
    ) -> bool:
        """True when the numpy path reads this frame: 8-bit 4:2:0, at least twice the size
        (and, when `exact`, tiled by the boxes without a crop)."""
        if (
            format_name not in BOX_FORMATS
            or frame_size[0] < 2 * size[0]
            or frame_size[1] < 2 * size[1]
        ):
            return False
        fy, fx = BoxScaler.factors(frame_size, size)
        return not exact or (fx * size[0], fy * size[1]) == tuple(frame_size)

    def add(self, index: int, frame: av.VideoFrame) -> None:
        """Copy the sampled rows of the frame's three planes into slot `index`."""
        for plane, target, (rows, cols, _, _) in zip(
            frame.planes, self.samples, self.planes, strict=True
        ):
            target[index] = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[rows, cols]

    def rgb(self, count: int, out: np.ndarray) -> None:
        """Box means of the first `count` slots, converted to RGB into `out[:count]`."""
        width, height = self.size
        means = []
        for samples, (_, _, rows, box) in zip(self.samples, self.planes, strict=True):
            wide = np.uint16 if rows * box * 255 < 2**16 else np.uint32
            picked = samples[:count].reshape(count, height, rows, width * box)
            columns = picked.sum(axis=2, dtype=wide).reshape(count, height, width, box)
            # Strided adds: numpy's reduction over a short last axis is 3x slower.
            total = columns[..., 0].copy()
            for column in range(1, box):
                total += columns[..., column]
            means.append(total * np.float32(1.0 / (rows * box)))
        luma, cb, cr = means
        if self.full_range:
            luma, cb, cr = luma, cb - 128.0, cr - 128.0
        else:
            luma, cb, cr = (
                (luma - 16.0) * (255 / 219),
                (cb - 128.0) * (255 / 224),
                (cr - 128.0) * (255 / 224),
            )
        rgb = np.stack(
            [luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb], axis=-1
        )
        np.clip(rgb + 0.5, 0, 255, out=rgb)
        out[:count] = rgb


def _cached_scaler(
    cache: dict[Any, BoxScaler | None],
    frame: av.VideoFrame,
    size: tuple[int, int],
    exact: bool,
    **options: int,
) -> BoxScaler | None:
    """The box scaler for this frame's geometry (built once), or None: use swscale."""
    key = (frame.format.name, frame.width, frame.height, frame.color_range)
    if key not in cache:
        name, width, height, color_range = key
        fits = BoxScaler.fits(name, (width, height), size, exact)
        full_range = BOX_FORMATS.get(name, False) or color_range == 2  # 2: AVCOL_RANGE_JPEG
        cache[key] = BoxScaler(size, (width, height), full_range, **options) if fits else None
    return cache[key]


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
        scaler = _cached_scaler(self.scalers, frame, self.size, True, **every_row)
        if scaler is not self.scaler:
            self.flush()
            self.scaler = scaler
        if scaler is None:
            self.out[len(self.times)] = _small_rgb(self.area, frame, *self.size)
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
            self.frames[self.count] = _small_rgb(self.area, frame, *self.size)
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
        return _cached_scaler(self.scalers, frame, self.size, exact=False, batch=BOX_BATCH)

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
    stats = FrameStats()
    times: list[float] = []
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


def _small_rgb(
    reformatter: VideoReformatter, frame: av.VideoFrame, width: int, height: int
) -> np.ndarray:
    """Scale with a reused swscale context (area averaging: no aliasing at tiny sizes)."""
    return reformatter.reformat(
        frame, width=width, height=height, format="rgb24", interpolation=Interpolation.AREA
    ).to_ndarray()


def _packet_time(packet: av.Packet, timeline: _Timeline) -> float:
    if packet.pts is not None and packet.time_base is not None:
        return float(packet.pts * packet.time_base)
    return timeline.last if timeline.last is not None else 0.0


@dataclass(frozen=True)
class TimeSpan:
    """A stretch of the timeline; `reason` says why a missing one has no usable video."""

    start_s: float
    end_s: float
    reason: str = ""
    decode_errors: int = 0


def decodable_stretches(
    result: DecodeResult, duration_s: float, hole_s: float
) -> tuple[list[TimeSpan], list[TimeSpan]]:
    """Split the timeline into stretches with video and missing spans without it.

    A gap between decoded frames longer than max(hole_s, 3 frames) is missing video:
    `corrupt_span` when packets failed to decode in or next to it, `no_video_span`
    otherwise (audio-only lead-in or tail, a stream that starts late). Shorter gaps
    (variable frame rate holding a frame) stay inside their stretch.
    """
    times, interval = result.frame_times, result.frame_interval
    limit = max(hole_s, 3 * interval)
    first = 0.0 if times[0] <= limit else float(times[0])
    last_end = float(times[-1]) + interval
    end = duration_s if abs(duration_s - last_end) <= limit else last_end
    edges = [first]
    missing = [] if first == 0.0 else [_missing(0.0, first, result.error_times, limit)]
    for index in np.nonzero(np.diff(times) > limit)[0]:
        hole = _missing(
            float(times[index]) + interval, float(times[index + 1]), result.error_times, limit
        )
        missing.append(hole)
        edges += [hole.start_s, hole.end_s]
    edges.append(end)
    if duration_s - end > limit:
        missing.append(_missing(end, duration_s, result.error_times, limit))
    stretches = [TimeSpan(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b > a]
    return stretches, sorted(missing, key=lambda span: span.start_s)


def _missing(start_s: float, end_s: float, error_times: list[float], margin_s: float) -> TimeSpan:
    errors = sum(1 for t in error_times if start_s - margin_s <= t <= end_s + margin_s)
    reason = "corrupt_span" if errors else "no_video_span"
    return TimeSpan(start_s, end_s, reason, errors)
