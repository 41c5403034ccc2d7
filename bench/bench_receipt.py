"""Bytes and transfer time at 115200 baud of the standard receipt (a title, 10 lines of Chinese, a
QR code): native GB18030 text + native QR as our encoder writes it, against the baseline in the
same run — the same receipt as one raster image sent with python-escpos's `image()`, which is what
a driver without Chinese text support does. The raster picture is the receipt exactly as the
printer simulator draws our native bytes, so both sides print the same thing.

Goal: at least 100× fewer bytes, and the native receipt under 1 KB.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from escpos.printer import Dummy
from PIL import Image

from drivers.escpos_decoder import EscposDecoder
from drivers.escpos_encoder import PROFILES, EncoderSettings, ReceiptEncoder
from drivers.printer import Document
from drivers.printer_paper import Paper

BAUD = 115_200
BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit
LINES = [
    "请携带本人居民身份证原件及复印件一份。",
    "户口簿原件（户主页及本人页）。",
    "近期免冠彩色证件照片两张，白色背景。",
    "办理地点：市民中心一楼综合受理窗口。",
    "工作日上午九点至下午五点，法定节假日除外。",
    "承诺时限为二十个工作日，办结后短信通知。",
    "可选择窗口领取或邮寄送达，邮费自理。",
    "如材料不全，窗口将一次性告知需补正内容。",
    "咨询电话：政务服务便民热线一二三四五。",
    "凭本受理编号可在网上查询办件进度。",
]
CASE_REF = "01JD5X3K7Q8M2N4P6R8T0V2W4Y"


def standard_receipt() -> Document:
    doc = Document().title("受理回执")
    for line in LINES:
        doc.text(line)
    return doc.qr(CASE_REF)


def drawn(data: bytes, dots: int) -> Image.Image:
    """The receipt as the printer simulator prints these bytes."""
    decoder, paper = EscposDecoder(), Paper(dots, out_dir=None)
    decoder.feed(data)
    while (op := decoder.next_op()) is not None:
        paper.apply(op)
    return paper.last_sheet


def timed(work, repeats: int = 20) -> tuple[bytes, float]:
    start = time.perf_counter()
    for _ in range(repeats):
        result = work()
    return result, (time.perf_counter() - start) / repeats


def compare(paper_width_mm: int) -> None:
    settings = EncoderSettings(paper_width_mm, chinese_font=True, native_qr=True)
    encoder = ReceiptEncoder(settings)
    native, native_s = timed(lambda: encoder.encode(standard_receipt()))
    picture = drawn(native, settings.dots)

    def raster() -> bytes:
        printer = Dummy(profile=PROFILES[paper_width_mm])
        printer.image(picture)
        printer.cut()
        return printer.output

    baseline, raster_s = timed(raster)
    wire = lambda size: size * BITS_PER_BYTE / BAUD  # noqa: E731
    print(f"{paper_width_mm} mm paper: picture {picture.size[0]}×{picture.size[1]} dots")
    print(f"  {'':42} {'bytes':>8} {'on the wire':>12} {'encode':>9}")
    print(f"  {'native GB18030 text + native QR (ours)':42} {len(native):>8,} {wire(len(native)) * 1000:>9.0f} ms "
          f"{native_s * 1000:>6.1f} ms")
    print(f"  {'baseline: one raster image with python-escpos':42} {len(baseline):>8,} "
          f"{wire(len(baseline)) * 1000:>9.0f} ms {raster_s * 1000:>6.1f} ms")
    ratio = len(baseline) / len(native)
    print(f"  native is {ratio:.0f}× fewer bytes (goal ≥ 100×: {'met' if ratio >= 100 else 'NOT met'}); "
          f"native under 1 KB: {'yes' if len(native) < 1024 else 'NO'}")


def main() -> None:
    print(f"standard receipt: a title, {len(LINES)} lines of Chinese ({min(map(len, LINES))}–{max(map(len, LINES))} "
          f"characters), a QR code; {BAUD} baud 8N1, line pitch 1/6 inch at 203 dpi")
    for width in (80, 58):
        compare(width)


if __name__ == "__main__":
    main()
