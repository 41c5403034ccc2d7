"""The simulated printer's paper: decoded commands laid out as a picture a person can look at.

Every cut finishes a `PrintedReceipt`: its PNG, the text of each printed line, the data of each
native QR code, and counts of raster images and of characters the printer could not have printed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw

from drivers.escpos_decoder import Op
from drivers.raster_text import CELL_H, LINE_PITCH, draw_line
from drivers.text_layout import columns

MARGIN = 16
QR_LEVELS = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M,
             50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}


@dataclass
class PrintedReceipt:
    lines: list[str] = field(default_factory=list)
    qr_codes: list[str] = field(default_factory=list)
    raster_images: int = 0
    unprintable_chars: int = 0  # 4-byte GB18030 codes a 2-byte font would misprint
    unknown_commands: list[bytes] = field(default_factory=list)
    png: Path | None = None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class Paper:
    def __init__(self, width_dots: int, out_dir: Path | None,
                 on_receipt: Callable[[PrintedReceipt], None] | None = None) -> None:
        self.width = width_dots
        self.out_dir = out_dir
        self.on_receipt = on_receipt
        self.receipts: list[PrintedReceipt] = []
        self.last_sheet: Image.Image | None = None  # the last cut receipt, as printed (1 = white)
        self._reset_style()
        self._start_receipt()

    def _reset_style(self) -> None:
        self.align = 0
        self.bold = False
        self.scale_w = self.scale_h = 1
        self.qr_module = 3
        self.qr_level = 48
        self.qr_data = b""

    def _start_receipt(self) -> None:
        self.receipt = PrintedReceipt()
        self._pieces: list[Image.Image] = []
        self._line: list[tuple[str, int, int, bool]] = []

    # -- commands ---------------------------------------------------------------------------------------
    def apply(self, op: Op) -> None:
        handler = getattr(self, f"_op_{op.name}", None)
        if handler is None:
            self.receipt.unknown_commands.append(op.args[0] if op.args else op.name.encode())
        else:
            handler(*op.args)

    def _op_init(self) -> None:
        self._reset_style()

    def _op_chinese_mode(self, on: bool) -> None:
        pass  # the decoder tracks it: it changes how text bytes read

    def _op_align(self, n: int) -> None:
        self.align = n % 48 if n >= 48 else n

    def _op_bold(self, n: int) -> None:
        self.bold = bool(n & 1)

    def _op_size(self, width: int, height: int) -> None:
        self.scale_w, self.scale_h = width, height

    def _op_text(self, text: str, unprintable: int) -> None:
        self.receipt.unprintable_chars += unprintable
        self._line.extend((char, self.scale_w, self.scale_h, self.bold) for char in text)

    def _op_line_feed(self) -> None:
        self._flush_line(empty_height=LINE_PITCH)

    def _op_feed(self, n: int) -> None:
        self._flush_line(empty_height=0)
        self._pieces.append(Image.new("1", (self.width, n * LINE_PITCH), 1))

    def _op_raster(self, width_bytes: int, height: int, data: bytes) -> None:
        self._flush_line(empty_height=0)
        image = Image.frombytes("1", (width_bytes * 8, height), bytes(b ^ 0xFF for b in data))  # 1 = black dot
        self._pieces.append(self._aligned(image))
        self.receipt.raster_images += 1

    def _op_qr_module(self, n: int) -> None:
        self.qr_module = n

    def _op_qr_error_level(self, n: int) -> None:
        self.qr_level = n

    def _op_qr_model(self, n: int) -> None:
        pass

    def _op_qr_store(self, data: bytes) -> None:
        self.qr_data = data

    def _op_qr_print(self) -> None:
        self._flush_line(empty_height=0)
        text = self.qr_data.decode("utf-8", "replace")
        self.receipt.qr_codes.append(text)
        code = qrcode.QRCode(box_size=self.qr_module, border=1, error_correction=QR_LEVELS.get(self.qr_level, 1))
        code.add_data(self.qr_data)
        self._pieces.append(self._aligned(code.make_image().get_image().convert("1")))

    def _op_cut(self, feed: int) -> None:
        self._flush_line(empty_height=0)
        self._finish()

    def _op_status_query(self, n: int) -> None:
        pass  # answered by the simulator, which owns the line

    _op_end_of_job_query = _op_status_query

    def _op_print_mode(self, n: int) -> None:
        self.bold = bool(n & 0x08)

    def _op_underline(self, n: int) -> None:
        pass

    _op_line_spacing = _op_font = _op_feed_dots = _op_code_table = _op_underline

    # -- layout -----------------------------------------------------------------------------------------
    def _flush_line(self, empty_height: int) -> None:
        line, self._line = self._line, []
        if not line:
            if empty_height:
                self._pieces.append(Image.new("1", (self.width, empty_height), 1))
            return
        text = "".join(c for c, *_ in line)
        self.receipt.lines.append(text.rstrip())
        text_height = max(h for _, _, h, _ in line) * CELL_H
        height = max(LINE_PITCH, text_height)
        image = Image.new("1", (self.width, height), 1)
        draw = ImageDraw.Draw(image)
        x = self._x_for(sum(columns(c) * 12 * w for c, w, _, _ in line))
        for char, w, h, bold in line:
            draw_line(draw, x, text_height - h * CELL_H, char, w, h, bold)  # on a common baseline
            x += columns(char) * 12 * w
        self._pieces.append(image)

    def _x_for(self, content_width: int) -> int:
        room = max(0, self.width - content_width)
        return {0: 0, 1: room // 2, 2: room}.get(self.align, 0)

    def _aligned(self, image: Image.Image) -> Image.Image:
        row = Image.new("1", (self.width, image.height), 1)
        row.paste(image.crop((0, 0, min(image.width, self.width), image.height)), (self._x_for(image.width), 0))
        return row

    def _finish(self) -> None:
        receipt = self.receipt
        self.last_sheet = Image.new("1", (self.width, max(1, sum(p.height for p in self._pieces))), 1)
        y = 0
        for piece in self._pieces:
            self.last_sheet.paste(piece, (0, y))
            y += piece.height
        if self.out_dir is not None:
            framed = Image.new("L", (self.width + 2 * MARGIN, self.last_sheet.height + 2 * MARGIN), 255)
            framed.paste(self.last_sheet.convert("L"), (MARGIN, MARGIN))
            ImageDraw.Draw(framed).line([(0, framed.height - 1), (framed.width, framed.height - 1)], fill=160)
            self.out_dir.mkdir(parents=True, exist_ok=True)
            receipt.png = self.out_dir / f"receipt-{len(self.receipts) + 1:04d}.png"
            framed.save(receipt.png)
        self.receipts.append(receipt)
        self._start_receipt()
        if self.on_receipt is not None:
            self.on_receipt(receipt)
