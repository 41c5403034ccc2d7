"""A simulated ESC/POS receipt printer at the far end of a pseudo-terminal and of a TCP port (9100-style).

It decodes what it receives (`escpos_decoder`), prints it on `Paper` (a PNG per cut), and answers
`DLE EOT 1–4` and `GS r 1` from a state a test sets: paper near end, paper out, cover open, cutter
error, or silent (powered off behind a live adapter). Like a real printer it stops processing while
the paper is out or the cover is open — only real-time status queries are still answered — and
carries on with what it had buffered once the fault is cleared. `run_out_after_lines(n)` empties
the roll in the middle of the next receipt.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

from drivers.escpos_decoder import EscposDecoder
from drivers.printer_paper import Paper, PrintedReceipt
from drivers.pty_port import PtyPort

DOTS = {80: 576, 58: 384}


@dataclass
class PrinterState:
    paper_near_end: bool = False
    paper_end: bool = False
    cover_open: bool = False
    cutter_error: bool = False
    silent: bool = False  # no answers at all
    garbled: bool = False  # answers that are no status bytes (a wrong baud rate looks like this)
    busy: bool = False  # still working through what it holds (a long receipt, a slow head): status says ready

    @property
    def stopped(self) -> bool:
        return self.paper_end or self.cover_open or self.cutter_error

    def answer(self, n: int) -> bytes:
        """The DLE EOT n answer, bit by bit as the ESC/POS reference gives it."""
        if self.garbled:
            return b"\xff"
        base = 0b0001_0010
        if n == 1:
            return bytes((base | (0x08 if self.stopped else 0),))
        if n == 2:
            return bytes((base | (0x04 if self.cover_open else 0) | (0x20 if self.paper_end else 0)
                          | (0x40 if self.cutter_error else 0),))
        if n == 3:
            return bytes((base | (0x04 if self.cutter_error else 0),))
        if n == 4:
            return bytes((base | (0x0C if self.paper_near_end else 0) | (0x60 if self.paper_end else 0),))
        return b""

    def paper_sensor(self) -> bytes:
        """The GS r 1 answer: bits 0–1 near end, bits 2–3 paper end, bit 4 always 0."""
        return bytes(((0x03 if self.paper_near_end else 0) | (0x0C if self.paper_end else 0),))


class _Channel:
    """One way in (the pty or a TCP client): its own byte stream, decoded in order."""

    def __init__(self, reply) -> None:
        self.decoder = EscposDecoder()
        self.reply = reply


class PtyPrinterSimulator:
    def __init__(self, port: Path | None, out_dir: Path | None, paper_width_mm: int = 80,
                 tcp_port: int | None = None) -> None:
        self.port = port
        self.state = PrinterState()
        self.paper = Paper(DOTS[paper_width_mm], out_dir)
        self.bytes_received = 0
        self._lines_left: int | None = None
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._pty = PtyPort(port) if port is not None else None
        self._pty_channel = _Channel(self._pty.write if self._pty else None)
        self._tcp_channels: list[_Channel] = []
        self._listener: socket.socket | None = None
        if tcp_port is not None:
            self._listener = socket.create_server(("127.0.0.1", tcp_port))
        self.tcp_port = self._listener.getsockname()[1] if self._listener else None

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> PtyPrinterSimulator:
        if self._pty is not None:
            self._pty.plug()
            self._spawn(self._serve_pty, "sim-printer-pty")
        if self._listener is not None:
            self._spawn(self._serve_tcp, "sim-printer-tcp")
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._pty is not None:
            self._pty.unplug()

    def _spawn(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    # -- what a test does to the printer ---------------------------------------------------------------
    @property
    def receipts(self) -> list[PrintedReceipt]:
        return self.paper.receipts

    def set_state(self, **changes: bool) -> None:
        with self._lock:
            for name, value in changes.items():
                if not hasattr(self.state, name):
                    raise ValueError(f"unknown printer state {name!r}")
                setattr(self.state, name, value)
        self._process_all()  # a cleared fault lets the printer carry on with what it holds

    def run_out_after_lines(self, lines: int) -> None:
        """The roll ends after `lines` more printed lines: the printer stops mid-receipt."""
        self._lines_left = lines

    def vanish(self) -> None:
        if self._pty is not None:
            self._pty.unplug()

    def come_back(self) -> None:
        if self._pty is not None:
            self._pty_channel.decoder = EscposDecoder()
            self._pty.plug()

    # -- serving ---------------------------------------------------------------------------------------
    def _serve_pty(self) -> None:
        assert self._pty is not None
        while not self._stopping.is_set():
            if not self._pty.plugged:
                self._stopping.wait(0.05)
                continue
            data = self._pty.read(0.05)
            if data:
                self._receive(self._pty_channel, data)
            else:
                self._process(self._pty_channel)

    def _serve_tcp(self) -> None:
        assert self._listener is not None
        self._listener.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self._spawn(self._serve_client, "sim-printer-client", client)

    def _serve_client(self, client: socket.socket) -> None:
        channel = _Channel(lambda data: _send(client, data))
        self._tcp_channels.append(channel)
        client.settimeout(0.05)
        with client:
            while not self._stopping.is_set():
                try:
                    data = client.recv(65536)
                except TimeoutError:
                    self._process(channel)
                    continue
                except OSError:
                    break
                if not data:
                    break
                self._receive(channel, data)
        self._tcp_channels.remove(channel)

    def _receive(self, channel: _Channel, data: bytes) -> None:
        with self._lock:
            self.bytes_received += len(data)
            channel.decoder.feed(data)
        self._process(channel)

    def _process_all(self) -> None:
        for channel in [self._pty_channel, *self._tcp_channels]:
            self._process(channel)

    def _process(self, channel: _Channel) -> None:
        with self._lock:
            state = self.state
            if state.stopped or state.busy:
                for n in channel.decoder.take_realtime_queries():
                    self._answer(channel, state.answer(n))
                return
            while (op := channel.decoder.next_op()) is not None:
                if op.name == "status_query":
                    self._answer(channel, state.answer(op.args[0]))
                elif op.name == "end_of_job_query":
                    self._answer(channel, state.paper_sensor())
                else:
                    self.paper.apply(op)
                if op.name == "line_feed" and self._lines_left is not None:
                    self._lines_left -= 1
                    if self._lines_left <= 0:
                        self._lines_left = None
                        state.paper_end = True
                        return

    def _answer(self, channel: _Channel, answer: bytes) -> None:
        if answer and not self.state.silent and channel.reply is not None:
            channel.reply(answer)


def _send(client: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        client.sendall(data)
