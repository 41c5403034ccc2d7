"""The ESC/POS printer driver against the printer simulator over real pseudo-terminals and TCP.

The simulator's decoder reads the driver's bytes independently; the receipt's PNG is read back with
zxing-cpp to check the QR code a citizen would scan.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from drivers.escpos_encoder import EncoderSettings, ReceiptEncoder
from drivers.health import OK, Health, HealthState
from drivers.printer import Document, PrintError
from drivers.printer_escpos import EscposPrinter
from drivers.printer_pty_sim import PtyPrinterSimulator
from drivers.text_layout import columns
from tests.support import wait_until

CASE_REF = "01JD5X3K7Q8M2N4P6R8T0V2W4Y"


def receipt_document(name: str = "欧**娜") -> Document:
    return (Document().title("受理回执").row("事项", "居民身份证到期换领（有效期满换领）")
            .row("申请人", name).row("证件号码", "3702**********1234").row("受理编号", CASE_REF)
            .row("承诺时限", "20 个工作日").separator()
            .text("请于办结后凭本回执和身份证原件到出入境与户政综合窗口领取新证，或选择邮寄送达，邮费由申请人自理。")
            .qr(CASE_REF).text("凭受理编号查询办件进度 · 12345"))


class Bench:
    """A printer simulator and the driver opened on it, torn down together."""

    def __init__(self, tmp: Path, transport: str = "serial", **settings) -> None:
        width = settings.get("paper_width_mm", 80)
        self.sim = PtyPrinterSimulator(tmp / "ttyPRINTER", tmp / "receipts", width, tcp_port=0).start()
        url = {"serial": str(self.sim.port), "tcp": f"socket://127.0.0.1:{self.sim.tcp_port}",
               "usb": f"lp://{self.sim.port}"}[transport]
        self.printer = EscposPrinter(url, 115200, ReceiptEncoder(EncoderSettings(**settings)), poll_s=0.2)
        self.printer.open()
        self.wait_for(OK)

    def wait_for(self, health: Health) -> None:
        wait_until(lambda: self.printer.health() == health, timeout=5)

    def close(self) -> None:
        self.printer.close()
        self.sim.stop()


@pytest.fixture
def bench(tmp_path: Path):
    made: list[Bench] = []

    def make(transport: str = "serial", **settings) -> Bench:
        made.append(Bench(tmp_path / f"b{len(made)}", transport, **settings))
        return made[-1]

    yield make
    for b in made:
        b.close()


def qr_in_png(path: Path) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(Image.open(path))]


@pytest.mark.parametrize("transport", ["serial", "tcp", "usb"])
def test_a_receipt_is_printed_and_reads_back_as_text_and_qr(bench, transport: str) -> None:
    b = bench(transport)
    b.printer.print(receipt_document())
    receipt = b.sim.receipts[-1]
    assert receipt.lines[0].strip() == "受理回执"
    assert "申请人" in receipt.lines[2] and receipt.lines[2].endswith("欧**娜") and columns(receipt.lines[2]) == 48
    assert receipt.lines[4] == "受理编号" + " " * (48 - 8 - 26) + CASE_REF
    assert receipt.qr_codes == [CASE_REF]
    assert (receipt.raster_images, receipt.unprintable_chars, receipt.unknown_commands) == (0, 0, [])
    assert qr_in_png(receipt.png) == [CASE_REF], "the QR drawn on the paper must scan"
    assert b.sim.bytes_received < 1024 + 4 * 40, "a native receipt stays small"


@pytest.mark.parametrize("width, cols", [(80, 48), (58, 32)])
def test_lines_fit_the_paper_in_display_columns(bench, width: int, cols: int) -> None:
    b = bench(paper_width_mm=width)
    b.printer.print(receipt_document())
    lines = b.sim.receipts[-1].lines
    assert all(columns(line) <= cols for line in lines), [(columns(line), line) for line in lines]
    paragraph = "请于办结后凭本回执和身份证原件到出入境与户政综合窗口领取新证，或选择邮寄送达，邮费由申请人自理。"
    assert paragraph in "".join(lines), "wrapped without losing or cutting a character"
    assert not any(line.startswith(("，", "。")) for line in lines), "no line opens with closing punctuation"
    assert Image.open(b.sim.receipts[-1].png).width == {80: 576, 58: 384}[width] + 32


def test_a_four_byte_character_goes_as_a_raster_line_not_a_question_mark(bench) -> None:
    b = bench()
    b.printer.print(receipt_document(name="欧**𠮷"))
    receipt = b.sim.receipts[-1]
    assert receipt.unprintable_chars == 0, "no 4-byte GB18030 code may reach a 2-byte printer font"
    assert receipt.raster_images == 1 and not any(line.startswith("申请人") for line in receipt.lines)
    assert "?" not in receipt.text and "\ufffd" not in receipt.text
    assert receipt.qr_codes == [CASE_REF]


def test_a_printer_without_chinese_font_gets_raster_and_a_raster_qr_fallback(bench) -> None:
    b = bench(chinese_font=False, native_qr=False)
    b.printer.print(receipt_document())
    receipt = b.sim.receipts[-1]
    assert all(line.isascii() for line in receipt.lines), "no Chinese text bytes to a printer without the font"
    assert receipt.qr_codes == [] and receipt.raster_images >= 10 and receipt.unknown_commands == []
    assert qr_in_png(receipt.png) == [CASE_REF]


def test_control_characters_in_text_do_not_become_commands(bench) -> None:
    b = bench()
    b.printer.print(Document().text("材料\x1bd\x09清单\x1dV\x00\x10\x04\x01").row("a\x1b@", "b\r\nc"))
    receipt = b.sim.receipts[-1]
    assert receipt.unknown_commands == [] and len(b.sim.receipts) == 1
    assert receipt.lines[:2] == ["材料d 清单V", "a@" + " " * 43 + "b c"]


@pytest.mark.parametrize("fault, health", [
    ("paper_near_end", Health(HealthState.DEGRADED, "paper_near_end")),
    ("paper_end", Health(HealthState.FAULT, "paper_end")),
    ("cover_open", Health(HealthState.FAULT, "cover_open")),
    ("cutter_error", Health(HealthState.FAULT, "cutter_error")),
    ("silent", Health(HealthState.ABSENT, "no_answer")),
    ("garbled", Health(HealthState.DEGRADED, "status_unreadable")),
])
def test_status_transitions_are_seen_before_anyone_prints(bench, fault: str, health: Health) -> None:
    b = bench()
    b.sim.set_state(**{fault: True})
    b.wait_for(health)
    if health.state in (HealthState.FAULT, HealthState.ABSENT):
        with pytest.raises(PrintError) as refused:
            b.printer.print(receipt_document())
        assert refused.value.reason == health.reason
        assert b.sim.receipts == []
    b.sim.set_state(**{fault: False})
    b.wait_for(OK)
    b.printer.print(receipt_document())
    assert len(b.sim.receipts) == 1


def test_paper_running_out_halfway_fails_the_print_with_the_reason(bench) -> None:
    b = bench()
    b.sim.run_out_after_lines(3)
    with pytest.raises(PrintError) as failed:
        b.printer.print(receipt_document())
    assert failed.value.reason == "paper_end" and "halfway" in str(failed.value)
    assert b.sim.receipts == [] and b.printer.health() == Health(HealthState.FAULT, "paper_end")
    b.sim.set_state(paper_end=False)  # a new roll: the printer finishes what it held
    b.wait_for(OK)
    wait_until(lambda: len(b.sim.receipts) == 1)
    b.printer.print(receipt_document())
    assert len(b.sim.receipts) == 2 and b.sim.receipts[-1].qr_codes == [CASE_REF]


def test_unplugged_printer_is_absent_and_comes_back_by_itself(bench) -> None:
    b = bench()
    b.sim.vanish()
    wait_until(lambda: b.printer.health().state is HealthState.ABSENT, timeout=5)
    with pytest.raises(PrintError) as refused:
        b.printer.print(receipt_document())
    assert refused.value.reason in ("port_lost", "port_missing")
    time.sleep(0.5)
    b.sim.come_back()
    b.wait_for(OK)
    b.printer.print(receipt_document())
    assert len(b.sim.receipts) == 1
