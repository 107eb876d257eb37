"""The report's chart as a PNG, for e-mail: mail clients show PNG images, and most of them
neither SVG nor scripts. Plain Python draws the bars into a byte buffer and zlib packs the
image: the box loads no numpy (tests/unit/test_check.py), and a plotting library would be
tens of megabytes on a Pi for one bar chart.

The picture carries no words, only numbers (a small built-in digit font): each group of bars
is numbered 1, 2, 3... and the mail's table beside it names the groups in that order, in
Chinese, which a font-less renderer could not draw.
"""

from __future__ import annotations

import struct
import zlib
from typing import Sequence

Colour = tuple[int, int, int]

# 3x5 digits (and % . -), drawn SCALE times larger
_GLYPHS = {
    "0": ("111", "101", "101", "101", "111"), "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"), "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"), "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"), "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"), "9": ("111", "101", "111", "001", "111"),
    "%": ("101", "001", "010", "100", "101"), ".": ("000", "000", "000", "000", "010"),
    "-": ("000", "000", "111", "000", "000"),
}
SCALE = 2
WHITE = (255, 255, 255)
INK = (40, 40, 40)
GRID = (220, 220, 220)
# the series' colours: the previous period pale, this period strong
PREVIOUS = (189, 189, 189)
CURRENT = (68, 114, 196)


class Canvas:
    """An RGB picture in a bytearray, rows top to bottom."""

    def __init__(self, width: int, height: int, colour: Colour = WHITE) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(bytes(colour) * width) for _ in range(height)]

    def fill(self, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
        """The rectangle [x0, x1) x [y0, y1), clipped to the picture."""
        left, right = max(0, int(x0)), min(self.width, int(x1))
        top, bottom = max(0, int(y0)), min(self.height, int(y1))
        if left >= right:
            return
        run = bytes(colour) * (right - left)
        for y in range(top, bottom):
            self.rows[y][3 * left:3 * right] = run

    def text(self, x: float, y: float, text: str, colour: Colour = INK) -> None:
        """Digits at (x, y) (top left); characters without a glyph are a space."""
        for ch in text:
            glyph = _GLYPHS.get(ch)
            if glyph is not None:
                for row, bits in enumerate(glyph):
                    for col, bit in enumerate(bits):
                        if bit == "1":
                            self.fill(x + col * SCALE, y + row * SCALE,
                                      x + (col + 1) * SCALE, y + (row + 1) * SCALE, colour)
            x += 4 * SCALE

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)

        def chunk(tag: bytes, data: bytes) -> bytes:
            return (struct.pack(">I", len(data)) + tag + data +
                    struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
        return (b"\x89PNG\r\n\x1a\n" +
                chunk(b"IHDR", struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0,
                                           0)) +
                chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def text_width(text: str) -> int:
    return len(text) * 4 * SCALE


def bars(groups: Sequence[Sequence[float | None]], width: int = 640, height: int = 280,
         series: Sequence[Colour] = (PREVIOUS, CURRENT)) -> bytes:
    """A grouped bar chart: `groups` is a list of value tuples (one value per series, None
    for none), drawn left to right and numbered 1.. under each group; values above the
    bars. Returns PNG bytes."""
    pic = Canvas(width, height)
    left, right, top, bottom = 10, 10, 24, 26
    plot_h = height - top - bottom
    peak = max([v for g in groups for v in g if v is not None] + [1])
    base = height - bottom
    for k in range(1, 5):                        # light grid lines at quarters
        y = base - round(plot_h * k / 4)
        pic.fill(left, y, width - right, y + 1, GRID)
    n = max(1, len(groups))
    slot = (width - left - right) / n
    per = len(series)
    bar_w = max(3, int(slot * 0.7 / per))
    for i, values in enumerate(groups):
        x_group = left + slot * i + (slot - bar_w * per) / 2
        for j, value in enumerate(values):
            if value is None:
                continue
            h = round(plot_h * value / peak)
            x0 = int(x_group + j * bar_w)
            pic.fill(x0, base - h, x0 + bar_w - 1, base, series[j % len(series)])
            label = f"{value:g}"
            pic.text(x0 + (bar_w - text_width(label)) // 2, base - h - 6 * SCALE - 2, label)
        number = str(i + 1)
        pic.text(int(left + slot * i + (slot - text_width(number)) / 2), base + 6, number)
    pic.fill(left, base, width - right, base + 1, INK)
    return pic.png()
