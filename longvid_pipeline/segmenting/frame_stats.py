"""Statistics of sampled frames: brightness, contrast, sharpness, colour histograms, and
the dark share and motion of luma thumbnails. They are the raw material of the clip
filter scores (black, static, quality) and of the similarity that merges neighbouring
spans; the frames, and the thumbnails, are never kept.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Levels per channel: 4x4x4 = 64-bin colour histograms of sampled frames. Fixed, because
# `assembly.similarity_threshold` is calibrated on these bins and `color_histogram` keeps
# its bin codes in uint8 (HIST_BINS**3 must stay <= 256).
HIST_BINS = 4
# Width, height of the luma thumbnails the black share and the motion score are computed
# on. Fixed, because `filters.black_pixel_share` and `filters.static_motion_scale` are
# calibrated on them, and 32x18 tiles the default 160x90 sampled frames exactly (5x5
# blocks); a different size is a different calibration, not a knob.
THUMB_SIZE = (32, 18)


@dataclass
class FrameStats:
    """Per sampled frame statistics, the raw material of filter scores and similarity.

    Sampled frames are taken at about `filters.sample_fps` from the same decode; they are small
    (`stats_size`) so the statistics cost nothing next to the decode itself.

    What is kept grows with duration, so it is kept small: ~300 bytes per sampled frame
    (six float values in typed arrays and a 64-bin float32 histogram), 2.2 MB per hour at
    2 samples/s. The luma thumbnails are summarized as soon as they are made — the share
    of dark pixels (under `black_luma`, `filters.black_luma`) and the mean change from the
    previous sample — instead of being kept (2.3 KB each: 17 MB per hour).
    """

    black_luma: float = 24.0
    times: array[float] = field(default_factory=lambda: array("d"))
    luma_mean: array[float] = field(default_factory=lambda: array("d"))
    luma_std: array[float] = field(default_factory=lambda: array("d"))
    sharpness: array[float] = field(default_factory=lambda: array("d"))
    dark_share: array[float] = field(default_factory=lambda: array("d"))
    # Mean |luma thumbnail change| from the previous sample (float32 as computed; 0 first).
    motion: array[float] = field(default_factory=lambda: array("f"))
    _histogram_batches: list[np.ndarray] = field(default_factory=list, repr=False)
    _histograms: np.ndarray | None = field(default=None, repr=False)
    _last_thumb: np.ndarray | None = field(default=None, repr=False)

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
        self._histogram_batches.append(color_histogram(rgbs))
        self._histograms = None
        for thumb in block_mean(luma, THUMB_SIZE):
            self.dark_share.append(float((thumb < self.black_luma).mean()))
            previous = self._last_thumb
            self.motion.append(0.0 if previous is None else np.abs(thumb - previous).mean())
            self._last_thumb = thumb

    @property
    def histograms(self) -> np.ndarray:
        """Colour histograms of every sample, [n, 64] float32."""
        if self._histograms is None:
            batches = self._histogram_batches
            self._histograms = (
                np.concatenate(batches) if batches else np.zeros((0, HIST_BINS**3), np.float32)
            )
            self._histogram_batches = [self._histograms]
        return self._histograms

    def __len__(self) -> int:
        return len(self.times)

    def nbytes(self) -> int:
        """Bytes held: the typed arrays and the histograms (what grows with duration)."""
        columns = (self.times, self.luma_mean, self.luma_std, self.sharpness, self.dark_share)
        return sum(c.itemsize * len(c) for c in (*columns, self.motion)) + sum(
            batch.nbytes for batch in self._histogram_batches
        )

    def indices(self, start_s: float, end_s: float) -> np.ndarray:
        """Indices of the sampled frames with start_s <= time < end_s (consecutive)."""
        times = np.asarray(self.times)
        return np.nonzero((times >= start_s) & (times < end_s))[0]

    def mean_histogram(self, start_s: float, end_s: float) -> np.ndarray | None:
        """Average colour histogram of a span, or None when no frame was sampled in it."""
        picked = self.indices(start_s, end_s)
        if len(picked) == 0:
            return None
        return self.histograms[picked].mean(axis=0)


def rgb_to_luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma in 0..255 as float32; channels last."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return rgb.astype(np.float32) @ weights


def laplacian_variance(luma: np.ndarray) -> np.ndarray:
    """Variance of the 4-neighbour Laplacian: the classic focus measure (blur lowers it).

    One value per image of a stack [n, h, w].
    """
    lap = (
        luma[..., 1:-1, :-2] + luma[..., 1:-1, 2:] + luma[..., :-2, 1:-1] + luma[..., 2:, 1:-1]
        - 4 * luma[..., 1:-1, 1:-1]
    )  # fmt: skip
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
