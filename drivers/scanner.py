"""The QR / barcode scanner: a serial device in line mode (each scan one line, CR and/or LF).

Citizens scan an e-certificate code or a receipt's QR. Lines in, `ScanEvent`s out; a line that is
too long, undecodable, or full of control bytes is an `error` event, never an exception, and the
port is reopened when a USB adapter comes back (`PortThread`). A booth without a scanner has a
`NullScanner`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import serial

from drivers.health import NOT_FITTED, NOT_OPENED, OK, Health
from drivers.serial_device import PortProtocol, PortThread

MAX_LINE = 2048
ENCODINGS = ("utf-8", "gb18030")  # scanners sold here send one or the other


class ScanEventKind(StrEnum):
    CODE = "code"
    ERROR = "error"


@dataclass(frozen=True)
class ScanEvent:
    kind: ScanEventKind
    text: str = ""
    reason: str = ""


ScanListener = Callable[[ScanEvent], None]


def decode_line(raw: bytes) -> ScanEvent:
    """One line as the scanner sent it (terminator removed) → a code or the reason it is not one."""
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return ScanEvent(ScanEventKind.ERROR, reason="undecodable")
    if any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in text):
        return ScanEvent(ScanEventKind.ERROR, reason="control_characters")
    return ScanEvent(ScanEventKind.CODE, text=text.strip())


class LineSplitter:
    """Bytes in, complete lines out; an over-long line is reported once and skipped to its end."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buffer = bytearray()
        self._max = max_line
        self._skipping = False

    def feed(self, data: bytes) -> list[ScanEvent]:
        events: list[ScanEvent] = []
        for byte in data:
            if byte in (0x0D, 0x0A):
                if self._skipping:
                    self._skipping = False
                elif self._buffer:
                    events.append(decode_line(bytes(self._buffer)))
                self._buffer.clear()
            elif not self._skipping:
                self._buffer.append(byte)
                if len(self._buffer) > self._max:
                    events.append(ScanEvent(ScanEventKind.ERROR, reason="line_too_long"))
                    self._buffer.clear()
                    self._skipping = True
        return [e for e in events if e.kind is ScanEventKind.ERROR or e.text]


class Scanner(ABC):
    """A code scanner. An implementation must override `open` (start delivering `ScanEvent`s to the
    listener; never raise because the device is missing — say so through `health`), `close` and
    `health` (answer at once from the last known state). `fitted` is False only for `NullScanner`."""

    fitted: bool = True

    @abstractmethod
    def open(self, listener: ScanListener) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def health(self) -> Health: ...


class NullScanner(Scanner):
    """The scanner of a booth that has none: opens and closes without a thread, never scans, and
    reports itself `absent/not_fitted` (the heartbeat leaves it out, as it is not `fitted`)."""

    fitted = False

    def open(self, listener: ScanListener) -> None:
        pass

    def close(self) -> None:
        pass

    def health(self) -> Health:
        return NOT_FITTED


class ScanLines(PortProtocol):
    """The line-mode protocol: bytes from the port → `ScanEvent`s to the listener. A scanner only talks
    when it scans, so an open port is all its health needs."""

    def __init__(self, listener: ScanListener) -> None:
        self._listener = listener
        self._splitter = LineSplitter()

    def connection_made(self, port: serial.SerialBase) -> Health:
        self._splitter = LineSplitter()  # half a line from before the unplug is gone
        return OK

    def poll(self, port: serial.SerialBase) -> None:
        data = port.read(port.in_waiting or 1)  # waits up to the port's 50 ms timeout
        if not data and not port.is_open:
            raise serial.SerialException("port closed")
        for event in self._splitter.feed(data):
            self._listener(event)


class SerialLineScanner(Scanner):
    """The real scanner: `ScanLines` on a `PortThread`, which reopens the port when the adapter returns."""

    def __init__(self, port: str, baud: int = 9600) -> None:
        self._url = port
        self._baud = baud
        self._link: PortThread | None = None

    def open(self, listener: ScanListener) -> None:
        self._link = PortThread("scanner", self._url, self._baud, ScanLines(listener), idle_s=0)
        self._link.start()

    def close(self) -> None:
        if self._link is not None:
            self._link.close()

    def health(self) -> Health:
        return self._link.health() if self._link is not None else NOT_OPENED
