"""Reading an ESC/POS printer's real-time status (DLE EOT 1–4) byte by byte, and what it means.

Each query `DLE EOT n` is answered with one byte whose bits 1 and 4 are always 1 and bits 0 and 7
always 0; anything else is not a status byte (line noise, an automatic status message, another
command's answer) and is refused with `StatusByteError` rather than guessed at. No answer at all
means the printer is offline — never "paper OK" (python-escpos's `paper_status` says 2, "adequate",
when nothing answers).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.health import OK, Health, HealthState

DLE_EOT = b"\x10\x04"
QUERIES = (1, 2, 3, 4)  # printer, offline cause, error cause, roll paper sensor
FIXED_MASK, FIXED_BITS = 0b1001_0011, 0b0001_0010

# GS r 1 (transmit paper sensor status) is answered only when everything sent before it has been
# printed, so it marks the end of a print job. Its answer has bit 4 = 0, unlike a DLE EOT answer.
END_OF_JOB_QUERY = b"\x1dr\x01"
END_OF_JOB_FIXED_MASK, END_OF_JOB_FIXED_BITS = 0b1001_0000, 0


class StatusByteError(ValueError):
    """A byte that cannot be a DLE EOT answer."""


def query(n: int) -> bytes:
    if n not in QUERIES:
        raise ValueError(f"DLE EOT {n} is not a status query (1–4)")
    return DLE_EOT + bytes((n,))


def check_byte(n: int, answer: bytes) -> int:
    """The status byte of an answer to `DLE EOT n`, or `StatusByteError`."""
    if len(answer) != 1:
        raise StatusByteError(f"DLE EOT {n}: expected 1 byte, got {len(answer)}")
    value = answer[0]
    if value & FIXED_MASK != FIXED_BITS:
        raise StatusByteError(f"DLE EOT {n}: {value:#04x} is not a status byte (fixed bits wrong)")
    return value


def is_end_of_job(answer: bytes) -> bool:
    return len(answer) == 1 and answer[0] & END_OF_JOB_FIXED_MASK == END_OF_JOB_FIXED_BITS


@dataclass(frozen=True)
class PrinterStatus:
    """The four status bytes, decoded (Epson's meaning, which Chinese kiosk printers follow)."""

    offline: bool = False
    cover_open: bool = False
    feed_button: bool = False
    stopped_paper_end: bool = False
    error: bool = False
    cutter_error: bool = False
    unrecoverable_error: bool = False
    auto_recoverable_error: bool = False
    paper_near_end: bool = False
    paper_end: bool = False

    @classmethod
    def from_bytes(cls, answers: dict[int, bytes]) -> PrinterStatus:
        """Decode the answers to DLE EOT 1–4; raises `StatusByteError` for any byte that is not one."""
        b1, b2, b3, b4 = (check_byte(n, answers.get(n, b"")) for n in QUERIES)
        return cls(
            offline=bool(b1 & 0x08),
            cover_open=bool(b2 & 0x04),
            feed_button=bool(b2 & 0x08),
            stopped_paper_end=bool(b2 & 0x20),
            error=bool(b2 & 0x40),
            cutter_error=bool(b3 & 0x04),
            unrecoverable_error=bool(b3 & 0x08),
            auto_recoverable_error=bool(b3 & 0x20),
            paper_near_end=b4 & 0x0C == 0x0C,  # bits 2 and 3
            paper_end=b4 & 0x60 == 0x60,  # bits 5 and 6
        )

    def health(self) -> Health:
        """The worst thing the status says, as a driver health with a reason a maintainer acts on."""
        if self.cover_open:
            return Health(HealthState.FAULT, "cover_open")
        if self.paper_end or self.stopped_paper_end:
            return Health(HealthState.FAULT, "paper_end")
        if self.cutter_error:
            return Health(HealthState.FAULT, "cutter_error")
        if self.unrecoverable_error:
            return Health(HealthState.FAULT, "printer_error")
        if self.auto_recoverable_error:
            return Health(HealthState.FAULT, "head_overheated")
        if self.offline or self.error:
            return Health(HealthState.FAULT, "offline")
        if self.paper_near_end:
            return Health(HealthState.DEGRADED, "paper_near_end")
        return OK
