"""Drawing receipt text as pixels, on the same column grid the printer's own font uses.

Used where the printer cannot print a line itself (no Chinese font configured, or a character
outside its 2-byte GB18030 font, such as 𠮷 in a name) and by the printer simulator to show what
was printed. Each character is centred in its grid cells, so raster lines and native lines align.
The font is Noto Sans CJK from Debian's fonts-noto-cjk, which covers all of GB18030 incl. its
4-byte characters; nothing is downloaded.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from drivers.text_layout import char_columns

FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
)
SC_FACE = 2  # Simplified Chinese face in the collection (JP, KR, SC, TC, HK)
CELL_W, CELL_H = 12, 24  # font A: 12×24 dots per half-width column
LINE_PITCH = 34  # a printer's default line spacing, 1/6 inch at 203 dpi; taller characters take more


class FontMissing(RuntimeError):
    """The CJK font is not installed; the message says which package to install."""


@lru_cache(maxsize=8)
def cjk_font(size_px: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    path = FONT_FILES[1 if bold else 0]
    if not path.exists():
        raise FontMissing(f"{path} is missing: install the Debian package fonts-noto-cjk")
    return ImageFont.truetype(str(path), size_px, index=SC_FACE)


def draw_line(canvas: ImageDraw.ImageDraw, x: int, y: int, text: str, scale_w: int = 1, scale_h: int = 1,
              bold: bool = False) -> None:
    """Draw `text` with its top-left corner at (x, y), one character per grid cell."""
    font = cjk_font(CELL_H * scale_h - 2 * scale_h, bold)
    for char in text:
        cell_w = CELL_W * scale_w * char_columns(char)
        if not char.isspace():
            glyph = _glyph(char, font, cell_w, CELL_H * scale_h)
            canvas.bitmap((x, y), glyph, fill=0)
        x += cell_w


def _glyph(char: str, font: ImageFont.FreeTypeFont, cell_w: int, cell_h: int) -> Image.Image:
    """The character as a 1-bit mask sized to its cell, scaled down if the font draws it wider."""
    left, _, right, _ = font.getbbox(char, anchor="ls")
    baseline = round(cell_h / 2 + font.size * 0.38)  # CJK glyphs sit from -0.12 em to 0.88 em
    mask = Image.new("L", (max(1, right - left), cell_h), 0)
    ImageDraw.Draw(mask).text((-left, baseline), char, font=font, fill=255, anchor="ls")
    if mask.width > cell_w:
        mask = mask.resize((cell_w, cell_h))
    cell = Image.new("L", (cell_w, cell_h), 0)
    cell.paste(mask, ((cell_w - mask.width) // 2, 0))
    return cell.point(lambda v: 255 if v >= 128 else 0, "1")


def render_line(text: str, width_dots: int, scale_w: int = 1, scale_h: int = 1, bold: bool = False,
                indent_dots: int = 0) -> Image.Image:
    """One printed line as a 1-bit image (black text on white), `width_dots` wide and as tall as the
    printer would advance for a text line."""
    image = Image.new("1", (width_dots, max(LINE_PITCH, CELL_H * scale_h)), 1)
    draw_line(ImageDraw.Draw(image), indent_dots, 0, text, scale_w, scale_h, bold)
    return image
