"""NIAH accuracy heatmaps as PNG: haystack length across, needle depth down (like LongVA's).

Drawn with Pillow (already a dependency) so reports need no plotting library: one cell
per (length, depth), coloured red (0) through yellow to green (1), its accuracy written
in it; an empty cell (no sample) is grey.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CELL_W, CELL_H = 56, 30
LEFT, TOP, BOTTOM, RIGHT = 64, 34, 44, 12
STOPS = ((0.0, (215, 48, 39)), (0.5, (254, 224, 139)), (1.0, (26, 152, 80)))


def color(value: float) -> tuple[int, int, int]:
    """Red-yellow-green for a value in [0, 1] (clamped)."""
    value = min(max(value, 0.0), 1.0)
    for (low, low_rgb), (high, high_rgb) in zip(STOPS, STOPS[1:], strict=False):
        if value <= high:
            share = (value - low) / (high - low)
            return tuple(round(a + (b - a) * share) for a, b in zip(low_rgb, high_rgb, strict=True))  # type: ignore[return-value]
    return STOPS[-1][1]


def draw_heatmap(cells: dict[tuple[int, int], float], title: str, path: Path) -> Path:
    """Write a heatmap of accuracy per (length in frames, depth in percent) to `path`."""
    lengths = sorted({length for length, _ in cells})
    depths = sorted({depth for _, depth in cells})
    width = LEFT + CELL_W * len(lengths) + RIGHT
    height = TOP + CELL_H * len(depths) + BOTTOM
    image = Image.new("RGB", (max(width, 240), height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((8, 8), title, fill="black", font=font)
    for row, depth in enumerate(depths):
        y = TOP + row * CELL_H
        draw.text((8, y + CELL_H // 2 - 6), f"{depth}%", fill="black", font=font)
        for column, length in enumerate(lengths):
            x = LEFT + column * CELL_W
            value = cells.get((length, depth))
            fill = (200, 200, 200) if value is None else color(value)
            draw.rectangle([x, y, x + CELL_W - 1, y + CELL_H - 1], fill=fill, outline="white")
            label = "-" if value is None else f"{value:.2f}"
            draw.text((x + 12, y + CELL_H // 2 - 6), label, fill="black", font=font)
    axis_y = TOP + CELL_H * len(depths) + 4
    for column, length in enumerate(lengths):
        draw.text((LEFT + column * CELL_W + 8, axis_y), str(length), fill="black", font=font)
    draw.text(
        (LEFT, axis_y + 18),
        "haystack length (frames) across, needle depth down",
        fill="black",
        font=font,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
