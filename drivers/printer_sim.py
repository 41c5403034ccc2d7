"""An in-process simulated receipt printer: renders documents to text lines and keeps them.

Faults can be injected (`paper_end`, `cover_open`, …) so the core's handling of a failed print can
be exercised without a printer.
"""

from __future__ import annotations

import threading

from drivers.health import OK, Health, HealthState
from drivers.printer import Document, Printer, PrintError, QrCode, Row, Separator, Text, Title

FAULT_REASONS = {"paper_end", "cover_open", "cutter_error", "offline"}


def render_text(document: Document, columns: int = 48) -> list[str]:
    """Plain-text rendering of a document (one line per block), for logs of the simulator and tests."""
    lines: list[str] = []
    for block in document.blocks:
        match block:
            case Title(text):
                lines.append(text.center(columns))
            case Text(text, _bold):
                lines.append(text)
            case Row(key, value):
                lines.append(f"{key}: {value}")
            case Separator():
                lines.append("-" * columns)
            case QrCode(data):
                lines.append(f"[QR {data}]")
    return lines


class SimulatedPrinter(Printer):
    def __init__(self) -> None:
        self._health = OK
        self._lock = threading.Lock()
        self.printed: list[list[str]] = []

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def health(self) -> Health:
        return self._health

    def print(self, document: Document) -> None:
        with self._lock:
            if self._health.state in (HealthState.FAULT, HealthState.ABSENT):
                raise PrintError(self._health.reason, f"printer cannot print: {self._health.reason}")
            self.printed.append(render_text(document))

    def inject_fault(self, reason: str) -> None:
        if reason not in FAULT_REASONS:
            raise ValueError(f"unknown printer fault {reason!r}; one of {sorted(FAULT_REASONS)}")
        state = HealthState.ABSENT if reason == "offline" else HealthState.FAULT
        self._health = Health(state, reason)

    def clear_fault(self) -> None:
        self._health = OK
