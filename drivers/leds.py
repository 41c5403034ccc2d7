"""Status LEDs (green / amber / red) on GPIO through gpiozero.

There is one implementation: off a Pi, gpiozero's own mock pin factory stands in for the pins, so
the same code runs in simulation and under test (the tests read the mock pins' state history).
"""

from __future__ import annotations

import threading
import time
from enum import StrEnum

from drivers.health import OK, Health


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
        from gpiozero import LED

        self._leds = {
            name: LED(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
            for name, pin in (("green", green), ("amber", amber), ("red", red))
        }
        self._lock = threading.Lock()
        self.pattern = LedPattern.OFF

    def show(self, pattern: LedPattern) -> None:
        with self._lock:
            if pattern == self.pattern:
                return
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
        return OK

    def close(self) -> None:
        for led in self._leds.values():
            led.close()


def mock_pin_factory():
    """gpiozero's mock pins, for simulated hardware and tests."""
    from gpiozero.pins.mock import MockFactory

    return MockFactory()
