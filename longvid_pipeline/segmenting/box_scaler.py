"""Small RGB frames straight from the decoder's yuv420p planes, by box averages in numpy.

libswscale's area scaler costs ~140 us per 640x360 frame through PyAV; the detector and
statistics frames of the decode pass come from here instead where the geometry allows
(swscale otherwise, through a reused context).
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

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
            # a VideoPlane is a buffer; av's stubs do not declare the buffer protocol
            data = np.frombuffer(plane, np.uint8)  # type: ignore[call-overload]
            target[index] = data.reshape(-1, plane.line_size)[rows, cols]

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


def cached_scaler(
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


def small_rgb(
    reformatter: VideoReformatter, frame: av.VideoFrame, width: int, height: int
) -> np.ndarray:
    """Scale with a reused swscale context (area averaging: no aliasing at tiny sizes)."""
    return reformatter.reformat(
        frame, width=width, height=height, format="rgb24", interpolation=Interpolation.AREA
    ).to_ndarray()
