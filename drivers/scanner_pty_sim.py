"""A simulated QR / barcode scanner on a real pseudo-terminal: `scan(text)` sends one line."""

from __future__ import annotations

from pathlib import Path

from drivers.pty_port import PtyPort


class PtyScannerSimulator:
    def __init__(self, port: Path, encoding: str = "utf-8", terminator: bytes = b"\r\n") -> None:
        self.port = port
        self._pty = PtyPort(port)
        self._encoding = encoding
        self._terminator = terminator

    def start(self) -> PtyScannerSimulator:
        self._pty.plug()
        return self

    def stop(self) -> None:
        self._pty.unplug()

    def scan(self, text: str) -> None:
        self._pty.write(text.encode(self._encoding) + self._terminator)

    def send_raw(self, data: bytes) -> None:
        self._pty.write(data)

    def vanish(self) -> None:
        self._pty.unplug()

    def come_back(self) -> None:
        self._pty.plug()
