"""On-site maintenance, behind the admin PIN: the maintainer's way in (every attempt reported to central),
maintenance mode, the device checks and a push to deliver what waits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from appliance.contract import DeviceStatus, iso
from appliance.delivery.link import MqttLink
from appliance.delivery.outbox import Outbox
from appliance.delivery.pump import Pump
from appliance.monitor.alerts import Alerts
from appliance.services import self_test
from appliance.services.errors import MaintenanceError
from appliance.services.printing import Printing
from appliance.services.visits import Visits
from appliance.state.admin_pin import Attempt, PinGuard
from drivers.card_reader import CardReader
from drivers.health import DeviceAbsent
from drivers.leds import Leds
from drivers.printer import PrintError

log = logging.getLogger("kiosk.maintenance")

PIN_OUTCOMES = {
    "ok": ("admin_pin_ok", "info", "maintenance opened with the admin PIN"),
    "wrong": ("admin_pin_failed", "warning", "wrong admin PIN ({failures} in a row)"),
    "locked": ("admin_pin_lockout", "warning", "admin PIN locked out after repeated failures"),
}


class Maintenance:
    def __init__(self, device_id: str, site: str, pin_guard: PinGuard | None, alerts: Alerts, link: MqttLink,
                 printing: Printing, card_reader: CardReader, card_probe: self_test.CardProbe, leds: Leds,
                 visits: Visits, outbox: Outbox, pump: Pump, on_change: Callable[[], None]) -> None:
        self._device_id = device_id
        self._site = site
        self._pin_guard = pin_guard
        self._alerts = alerts
        self._link = link
        self._printing = printing
        self._card_reader = card_reader
        self._card_probe = card_probe
        self._leds = leds
        self._visits = visits
        self._outbox = outbox
        self._pump = pump
        self._on_change = on_change  # the health looks again: the LEDs show maintenance at once
        self.on = False

    def enter(self, pin: str) -> Attempt:
        """The maintainer's PIN, asked after the hidden gesture; every judged attempt is reported to
        central (an alert event), and a lockout carries its end time."""
        if self._pin_guard is None:
            raise MaintenanceError("no_admin_pin", "no admin PIN is provisioned on this booth")
        attempt = self._pin_guard.attempt(pin)
        if attempt.outcome == "too_fast":
            return attempt
        details: dict[str, Any] = {"failures": attempt.failures}
        if attempt.locked_until is not None:
            details["until"] = iso(attempt.locked_until, "seconds")
        code, severity, message = PIN_OUTCOMES[attempt.outcome]
        self._alerts.raise_alert(code, severity, message.format(failures=attempt.failures), **details)
        if attempt.outcome == "ok":
            self.set(True)
        return attempt

    def set(self, on: bool) -> None:
        self.on = on
        self._link.set_status(DeviceStatus.MAINTENANCE if on else DeviceStatus.ONLINE)
        self._on_change()
        log.info("maintenance mode %s", "on" if on else "off")

    def print_test_page(self) -> str:
        try:
            self._printing.print(self_test.test_page(self._device_id, self._site))
        except PrintError as exc:
            raise MaintenanceError("print_failed", f"printer: {exc}") from exc
        return "OK"

    def test_card_reader(self, timeout_s: float = 20.0) -> str:
        """Wait for a card on the reader; say whose (masked) and forget it at once."""
        self._card_probe.arm()
        passed, detail = self._card_probe.wait(timeout_s, self._card_reader.health)
        self._visits.forget_card()
        if not passed:
            raise MaintenanceError("no_card", detail)
        return detail

    def cycle_leds(self) -> str:
        try:
            return ", ".join(self_test.cycle_leds(self._leds))
        except DeviceAbsent as exc:
            raise MaintenanceError("no_leds", str(exc)) from exc

    def retry_delivery(self) -> str:
        """Send now: set-aside events go back in line and the pump is woken."""
        retried = self._outbox.retry_set_aside()
        self._pump.notify()
        return f"{retried} set-aside events requeued; {self._outbox.held} waiting"
