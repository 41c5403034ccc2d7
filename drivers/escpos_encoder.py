"""Turning a receipt `Document` into the ESC/POS bytes a Chinese 58/80 mm thermal printer prints.

python-escpos writes the commands (style, native QR, raster images, cut) into its `Dummy` printer;
the text itself goes as GB18030 with Chinese mode switched on (`FS &`), because python-escpos's
code-page text encoder has no Chinese. Where the printer cannot print a line itself — it has no
Chinese font, or the line holds a 4-byte GB18030 character its 2-byte font lacks (𠮷 in a name) —
that line goes as a raster image of the same grid instead of turning into "?".

Sizes go as `GS !`, which Chinese printers apply to Chinese characters too (python-escpos's
`double_width` uses `ESC !`, which enlarges only ASCII there).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from escpos.constants import QR_ECLEVEL_M

from drivers.printer import Cut, Document, QrCode, Row, Separator, Text, Title
from drivers.raster_text import render_line
from drivers.text_layout import columns, key_value, wrap

if TYPE_CHECKING:
    from escpos.printer import Dummy

FS_CHINESE_ON = b"\x1c&"
# A python-escpos profile per paper width: it gives image() the width to check against. Cutting does
# not go by the profile (its 58 mm profiles have no cutter; kiosk printers do): `GS V 66 0` feeds
# the last line past the cutter and cuts.
PROFILES = {80: "TM-T20II", 58: "POS-5890"}
DOTS = {80: 576, 58: 384}
QR_MODULE_DOTS = {80: 6, 58: 5}
# Importing python-escpos's printers parses its capability table (pure-Python YAML: 0.33 s on a PC, a third of
# the booth's start-up before it was deferred), so it is loaded when idle after start, or by the first print.
LOAD_WHEN_IDLE_AFTER_S = 20.0


def load_escpos() -> type[Dummy]:
    from escpos.printer import Dummy

    return Dummy


def load_escpos_later(after_s: float = LOAD_WHEN_IDLE_AFTER_S) -> None:
    """Load python-escpos in the background once start-up is long over, so the first print need not."""
    timer = threading.Timer(after_s, load_escpos)
    timer.name, timer.daemon = "escpos-load", True
    timer.start()


@dataclass(frozen=True)
class EncoderSettings:
    paper_width_mm: int = 80
    chinese_font: bool = True  # the printer has a GB18030 font of its own
    native_qr: bool = True  # the printer draws QR codes itself (GS ( k)

    @property
    def dots(self) -> int:
        return DOTS[self.paper_width_mm]

    @property
    def columns(self) -> int:
        return self.dots // 12  # font A: 12 dots per half-width column


def natively_printable(line: str, chinese_font: bool) -> bool:
    """Whether the printer's own fonts have every character: ASCII always, and with a Chinese font
    every character GB18030 encodes in at most 2 bytes."""
    if line.isascii():
        return True
    return chinese_font and all(len(char.encode("gb18030")) <= 2 for char in line)


class ReceiptEncoder:
    def __init__(self, settings: EncoderSettings) -> None:
        self.settings = settings
        self.raster_lines = 0  # lines the last document needed as images (for logs and tests)

    def encode(self, document: Document) -> bytes:
        out = load_escpos()(profile=PROFILES[self.settings.paper_width_mm])
        out.hw("INIT")
        if self.settings.chinese_font:
            out._raw(FS_CHINESE_ON)
        self.raster_lines = 0
        for block in document.blocks:
            self._block(out, block)
        if not document.blocks or not isinstance(document.blocks[-1], Cut):
            out.cut(feed=False)
        return out.output

    def _block(self, out: Dummy, block: object) -> None:
        width = self.settings.columns
        match block:
            case Title(text):
                for line in wrap(text, width // 2):
                    self._line(out, line, scale=2, bold=True, center=True)
                out._raw(b"\n")
            case Text(text, bold, large):
                scale = 2 if large else 1
                for line in wrap(text, width // scale):
                    self._line(out, line, scale=scale, bold=bold)
            case Row(key, value):
                for line in key_value(key, value, width):
                    self._line(out, line)
            case Separator():
                self._line(out, "-" * width)
            case QrCode(data):
                self._qr(out, data)
            case Cut():
                out.cut(feed=False)
            case _:
                raise TypeError(f"not a document block: {block!r}")

    def _line(self, out: Dummy, line: str, scale: int = 1, bold: bool = False, center: bool = False) -> None:
        if not natively_printable(line, self.settings.chinese_font):
            self.raster_lines += 1
            indent = (self.settings.dots - columns(line) * 12 * scale) // 2 if center else 0
            out.image(render_line(line, self.settings.dots, scale, scale, bold, indent_dots=indent))
            return
        if scale != 1:
            out.set(custom_size=True, width=scale, height=scale)
        if bold:
            out.set(bold=True)
        if center:
            out.set(align="center")
        out._raw(line.encode("gb18030") + b"\n")
        if center:
            out.set(align="left")
        if bold:
            out.set(bold=False)
        if scale != 1:
            out.set(custom_size=True, width=1, height=1)

    def _qr(self, out: Dummy, data: str) -> None:
        size = QR_MODULE_DOTS[self.settings.paper_width_mm]
        if self.settings.native_qr:
            out.set(align="center")
            out.qr(data, ec=QR_ECLEVEL_M, size=size, native=True)
            out._raw(b"\n")
            out.set(align="left")
        else:
            out.qr(data, ec=QR_ECLEVEL_M, size=size, native=False, center=True)
