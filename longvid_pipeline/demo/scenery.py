"""Natural-looking still images for generated footage (`demo.footage`): what a camera films.

1/f noise (the power spectrum of natural images) mapped through a palette of a few
colours of one mood, shaded and grained, with soft-edged shapes on top for edges. The
noise is periodic, so a camera may pan across the image's edge without a seam in it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw


def _pink(rng: np.random.Generator, height: int, width: int, beta: float) -> np.ndarray:
    """Tileable noise with a 1/f^beta power spectrum (natural images: beta ~ 2), 0..1."""
    spectrum = np.fft.rfft2(rng.standard_normal((height, width)))
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fx * fx + fy * fy)
    radius[0, 0] = 1.0
    field_ = np.fft.irfft2(spectrum / radius ** (beta / 2), s=(height, width))
    low, high = np.percentile(field_, [1, 99])
    return np.clip((field_ - low) / (high - low + 1e-9), 0.0, 1.0).astype(np.float32)


def palette(rng: np.random.Generator) -> np.ndarray:
    """3-5 colours of one mood: a hue range, varied lightness."""
    hue = rng.uniform(0, 1)
    colours = []
    for _ in range(int(rng.integers(3, 6))):
        h = (hue + rng.uniform(-0.12, 0.12)) % 1.0
        s, v = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.95)
        colours.append(_hsv_to_rgb(h, s, v))
    return np.array(colours, dtype=np.float32)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    i, f = int(h * 6) % 6, h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return (rgb[0] * 255, rgb[1] * 255, rgb[2] * 255)


def scene_image(
    rng: np.random.Generator, height: int, width: int, palette: np.ndarray
) -> np.ndarray:
    """A natural-looking RGB image [height, width, 3] uint8 whose edges wrap around."""
    regions = _pink(rng, height, width, 2.2)
    stops = np.linspace(0.0, 1.0, len(palette))
    base = np.stack(
        [np.interp(regions, stops, palette[:, channel]) for channel in range(3)], axis=-1
    )
    shade = 0.65 + 0.7 * _pink(rng, height, width, 1.6)[..., None]
    grain = 40.0 * (_pink(rng, height, width, 0.6)[..., None] - 0.5)
    image = Image.fromarray(np.clip(base * shade + grain, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    size = min(height, width)
    for _ in range(int(rng.integers(12, 30))):
        colour = palette[rng.integers(len(palette))] * rng.uniform(0.5, 1.2)
        fill = tuple(int(c) for c in np.clip(colour, 0, 255))
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.03, 0.25) * size, rng.uniform(0.03, 0.25) * size
        box = (x, y, x + w, y + h)
        if rng.random() < 0.5:
            draw.ellipse(box, fill=fill)
        else:
            draw.rectangle(box, fill=fill, outline=(20, 20, 20))
    return np.asarray(image)
