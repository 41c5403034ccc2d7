"""Alerts to central go through the outbox, so they arrive even after a week offline. Driver health is
alerted when it changes: a fault once when it appears, a recovery once when it goes."""

from __future__ import annotations

import logging
from typing import Any

from appliance.contract import EventKind
from appliance.delivery.admission import OutboxRefused
from appliance.delivery.outbox import Outbox
from appliance.monitor.health import BoothHealth
from drivers.health import NOT_OPENED, HealthState

log = logging.getLogger("kiosk.alerts")


class Alerts:
    def __init__(self, outbox: Outbox, capacity: int) -> None:
        self._outbox = outbox
        self._capacity = capacity

    def raise_alert(self, code: str, severity: str, message: str, **details: Any) -> None:
        try:
            self._outbox.enqueue(EventKind.ALERT, {"code": code, "severity": severity, "message": message,
                                                   "details": details})
        except OutboxRefused as exc:
            log.error("alert %s not stored: %s", code, exc)

    def on_health(self, before: BoothHealth | None, now: BoothHealth) -> None:
        """A health listener: a driver's fault is alerted when it appears (also right at start: the first
        reading is compared with "not opened"), its recovery when it goes."""
        if before is None:
            return
        for name, health in now.drivers.items():
            was = before.drivers.get(name)
            if was is None or was == health:
                continue
            if health.state in (HealthState.FAULT, HealthState.ABSENT):
                self.raise_alert(f"{name}_{health.reason}", "error", f"{name} is {health.state}: {health.reason}",
                                 driver=name, state=health.state.value, reason=health.reason)
            elif health.state is HealthState.OK and was != NOT_OPENED:  # coming up is no recovery
                self.raise_alert(f"{name}_recovered", "info", f"{name} is ok again", driver=name,
                                 state="ok", reason="ok", was=was.reason)

    def check_outbox_full(self) -> None:
        """The ticker's job: say once when the outbox reaches capacity (usage reports are then held back)."""
        if self._outbox.needs_full_alert():
            self.raise_alert("outbox_full", "warning", "outbox at capacity: usage reports are held back",
                             depth=self._outbox.held, capacity=self._capacity)
