"""One reading of the booth's health at a time, pushed to whoever cares (after Home Assistant's
`DataUpdateCoordinator`): the ticker asks for a fresh reading once a second, and after a failed print or
a change of mode; the listeners (alerts, LEDs, the screens, the TLS warning) are handed the reading
before and the one now. Nobody polls. A reading that fails is logged once, and its recovery once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from drivers.health import SEVERITY, Health, HealthState
from drivers.leds import LedPattern

log = logging.getLogger("kiosk.health")

BACKLOG_DEGRADED_S = 600  # oldest undelivered event older than this: amber
# Devices that help a citizen but are not needed to serve one: a booth that cannot speak still serves, so a
# missing or failed speaker makes its LEDs amber (a maintainer's job), never red (out of service).
AIDS = frozenset({"speaker"})


@dataclass(frozen=True)
class BoothHealth:
    drivers: dict[str, Health]  # fitted devices only
    online: bool  # connected to the broker
    held_for_tls: int  # events with personal data that wait because the link is not TLS
    backlog_s: int  # age of the oldest event still held
    maintenance: bool
    in_session: bool

    def led_pattern(self) -> LedPattern:
        if self.maintenance:
            return LedPattern.MAINTENANCE
        worst = max((min(SEVERITY[h.state], SEVERITY[HealthState.DEGRADED]) if name in AIDS else SEVERITY[h.state]
                     for name, h in self.drivers.items()), default=0)
        if worst >= SEVERITY[HealthState.FAULT]:
            return LedPattern.FAULT
        if worst or not self.online or self.backlog_s > BACKLOG_DEGRADED_S or self.held_for_tls:
            return LedPattern.DEGRADED
        return LedPattern.WORKING if self.in_session else LedPattern.READY


Listener = Callable[[BoothHealth | None, BoothHealth], None]


class HealthCoordinator:
    def __init__(self, read: Callable[[], BoothHealth]) -> None:
        self._read = read
        self._lock = threading.Lock()  # the ticker, a print and a command may all ask at once
        self._listeners: list[Listener] = []
        self._failing = False
        self.current: BoothHealth | None = None

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """`listener(before, now)` runs on every reading; returns what removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def refresh(self) -> BoothHealth | None:
        with self._lock:
            try:
                now = self._read()
            except Exception:
                if not self._failing:
                    log.exception("booth health could not be read (logged once until it recovers)")
                self._failing = True
                return self.current
            if self._failing:
                log.info("booth health readable again")
                self._failing = False
            before, self.current = self.current, now
            for listener in self._listeners:
                try:
                    listener(before, now)
                except Exception:
                    log.exception("health listener %r failed", listener)
            return now


def warn_held_for_tls(before: BoothHealth | None, now: BoothHealth) -> None:
    """Submissions, bookings and calls for help leave only over TLS: without it they wait, and the booth
    says so (a log line when it starts and when it ends, the status lines, amber LEDs)."""
    was = before.held_for_tls if before else 0
    if now.held_for_tls and not was:
        log.warning("%d events with personal data are held: they leave only over TLS and broker.tls is not "
                    "set (configure [broker.tls] in kiosk.toml)", now.held_for_tls)
    elif was and not now.held_for_tls:
        log.info("no events with personal data are held for TLS any more")
