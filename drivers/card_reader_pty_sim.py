"""A simulated card reader at the far end of a real pseudo-terminal, speaking the reader's protocol.

The driver opens `sim.port` exactly as it would open /dev/ttyUSB0. A test (or `kiosk sim
card-reader`) places and removes cards and injects faults: garbage on the line, silence, an answer
cut off mid-frame, and the device vanishing (the port disappears) and coming back. `port` is a
stable symlink, like /dev/serial/by-id/…, that follows the current pseudo-terminal.

A pseudo-terminal carries bytes at memory speed. Given `line_baud`, the simulator keeps a real line's
pace instead (10 bit times a byte, 8N1): it answers a request only once the request's last byte would
have arrived, and lets its answer out as each piece of it would have arrived at that rate, so a
benchmark measures the wire time rather than adding it afterwards. A real SAM's own time (the card's
radio exchange) is not modelled.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from drivers import idcard_protocol as proto
from drivers.card_reader import IdCard
from drivers.idcard_data import check_character, encode_base_message
from drivers.pty_port import PtyPort


def _citizen(name: str, sex: str, nation: str, birth: str, address: str, region: str, sequence: str,
             authority: str, valid_from: str, valid_until: str) -> IdCard:
    first17 = region + birth + sequence
    return IdCard(name=name, sex=sex, nation=nation, birth_date=birth, address=address,
                  id_number=first17 + check_character(first17), authority=authority, valid_from=valid_from,
                  valid_until=valid_until)


# Invented people with well-formed ID numbers (region codes of Qingdao's districts): the last digit of
# `sequence` is the ID number's sex digit, odd for a man and even for a woman, as a real card's is.
TEST_CITIZENS = (
    _citizen("欧阳娜娜", "女", "汉", "19850612", "山东省青岛市市北区测试路1号", "370203", "302",
             "青岛市公安局市北分局", "20150101", "20350101"),
    _citizen("张三", "男", "汉", "19580301", "山东省青岛市市南区样例街8号2单元301户", "370202", "153",
             "青岛市公安局市南分局", "20080301", "长期"),
    _citizen("阿依古丽·买买提", "女", "维吾尔", "20010909", "山东省青岛市崂山区仿真路66号", "370212", "442",
             "青岛市公安局崂山分局", "20190909", "20290909"),
)
SAM_ID_BYTES = bytes.fromhex("0501000000001234567890ABCDEF0000")
PACED_PIECE = 32  # bytes a paced answer is let out in (a USB serial adapter hands the host small packets)


class PtyCardReaderSimulator:
    def __init__(self, port: Path, line_baud: int | None = None) -> None:
        self.port = port
        self.line_baud = line_baud
        self.card: IdCard | None = None
        self.card_seen_at: float | None = None  # perf_counter when a "find card" first found this card
        self.silent = False
        self.cut_next_answer = False
        self.requests = 0
        self._pty = PtyPort(port)
        self._splitter = proto.FrameSplitter(minimum=3)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> PtyCardReaderSimulator:
        self._pty.plug()
        self._thread = threading.Thread(target=self._serve, name="sim-card-reader", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pty.unplug()

    # -- what a test does to the device -----------------------------------------------------------------
    def place(self, card: IdCard) -> None:
        self.card = card
        self.card_seen_at = None

    def remove(self) -> None:
        self.card = None

    def send_garbage(self, data: bytes) -> None:
        self._pty.write(data)

    def vanish(self) -> None:
        """The USB adapter is pulled: the port disappears and the driver's file descriptor dies."""
        self._pty.unplug()

    def come_back(self) -> None:
        self._splitter.clear()
        self._pty.plug()

    # -- serving ---------------------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stopping.is_set():
            if not self._pty.plugged:
                self._stopping.wait(0.05)
                continue
            received = self._pty.read(0.05)
            arrived = time.perf_counter()
            frames, _ = self._splitter.feed(received)
            for frame in frames:
                self.requests += 1
                if self.line_baud:  # the request's bytes were all there at once: wait as a line would
                    self._wait_until(arrived + len(frame) * 10 / self.line_baud)
                answer = self._answer(proto.decode_request(frame))
                if self.silent:
                    continue
                if self.cut_next_answer:
                    self.cut_next_answer = False
                    answer = answer[: len(answer) // 2]
                self._send(answer)

    def _send(self, answer: bytes) -> None:
        if not self.line_baud:
            self._pty.write(answer)
            return
        start, sent = time.perf_counter(), 0
        while sent < len(answer):
            piece = answer[sent : sent + PACED_PIECE]
            sent += len(piece)
            self._wait_until(start + sent * 10 / self.line_baud)  # a piece is there once its last byte is
            self._pty.write(piece)

    def _wait_until(self, moment: float) -> None:
        delay = moment - time.perf_counter()
        if delay > 0:
            time.sleep(delay)

    def _answer(self, request: proto.Request) -> bytes:
        command = (request.cmd, request.para)
        card = self.card
        if command == proto.SAM_STATUS:
            return proto.encode_answer(proto.OK)
        if command == proto.SAM_ID:
            return proto.encode_answer(proto.OK, SAM_ID_BYTES)
        if command == proto.FIND_CARD:
            if card and self.card_seen_at is None:
                self.card_seen_at = time.perf_counter()
            return proto.encode_answer(proto.CARD_FOUND if card else proto.NO_CARD, b"\x00\x00\x00\x00")
        if command == proto.SELECT_CARD:
            return proto.encode_answer(proto.OK if card else proto.SELECT_FAILED, bytes(8))
        if command == proto.READ_BASE:
            if card is None:
                return proto.encode_answer(proto.READ_FAILED)
            return proto.encode_answer(proto.OK, encode_base_message(card))
        return proto.encode_answer(0x21)
