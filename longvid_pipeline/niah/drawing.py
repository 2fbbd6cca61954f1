"""Drawing needles with PIL: the card, its shapes and word, and the clue box.

A needle frame is a light card with a dark border. One band (top or bottom, as the recipe
says) holds the clue box: black text on white, wrapped to at most `max_lines` lines;
final needles leave the band empty. The rest shows the needle's content: a synthetic
card's shapes and word, or a user image letterboxed. `clue_box` draws the box alone, so
a check can render the clue text a row records and compare pixels with a decoded frame
(no OCR). Text uses Pillow's built-in scalable font, so every machine draws it the same.
"""

from __future__ import annotations

import functools
import io
import math
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from longvid_pipeline.niah.chains import SampleError
from longvid_pipeline.niah.synthetic import COLOURS, Card

CARD = (236, 234, 224)
BORDER = (45, 45, 70)
INK = (20, 20, 20)
PAPER = (255, 255, 255)
Box = tuple[int, int, int, int]  # x, y, width, height


class ClueTooLong(SampleError):
    """The clue text does not fit the band in `max_lines` lines."""

    def __init__(self, detail: str) -> None:
        super().__init__("clue_too_long", detail)


@functools.lru_cache(maxsize=16)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class Layout:
    """Where the clue band and the content go on a width x height needle."""

    width: int
    height: int
    position: str  # top | bottom
    font_size: int
    padding: int
    max_lines: int

    @property
    def border(self) -> int:
        return max(3, min(self.width, self.height) // 60)

    @property
    def line_height(self) -> int:
        return math.ceil(self.font_size * 1.25)

    @property
    def band(self) -> Box:
        """The clue box: full width inside the border, `max_lines` lines high."""
        height = 2 * self.padding + self.max_lines * self.line_height
        y = self.border if self.position == "top" else self.height - self.border - height
        return (self.border, y, self.width - 2 * self.border, height)

    @property
    def content(self) -> Box:
        x, y, width, height = self.band
        top = y + height if self.position == "top" else self.border
        bottom = self.height - self.border if self.position == "top" else y
        return (x, top, width, bottom - top)


def wrap(text: str, width: int, size: int) -> list[str]:
    """Greedy word wrap of `text` to lines at most `width` pixels wide."""
    face, lines, line = font(size), [], ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and face.getlength(candidate) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


def clue_box(text: str, layout: Layout) -> Image.Image:
    """The clue box exactly as it is drawn onto a needle (white box, black text).

    Raises:
        ClueTooLong: the text needs more than `max_lines` lines.
    """
    _, _, width, height = layout.band
    lines = wrap(text, width - 2 * layout.padding, layout.font_size)
    if len(lines) > layout.max_lines:
        raise ClueTooLong(
            f"clue needs {len(lines)} lines, the band holds {layout.max_lines}: {text!r}"
        )
    box = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(box)
    for number, line in enumerate(lines):
        y = layout.padding + number * layout.line_height
        draw.text((layout.padding, y), line, fill=INK, font=font(layout.font_size))
    return box


def compose(content: Image.Image, clue_text: str | None, layout: Layout) -> Image.Image:
    """A whole needle frame: card, border, content, and the clue box when there is a clue."""
    card = Image.new("RGB", (layout.width, layout.height), CARD)
    draw = ImageDraw.Draw(card)
    draw.rectangle((0, 0, layout.width - 1, layout.height - 1), outline=BORDER, width=layout.border)
    x, y, _, _ = layout.content
    card.paste(content, (x, y))
    if clue_text is not None:
        bx, by, _, _ = layout.band
        card.paste(clue_box(clue_text, layout), (bx, by))
    return card


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def letterbox(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`image` scaled to fit `size` (aspect kept), centred on the card colour."""
    canvas = Image.new("RGB", size, CARD)
    scale = min(size[0] / image.width, size[1] / image.height)
    fitted = image.convert("RGB").resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.LANCZOS,
    )
    canvas.paste(fitted, ((size[0] - fitted.width) // 2, (size[1] - fitted.height) // 2))
    return canvas


def _polygon(shape: str, cx: float, cy: float, radius: float) -> list[tuple[float, float]]:
    """Vertices of a point-up regular shape (a star alternates two radii)."""
    if shape == "star":
        return [
            (
                cx + radius * (1.0 if i % 2 == 0 else 0.45) * math.cos(math.radians(-90 + 36 * i)),
                cy + radius * (1.0 if i % 2 == 0 else 0.45) * math.sin(math.radians(-90 + 36 * i)),
            )
            for i in range(10)
        ]
    sides, start, squash = {
        "triangle": (3, -90, 1.0),
        "square": (4, -45, 1.0),
        "diamond": (4, -90, 0.75),
        "pentagon": (5, -90, 1.0),
        "hexagon": (6, -90, 1.0),
    }[shape]
    return [
        (
            cx + squash * radius * math.cos(math.radians(start + 360 * i / sides)),
            cy + radius * math.sin(math.radians(start + 360 * i / sides)),
        )
        for i in range(sides)
    ]


def draw_card(card: Card, size: tuple[int, int]) -> Image.Image:
    """The content area of a synthetic needle: shapes above, the word in a strip below."""
    width, height = size
    image = Image.new("RGB", size, CARD)
    draw = ImageDraw.Draw(image)
    zone_height = round(height * 0.72)
    column = width / 3
    left = {"left": 0, "middle": 1, "right": 2}[card.position] * column
    rows = 1 if card.count <= 3 else 2
    per_row = math.ceil(card.count / rows)
    cell = min(column / per_row, zone_height / rows)
    radius = cell * 0.4
    colour = COLOURS[card.colour]
    for index in range(card.count):
        row, slot = divmod(index, per_row)
        in_row = min(per_row, card.count - row * per_row)
        cx = left + column / 2 + (slot - (in_row - 1) / 2) * cell
        cy = zone_height / 2 + (row - (rows - 1) / 2) * cell
        if card.shape == "circle":
            bounds = (cx - radius, cy - radius, cx + radius, cy + radius)
            draw.ellipse(bounds, fill=colour, outline=INK, width=2)
        else:
            draw.polygon(_polygon(card.shape, cx, cy, radius), fill=colour, outline=INK, width=2)
    word_size = max(8, round((height - zone_height) * 0.7))
    draw.text(
        (width / 2, zone_height + (height - zone_height) / 2),
        card.word,
        fill=INK,
        font=font(word_size),
        anchor="mm",
    )
    return image
