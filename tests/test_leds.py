"""Status LEDs on gpiozero's mock pins, compared as exact pin state histories.

gpiozero's own `MockPin.assert_states` passes silently when the recorded list is shorter than the
expected one, so these tests compare whole lists. Each test builds its own mock factory and resets
it afterwards: no pin reservation or history leaks from one test into another.
"""

from __future__ import annotations

import pytest

from drivers.leds import LedPattern, StatusLeds, mock_pin_factory
from tests.support import place_card, set_printer, wait_until


@pytest.fixture
def factory():
    pins = mock_pin_factory()
    yield pins
    pins.reset()


def history(leds: StatusLeds) -> dict[str, list[bool]]:
    return {name: [bool(s.state) for s in pin.states] for name, pin in leds.pins().items()}


def test_each_steady_pattern_lights_exactly_one_led(factory) -> None:
    leds = StatusLeds(green=17, amber=27, red=22, pin_factory=factory)
    for pattern in (LedPattern.READY, LedPattern.DEGRADED, LedPattern.FAULT, LedPattern.OFF, LedPattern.READY):
        leds.show(pattern)
    leds.show(LedPattern.READY)  # the same pattern again changes nothing
    assert history(leds) == {
        "green": [False, True, False, True],
        "amber": [False, True, False],
        "red": [False, True, False],
    }
    leds.close()


def test_active_low_leds_are_lit_by_driving_the_pin_low(factory) -> None:
    leds = StatusLeds(green=5, amber=6, red=13, active_high=False, pin_factory=factory)
    leds.show(LedPattern.FAULT)
    leds.show(LedPattern.READY)
    # The mock pin starts low; gpiozero drives it high (off) when it takes the pin.
    assert history(leds) == {"green": [False, True, False], "amber": [False, True], "red": [False, True, False, True]}
    leds.close()


@pytest.mark.parametrize("pattern, blinking", [(LedPattern.WORKING, "green"), (LedPattern.MAINTENANCE, "amber")])
def test_blinking_patterns_alternate_on_one_led_only(factory, pattern: LedPattern, blinking: str) -> None:
    leds = StatusLeds(green=17, amber=27, red=22, pin_factory=factory)
    leds.show(pattern)
    wait_until(lambda: len(history(leds)[blinking]) >= 6, timeout=5)
    leds.show(LedPattern.FAULT)
    states = history(leds)
    blinks = (len(states[blinking]) - 1) // 2
    assert states[blinking] == [False] + [True, False] * blinks, "on, off, on, off … and off when it stops"
    others = {name: states[name] for name in states if name != blinking}
    assert others == {name: [False, True] if name == "red" else [False] for name in others}
    leds.close()


def test_the_kiosk_shows_its_health_on_the_leds(make_kiosk, broker) -> None:
    kiosk = make_kiosk(broker.port)
    leds = kiosk.hardware.leds
    wait_until(lambda: leds.pattern == LedPattern.READY, timeout=10)
    for pin in leds.pins().values():
        pin.clear_states()  # from here on; while starting, drivers not yet open show red or amber briefly
    set_printer(kiosk, "paper_near_end")
    wait_until(lambda: leds.pattern == LedPattern.DEGRADED, timeout=5)
    set_printer(kiosk, "paper_end")
    wait_until(lambda: leds.pattern == LedPattern.FAULT, timeout=5)
    set_printer(kiosk, None)
    wait_until(lambda: leds.pattern == LedPattern.READY, timeout=5)
    place_card(kiosk)
    wait_until(lambda: leds.pattern == LedPattern.WORKING, timeout=5)
    kiosk.end_session()
    wait_until(lambda: leds.pattern == LedPattern.READY, timeout=5)
    kiosk.hardware.card_reader_sim.vanish()
    wait_until(lambda: leds.pattern == LedPattern.FAULT, timeout=5)
    kiosk.hardware.card_reader_sim.come_back()
    wait_until(lambda: leds.pattern == LedPattern.READY, timeout=10)
    kiosk.set_maintenance(True)
    assert leds.pattern == LedPattern.MAINTENANCE
    kiosk.set_maintenance(False)
    broker.stop()
    wait_until(lambda: leds.pattern == LedPattern.DEGRADED, timeout=10)
    states = history(leds)
    assert states["red"] == [False, True, False, True, False], "red for paper out, and for the reader gone"
    assert states["amber"][:3] == [False, True, False], "amber for paper near end"
    assert states["amber"][-1] is True, "amber once the broker is gone"
