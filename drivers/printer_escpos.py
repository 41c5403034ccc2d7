"""The real receipt printer: ESC/POS over serial, USB (usblp) or TCP 9100.

A background poll asks `DLE EOT 1–4` every few seconds, so `health()` answers at once and the kiosk
knows before a citizen presses "print" whether it can print. A print checks the status once more,
sends the document followed by `GS r 1`, and counts as done only when that query is answered —
which a printer does after everything before it has come out. If the paper runs out or the cover
opens halfway, the status says so and the print fails with that reason; silence fails it as
`no_answer`. The port is python-escpos-free on purpose: its Serial defaults to 9600 baud with DSR/DTR
flow control and has no reconnect; the one here is a `PortThread`, with every setting explicit, and the
printer is the `PortProtocol` it polls with.
"""

from __future__ import annotations

import logging
import threading
import time

import serial

from drivers.escpos_encoder import ReceiptEncoder, load_escpos_later
from drivers.escpos_status import END_OF_JOB_QUERY, QUERIES, PrinterStatus, StatusByteError, is_end_of_job, query
from drivers.health import Health, HealthState
from drivers.printer import Document, Printer, PrintError
from drivers.serial_device import PORT_ERRORS, PortProtocol, PortThread

log = logging.getLogger("kiosk.printer")

POLL_S = 2.0
ANSWER_S = 0.5  # a status byte comes within milliseconds; half a second is generous
CHECK_DURING_JOB_S = 1.0  # how often a running job's printer is asked whether it has stopped
JOB_BASE_S = 15.0  # paper feed, cut and a slow head, on top of the transfer time
NOT_READY = (HealthState.FAULT, HealthState.ABSENT)


class EscposPrinter(Printer, PortProtocol):
    """Prints and polls through one port; the port's thread and reconnects are its `PortThread`'s."""

    def __init__(self, port: str, baud: int, encoder: ReceiptEncoder, flow_control: str = "none",
                 poll_s: float = POLL_S) -> None:
        self._link = PortThread("printer", port, baud, self, idle_s=poll_s, flow_control=flow_control)
        self._encoder = encoder
        self._io = threading.Lock()  # the poll and a print never talk over each other

    # -- Printer --------------------------------------------------------------------------------------
    def open(self) -> None:
        self._link.start()
        load_escpos_later()

    def close(self) -> None:
        self._link.close()

    def health(self) -> Health:
        return self._link.health()

    def print(self, document: Document) -> None:
        data = self._encoder.encode(document) + END_OF_JOB_QUERY
        with self._io:
            port = self._link.port
            if port is None:
                health = self._link.health()
                raise PrintError(health.reason, f"printer is {health.state}: {health.reason}")
            try:
                health = self._read_status(port)
                self._link.set_health(health)
                if health.state in NOT_READY:
                    raise PrintError(health.reason, f"printer cannot print: {health.reason}")
                port.reset_input_buffer()
                port.write(data)
                self._await_end_of_job(port, JOB_BASE_S + len(data) * 10 / self._link.baud)
            except serial.SerialTimeoutException as exc:
                raise PrintError("not_accepting", "the printer takes no data (flow control held, buffer full)") \
                    from exc
            except PORT_ERRORS as exc:
                self._link.drop()
                raise PrintError("port_lost", f"printer connection lost while printing: {exc}") from exc
        log.info("printed %d bytes (%d raster lines)", len(data), self._encoder.raster_lines)

    def _await_end_of_job(self, port: serial.SerialBase, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        next_check = time.monotonic() + CHECK_DURING_JOB_S
        while time.monotonic() < deadline:
            answer = port.read(1)
            if answer and is_end_of_job(answer):
                return
            if time.monotonic() >= next_check:
                health = self._status_mid_job(port)
                if health is None:
                    return  # the job's end was answered while the status was asked
                self._link.set_health(health)
                if health.state in NOT_READY:
                    raise PrintError(health.reason, f"printing stopped halfway: {health.reason}")
                next_check = time.monotonic() + CHECK_DURING_JOB_S
        raise PrintError("no_answer", f"the printer did not confirm the job within {timeout_s:.0f} s")

    # -- PortProtocol ---------------------------------------------------------------------------------
    def connection_made(self, port: serial.SerialBase) -> Health:
        with self._io:
            return self._read_status(port)

    def poll(self, port: serial.SerialBase) -> None:
        with self._io:
            if port is self._link.port:  # a print may have dropped a dead port meanwhile
                self._link.set_health(self._read_status(port))

    def _read_status(self, port: serial.SerialBase) -> Health:
        """Ask DLE EOT 1–4, one byte each; silence is `absent/no_answer`, nonsense `degraded`."""
        return self._status(port, mid_job=False) or Health(HealthState.ABSENT, "no_answer")

    def _status_mid_job(self, port: serial.SerialBase) -> Health | None:
        """The status while a job runs, or None when the job's end is answered meanwhile. Both answers share
        the line, so nothing is discarded: an end-of-job byte is told from a status byte by its fixed bits
        (discarding it, as before a fresh question, lost it now and then and the job "never" ended)."""
        return self._status(port, mid_job=True)

    def _status(self, port: serial.SerialBase, mid_job: bool) -> Health | None:
        answers = {}
        for n in QUERIES:
            if not mid_job:
                port.reset_input_buffer()
            port.write(query(n))
            answers[n] = _read_byte(port, ANSWER_S)
            if mid_job and is_end_of_job(answers[n]):
                return None
            if not answers[n]:
                return Health(HealthState.ABSENT, "no_answer")
        try:
            return PrinterStatus.from_bytes(answers).health()
        except StatusByteError as exc:
            log.warning("printer status unreadable: %s", exc)
            return Health(HealthState.DEGRADED, "status_unreadable")


def _read_byte(port: serial.SerialBase, timeout_s: float) -> bytes:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = port.read(1)  # waits up to the port's own short timeout
        if answer:
            return answer
    return b""
