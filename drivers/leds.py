"""Status LEDs (green / amber / red): the `Leds` interface, `StatusLeds` on GPIO through gpiozero, and
`NullLeds` for a booth without any.

Off a Pi, gpiozero's own mock pin factory stands in for the pins, so `StatusLeds` runs the same code
in simulation and under test (the tests read the mock pins' state history).
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import TYPE_CHECKING

from drivers.health import NOT_FITTED, OK, DeviceAbsent, Health, HealthState

if TYPE_CHECKING:
    from gpiozero.pins.mock import MockFactory

log = logging.getLogger("kiosk.leds")


class LedPattern(StrEnum):
    READY = "ready"  # green steady
    DEGRADED = "degraded"  # amber steady
    FAULT = "fault"  # red steady
    WORKING = "working"  # green blinking
    MAINTENANCE = "maintenance"  # amber blinking
    OFF = "off"


BLINK_S = {LedPattern.WORKING: 0.25, LedPattern.MAINTENANCE: 0.5}  # on = off time of each blink


class Leds(ABC):
    """The booth's status lights: one `LedPattern` at a time.

    An implementation must override `show` (light `pattern` and remember it in `pattern`; showing the
    current one again changes nothing), `cycle` (light each LED alone in turn for a maintainer's check,
    then restore the pattern; return the LEDs' names in the order lit, or raise `DeviceAbsent` when
    there are none to light), `health` (at once, without blocking) and `close` (free the pins). `fitted`
    is False only for `NullLeds`.
    """

    fitted: bool = True
    pattern: LedPattern = LedPattern.OFF  # the pattern last shown (or remembered, where nothing lights)

    @abstractmethod
    def show(self, pattern: LedPattern) -> None: ...

    @abstractmethod
    def cycle(self, step_s: float = 0.3) -> list[str]: ...

    @abstractmethod
    def health(self) -> Health: ...

    @abstractmethod
    def close(self) -> None: ...


class NullLeds(Leds):
    """The LEDs of a booth without any: remembers the pattern it was asked to show (the heartbeat reports
    it), reports `absent/not_fitted`, and `cycle` raises `DeviceAbsent`."""

    fitted = False

    def show(self, pattern: LedPattern) -> None:
        self.pattern = pattern

    def cycle(self, step_s: float = 0.3) -> list[str]:
        raise DeviceAbsent("no status LEDs are fitted")

    def health(self) -> Health:
        return NOT_FITTED

    def close(self) -> None:
        pass


class StatusLeds(Leds):
    """Shows one `LedPattern` at a time on three LEDs on GPIO."""

    def __init__(self, green: int, amber: int, red: int, active_high: bool = True,
                 pin_factory: object | None = None) -> None:
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
                raise DeviceAbsent("status LEDs unavailable: no GPIO")
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


def mock_pin_factory() -> MockFactory:
    """gpiozero's mock pins, for simulated hardware and tests."""
    from gpiozero.pins.mock import MockFactory

    return MockFactory()
