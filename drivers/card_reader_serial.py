"""The real resident-ID card reader: a SAM module on a serial line (115200 8N1 by default).

Its own thread polls for a card, reads it once per placement, and reports `CardEvent`s; a card must
leave the field before it is read again. Everything that can go wrong on the wire — garbage, bad
checksums, silence, a reader that stops mid-frame, a USB adapter that vanishes — becomes a health
change or an `ERROR` event, never an exception out of the thread; the port is reopened by itself
when it comes back.
"""

from __future__ import annotations

import contextlib
import logging
import termios
import threading
import time

import serial

from drivers import idcard_protocol as proto
from drivers.card_reader import CardEvent, CardEventKind, CardListener, CardReader
from drivers.health import Health, HealthState
from drivers.idcard_data import CardDataError, decode_base_message

log = logging.getLogger("kiosk.card_reader")

# What a vanished USB adapter raises, depending on which call meets it first.
PORT_ERRORS = (serial.SerialException, OSError, termios.error)
POLL_S = 0.25
REOPEN_S = 1.0
READ_ATTEMPTS = 3  # failed reads of one placement before the citizen is asked to place it again
SILENT_LIMIT = 3  # unanswered requests in a row before the reader counts as faulty


class ReaderTimeout(Exception):
    """No complete answer within the command's time."""


class SerialCardReader(CardReader):
    def __init__(self, port: str, baud: int = 115200) -> None:
        self._port = port
        self._baud = baud
        self._serial: serial.Serial | None = None
        self._splitter = proto.FrameSplitter(minimum=4)
        self._listener: CardListener | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one transaction on the wire at a time
        self._health = Health(HealthState.ABSENT, "not_opened")
        self._card_in_field = False
        self._failed_reads = 0
        self._silent = 0

    # -- CardReader ---------------------------------------------------------------------------------
    def open(self, listener: CardListener) -> None:
        self._listener = listener
        self._thread = threading.Thread(target=self._run, name="card-reader", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_port()

    def health(self) -> Health:
        return self._health

    def self_test(self) -> str:
        answer = self._transact(proto.SAM_ID)
        if answer.status != proto.OK:
            raise RuntimeError(f"SAM id not readable: {answer.meaning}")
        return f"SAM {answer.data.hex().upper()}"

    # -- the polling thread ------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            if self._serial is None and not self._open_port():
                self._stopping.wait(REOPEN_S)
                continue
            try:
                self._poll()
            except PORT_ERRORS as exc:
                log.warning("card reader port %s lost: %s", self._port, exc)
                self._close_port()
                self._set_health(HealthState.ABSENT, "port_lost")
                continue
            except Exception:  # a bug here must not end the thread: report it and keep polling
                log.exception("card reader poll failed")
                self._set_health(HealthState.FAULT, "driver_error")
            self._stopping.wait(POLL_S)

    def _open_port(self) -> bool:
        try:
            # Every line setting explicit: the reader wants 8N1 and no flow control at all.
            self._serial = serial.Serial(
                self._port, self._baud, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE, timeout=0.05, write_timeout=1, rtscts=False, dsrdtr=False,
                xonxoff=False, exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError):
            self._serial = None
            self._set_health(HealthState.ABSENT, "port_missing")
            return False
        self._splitter.clear()
        self._silent = 0
        try:
            status = self._transact(proto.SAM_STATUS)
        except ReaderTimeout:
            self._set_health(HealthState.FAULT, "no_answer")
            return True
        except PORT_ERRORS:
            self._close_port()
            self._set_health(HealthState.ABSENT, "port_lost")
            return False
        if status.status == proto.OK:
            log.info("card reader on %s answers", self._port)
            self._set_health(HealthState.OK, "ok")
        else:
            self._set_health(HealthState.FAULT, f"sam_{status.status:02x}")
        return True

    def _close_port(self) -> None:
        if self._serial is not None:
            with contextlib.suppress(*PORT_ERRORS):
                self._serial.close()
        self._serial = None

    def _poll(self) -> None:
        try:
            found = self._transact(proto.FIND_CARD)
        except ReaderTimeout:
            return
        except proto.FrameError as exc:
            self._set_health(HealthState.DEGRADED, f"bad_frame_{exc.code}")
            return
        if found.status == proto.NO_CARD:
            if self._card_in_field:
                self._card_in_field = False
                self._emit(CardEvent(CardEventKind.REMOVED))
            self._failed_reads = 0
            return
        if found.status != proto.CARD_FOUND or self._card_in_field:
            return
        self._read_card()

    def _read_card(self) -> None:
        try:
            selected = self._transact(proto.SELECT_CARD)
            if selected.status != proto.OK:
                raise CardDataError("select", selected.meaning)
            answer = self._transact(proto.READ_BASE)
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
    def _transact(self, command: tuple[int, int]) -> proto.Answer:
        """Send a request and wait for its answer frame, within a time that fits the baud rate."""
        port = self._serial
        if port is None:
            raise serial.SerialException("port not open")
        expected = 1400 if command == proto.READ_BASE else 64
        deadline = time.monotonic() + 0.3 + expected * 10 / self._baud
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
                    if self._health.reason in ("no_answer",) or self._health.reason.startswith("bad_frame"):
                        self._set_health(HealthState.OK, "ok")
                    return proto.decode_answer(frames[0])
        self._silent += 1
        if self._silent >= SILENT_LIMIT:
            self._set_health(HealthState.FAULT, "no_answer")
        raise ReaderTimeout(f"no answer to {command[0]:02X} {command[1]:02X}")

    def _set_health(self, state: HealthState, reason: str) -> None:
        health = Health(state, reason)
        if health != self._health:
            log.info("card reader health: %s (%s)", state.value, reason)
            self._health = health

    def _emit(self, event: CardEvent) -> None:
        if self._listener is not None:
            self._listener(event)


