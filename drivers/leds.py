"""Status LEDs (green / amber / red) on GPIO through gpiozero.

There is one implementation: off a Pi, gpiozero's own mock pin factory stands in for the pins, so
the same code runs in simulation and under test (the tests read the mock pins' state history).
"""

from __future__ import annotations

import logging
import threading
import time
from enum import StrEnum

from drivers.health import OK, Health, HealthState

log = logging.getLogger("kiosk.leds")


class LedPattern(StrEnum):
    READY = "ready"  # green steady
    DEGRADED = "degraded"  # amber steady
    FAULT = "fault"  # red steady
    WORKING = "working"  # green blinking
    MAINTENANCE = "maintenance"  # amber blinking
    OFF = "off"


BLINK_S = {LedPattern.WORKING: 0.25, LedPattern.MAINTENANCE: 0.5}  # on = off time of each blink


class StatusLeds:
    """Shows one `LedPattern` at a time on three LEDs."""

    def __init__(self, green: int, amber: int, red: int, active_high: bool = True, pin_factory=None) -> None:
        """Without usable GPIO (no pin library on a Pi, or not a Pi) the kiosk still serves citizens:
        the LEDs report ABSENT/no_gpio and only remember the pattern they would show."""
        from gpiozero import LED, GPIOZeroError

        self._leds: dict[str, LED] = {}
        self._health = OK
        try:
            for name, pin in (("green", green), ("amber", amber), ("red", red)):
                self._leds[name] = LED(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
        except GPIOZeroError as exc:
            log.error("status LEDs unavailable: %s (on a Pi the product's venv needs lgpio, which the kiosk "
                      "extras install there; elsewhere set GPIOZERO_PIN_FACTORY=mock or hardware.simulated = true)",
                      exc)
            self.close()
            self._leds = {}
            self._health = Health(HealthState.ABSENT, "no_gpio")
        self._lock = threading.Lock()
        self.pattern = LedPattern.OFF

    def show(self, pattern: LedPattern) -> None:
        with self._lock:
            if pattern == self.pattern:
                return
            if self._leds:
                self._apply(pattern)
            self.pattern = pattern

    def _apply(self, pattern: LedPattern) -> None:
        for led in self._leds.values():
            led.off()
        lit = {
            LedPattern.READY: "green",
            LedPattern.WORKING: "green",
            LedPattern.DEGRADED: "amber",
            LedPattern.MAINTENANCE: "amber",
            LedPattern.FAULT: "red",
        }.get(pattern)
        if lit is None:
            return
        if pattern in BLINK_S:
            t = BLINK_S[pattern]
            self._leds[lit].blink(on_time=t, off_time=t, background=True)
        else:
            self._leds[lit].on()

    def cycle(self, step_s: float = 0.3) -> list[str]:
        """Light each LED alone in turn (a maintainer's visual check), then restore the pattern."""
        with self._lock:
            order = list(self._leds)
            if not order:
                raise RuntimeError("status LEDs unavailable: no GPIO")
            for name in order:
                for led in self._leds.values():
                    led.off()
                self._leds[name].on()
                time.sleep(step_s)
            self._apply(self.pattern)
        return order

    def pins(self) -> dict[str, object]:
        """The gpiozero pin under each LED (mock pins keep their state history for tests)."""
        return {name: led.pin for name, led in self._leds.items()}

    def health(self) -> Health:
        return self._health

    def close(self) -> None:
        for led in self._leds.values():
            led.close()


def mock_pin_factory():
    """gpiozero's mock pins, for simulated hardware and tests."""
    from gpiozero.pins.mock import MockFactory

    return MockFactory()
