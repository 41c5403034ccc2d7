"""The booth's one way to print: failures are counted (the heartbeat's `print_failures`), logged and make
the health look again at once, so the screens stop offering a print that cannot work."""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.health import HealthState
from drivers.printer import Document, Printer, PrintError

log = logging.getLogger("kiosk.printing")


class Printing:
    def __init__(self, printer: Printer, on_failure: Callable[[], None]) -> None:
        self._printer = printer
        self._on_failure = on_failure
        self.failures = 0

    def ready(self) -> bool:
        """Whether printing would work now, from the printer's last polled status (no waiting)."""
        return self._printer.health().state not in (HealthState.FAULT, HealthState.ABSENT)

    def print(self, document: Document) -> None:
        """Raises `PrintError` (with its `reason`: paper_end, cover_open, …) when the page did not come out."""
        try:
            self._printer.print(document)
        except PrintError as exc:
            self.failures += 1
            log.error("print failed: %s", exc)
            self._on_failure()
            raise
