"""The real resident-ID card reader: a SAM module on a serial line (115200 8N1 by default).

It polls for a card, reads it once per placement, and reports `CardEvent`s; a card must leave the
field before it is read again. Garbage, bad checksums, silence and answers cut off mid-frame become
health changes or `ERROR` events; a vanished adapter is reopened by the reader's `PortThread`, which
calls the reader back as its `PortProtocol`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import serial

from drivers import idcard_protocol as proto
from drivers.card_reader import CardEvent, CardEventKind, CardListener, CardReader
from drivers.health import Health, HealthState
from drivers.idcard_data import CardDataError, decode_base_message
from drivers.serial_device import PortProtocol, PortThread

log = logging.getLogger("kiosk.card_reader")

# A card placed waits for the next "find card" (polls start every POLL_S, however long the last took),
# then find + select + read cross the line: 1,359 bytes, 118 ms at 115200 baud. At 250 ms that wait was
# most of the time from card to citizen (p95 ≈ 240 ms before the wire's 118); at 20 ms it is at most 20
# beside the wire, for 50 short exchanges a second (25 bytes, about 2 ms of the line each) while no card
# is there. bench/bench_card_latency.py measures both.
POLL_S = 0.02
READ_ATTEMPTS = 3  # failed reads of one placement before the citizen is asked to place it again
SILENT_LIMIT = 3  # unanswered requests in a row before the reader counts as faulty
OK_HEALTH = Health(HealthState.OK, "ok")


def _ask_for_low_latency(port: serial.SerialBase) -> None:
    """A USB serial adapter may hold the bytes it received until its latency timer runs out (FTDI's is 16
    ms by default) before handing them to the host: up to 16 ms on each of a card's three answers. The
    kernel's low-latency flag (`setserial low_latency`) brings ftdi_sio's timer to 1 ms; a port that has no
    such setting (a pseudo-terminal, another adapter's driver) is left as it is."""
    set_low_latency = getattr(port, "set_low_latency_mode", None)
    if set_low_latency is not None:
        with contextlib.suppress(ValueError, NotImplementedError, OSError):
            set_low_latency(True)


class ReaderTimeout(Exception):
    """No complete answer within the command's time."""


class SerialCardReader(CardReader, PortProtocol):
    """The reader's protocol (poll, read once per placement, report); its port thread is a `PortThread`."""

    def __init__(self, port: str, baud: int = 115200) -> None:
        self._link = PortThread("card reader", port, baud, self, idle_s=POLL_S)
        self._splitter = proto.FrameSplitter(minimum=4)
        self._listener: CardListener | None = None
        self._lock = threading.Lock()  # one transaction on the wire at a time
        self._card_in_field = False
        self._failed_reads = 0
        self._silent = 0

    # -- CardReader -------------------------------------------------------------------------------------
    def open(self, listener: CardListener) -> None:
        self._listener = listener
        self._link.start()

    def close(self) -> None:
        self._link.close()

    def health(self) -> Health:
        return self._link.health()

    def self_test(self) -> str:
        port = self._link.port
        if port is None:
            health = self._link.health()
            raise RuntimeError(f"card reader is {health.state}: {health.reason}")
        answer = self._transact(port, proto.SAM_ID)
        if answer.status != proto.OK:
            raise RuntimeError(f"SAM id not readable: {answer.meaning}")
        return f"SAM {answer.data.hex().upper()}"

    # -- PortProtocol -------------------------------------------------------------------------------------
    def connection_made(self, port: serial.SerialBase) -> Health:
        self._silent = 0
        _ask_for_low_latency(port)
        try:
            status = self._transact(port, proto.SAM_STATUS)
        except (ReaderTimeout, proto.FrameError):
            return Health(HealthState.FAULT, "no_answer")
        return OK_HEALTH if status.status == proto.OK else Health(HealthState.FAULT, f"sam_{status.status:02x}")

    def poll(self, port: serial.SerialBase) -> None:
        try:
            found = self._transact(port, proto.FIND_CARD)
        except ReaderTimeout:
            return
        except proto.FrameError as exc:
            self._link.set_health(Health(HealthState.DEGRADED, f"bad_frame_{exc.code}"))
            return
        if found.status == proto.NO_CARD:
            if self._card_in_field:
                self._card_in_field = False
                self._emit(CardEvent(CardEventKind.REMOVED))
            self._failed_reads = 0
            return
        if found.status == proto.CARD_FOUND and not self._card_in_field:
            self._read_card(port)

    def _read_card(self, port: serial.SerialBase) -> None:
        try:
            selected = self._transact(port, proto.SELECT_CARD)
            if selected.status != proto.OK:
                raise CardDataError("select", selected.meaning)
            answer = self._transact(port, proto.READ_BASE)
            if answer.status != proto.OK:
                raise CardDataError("read", answer.meaning)
            card = decode_base_message(answer.data)
        except (CardDataError, proto.FrameError, ReaderTimeout) as exc:
            self._failed_reads += 1
            reason = getattr(exc, "code", "timeout")
            log.warning("card read failed (%s), attempt %d", reason, self._failed_reads)
            if self._failed_reads >= READ_ATTEMPTS:
                self._card_in_field = True  # wait for the card to be taken away and placed again
                self._emit(CardEvent(CardEventKind.ERROR, reason=str(reason)))
            return
        self._card_in_field = True
        self._failed_reads = 0
        self._emit(CardEvent(CardEventKind.READ, card=card))

    # -- one request, one answer --------------------------------------------------------------------------
    def _transact(self, port: serial.SerialBase, command: tuple[int, int]) -> proto.Answer:
        """Send a request and wait for its answer frame, within a time that fits the baud rate."""
        expected = 1400 if command == proto.READ_BASE else 64
        deadline = time.monotonic() + 0.3 + expected * 10 / self._link.baud
        with self._lock:
            port.reset_input_buffer()
            self._splitter.clear()
            port.write(proto.encode_request(*command))
            while time.monotonic() < deadline:
                chunk = port.read(port.in_waiting or 1)
                if not chunk:
                    continue
                frames, _damage = self._splitter.feed(chunk)
                if frames:
                    self._silent = 0
                    health = self._link.health()
                    if health.state in (HealthState.FAULT, HealthState.DEGRADED) and (
                            health.reason == "no_answer" or health.reason.startswith("bad_frame")):
                        self._link.set_health(OK_HEALTH)
                    return proto.decode_answer(frames[0])
        self._silent += 1
        if self._silent >= SILENT_LIMIT:
            self._link.set_health(Health(HealthState.FAULT, "no_answer"))
        raise ReaderTimeout(f"no answer to {command[0]:02X} {command[1]:02X}")

    def _emit(self, event: CardEvent) -> None:
        if self._listener is not None:
            self._listener(event)
