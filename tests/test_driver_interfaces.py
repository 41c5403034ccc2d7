"""Every device kind behind an interface: null devices for what a booth does not have, and the serial
port's thread apart from the protocol it drives."""

from __future__ import annotations

from pathlib import Path

import pytest
import serial

from appliance.devices.hardware import build_hardware
from drivers.card_reader import NullCardReader
from drivers.health import NOT_FITTED, OK, DeviceAbsent, Health, HealthState
from drivers.leds import LedPattern, NullLeds, StatusLeds, mock_pin_factory
from drivers.printer import Document, NullPrinter, PrintError
from drivers.pty_port import PtyPort
from drivers.scanner import NullScanner, ScanEvent, ScanEventKind, ScanLines
from drivers.serial_device import PortProtocol, PortThread
from drivers.touchscreen import InputDeviceTouchscreen, NullTouchscreen
from tests.support import Collector, kiosk_config, wait_until

NULLS = [NullCardReader, NullPrinter, NullLeds, NullScanner, NullTouchscreen]


@pytest.mark.parametrize("null", NULLS, ids=lambda cls: cls.__name__)
def test_a_null_device_is_absent_not_fitted_and_opens_and_closes_quietly(null: type) -> None:
    device = null()
    assert device.fitted is False
    assert device.health() == NOT_FITTED == Health(HealthState.ABSENT, "not_fitted")
    if isinstance(device, NullCardReader | NullScanner):
        heard: list[object] = []
        device.open(heard.append)
        assert heard == []
    elif isinstance(device, NullPrinter):
        device.open()
    device.close()


def test_null_leds_remember_the_pattern_and_cannot_be_cycled() -> None:
    leds = NullLeds()
    leds.show(LedPattern.FAULT)
    assert leds.pattern is LedPattern.FAULT, "the heartbeat still says what the booth would show"
    with pytest.raises(DeviceAbsent):
        leds.cycle(step_s=0)


def test_leds_without_usable_gpio_are_absent_and_cycling_them_raises_device_absent() -> None:
    factory = mock_pin_factory()
    try:
        leds = StatusLeds(green=17, amber=17, red=22, pin_factory=factory)  # a pin taken twice: no GPIO for them
        assert leds.fitted is True
        assert leds.health() == Health(HealthState.ABSENT, "no_gpio")
        with pytest.raises(DeviceAbsent):
            leds.cycle(step_s=0)
        leds.show(LedPattern.READY)
        assert leds.pattern is LedPattern.READY
        leds.close()
    finally:
        factory.reset()


def test_printing_on_a_null_printer_is_a_print_error_saying_not_fitted() -> None:
    with pytest.raises(PrintError) as failed:
        NullPrinter().print(Document().title("x"))
    assert failed.value.reason == "not_fitted"
    assert isinstance(failed.value, DeviceAbsent), "callers that tell 'not fitted' apart can"


def test_a_null_card_reader_has_nothing_to_self_test() -> None:
    with pytest.raises(DeviceAbsent):
        NullCardReader().self_test()


def test_a_null_touchscreen_never_asks_for_a_restart(tmp_path: Path) -> None:
    assert NullTouchscreen().needs_restart() is False
    watched = InputDeviceTouchscreen(tmp_path / "event0")  # configured but not there at start
    assert watched.fitted is True and watched.health() == Health(HealthState.ABSENT, "not_found")
    assert watched.needs_restart() is False
    watched.close()


def test_hardware_without_scanner_or_touchscreen_holds_null_devices_not_none(tmp_path: Path) -> None:
    config = kiosk_config(tmp_path / "state", 1883, hardware={"scanner": {"enabled": False}})
    config.storage.dir.mkdir(parents=True)
    hardware = build_hardware(config)
    try:
        assert isinstance(hardware.scanner, NullScanner)
        assert isinstance(hardware.touchscreen, NullTouchscreen)
        assert list(hardware.fitted()) == ["card_reader", "printer", "leds"]
        assert list(hardware.devices()) == ["card_reader", "printer", "leds", "scanner", "touchscreen"]
    finally:
        hardware.close()


def test_the_heartbeat_leaves_out_the_devices_a_booth_does_not_have(make_kiosk, broker) -> None:
    collector = Collector(broker)
    try:
        kiosk = make_kiosk(broker.port, hardware={"scanner": {"enabled": False}})
        wait_until(lambda: kiosk.link.connected)
        assert set(kiosk.health_snapshot()["drivers"]) == {"card_reader", "printer", "leds"}
        births = collector.wait_for(lambda c: c.on("/status"))  # the devices fitted: the birth says which
        assert births[0].json()["fitted"] == ["card_reader", "printer", "leds"]
        kiosk.publish_heartbeat()  # and the heartbeat names only those not ok
        beats = collector.wait_for(lambda c: c.on("/heartbeat"))
        assert set(beats[-1].json()["drivers"]) <= {"card_reader", "printer", "leds"}
    finally:
        collector.close()


def test_a_booth_with_a_scanner_reports_it(make_kiosk, broker) -> None:
    kiosk = make_kiosk(broker.port)
    wait_until(lambda: kiosk.health_snapshot()["drivers"].get("scanner") == OK.as_dict(), timeout=10)
    assert "touchscreen" not in kiosk.health_snapshot()["drivers"], "no touch device configured"


# -- the port's thread apart from the protocol ------------------------------------------------------
class Recorder(PortProtocol):
    """Keeps what arrives; fails once, as a driver bug would, when told to."""

    def __init__(self) -> None:
        self.opened = 0
        self.received = bytearray()
        self.fail_next = False

    def connection_made(self, port: serial.SerialBase) -> Health:
        self.opened += 1
        return OK

    def poll(self, port: serial.SerialBase) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ValueError("a driver bug")
        self.received += port.read(port.in_waiting or 1)


def test_the_port_thread_opens_survives_a_protocol_bug_and_reopens_a_returning_port(tmp_path: Path) -> None:
    pty = PtyPort(tmp_path / "ttyTEST")
    protocol = Recorder()
    link = PortThread("test device", str(pty.path), 9600, protocol, idle_s=0.01)
    link.start()
    try:
        wait_until(lambda: link.health() == Health(HealthState.ABSENT, "port_missing"), timeout=5)
        assert link.port is None
        pty.plug()
        wait_until(lambda: link.health() == OK, timeout=5)
        pty.write(b"abc")
        wait_until(lambda: bytes(protocol.received) == b"abc", timeout=5)
        protocol.fail_next = True
        wait_until(lambda: link.health() == Health(HealthState.FAULT, "driver_error"), timeout=5)
        pty.write(b"d")
        wait_until(lambda: bytes(protocol.received) == b"abcd", timeout=5)
        link.drop()  # a caller's own exchange found the port dead
        wait_until(lambda: protocol.opened == 2 and link.health() == OK, timeout=5)
        pty.unplug()
        wait_until(lambda: link.health().state is HealthState.ABSENT, timeout=5)
        pty.plug()
        wait_until(lambda: protocol.opened == 3 and link.health() == OK, timeout=5)
    finally:
        link.close()
        pty.unplug()
    assert link.port is None


def test_a_protocol_runs_without_a_thread() -> None:
    port = serial.serial_for_url("loop://", timeout=0.05)
    events: list[ScanEvent] = []
    lines = ScanLines(events.append)
    assert lines.connection_made(port) == OK
    port.write(b"01KAX3\r\nhalf")
    lines.poll(port)
    assert events == [ScanEvent(ScanEventKind.CODE, text="01KAX3")]
    assert lines.connection_made(port) == OK  # reopened: the half line from before is gone
    port.write(b" line\r\n")
    lines.poll(port)
    assert events[1:] == [ScanEvent(ScanEventKind.CODE, text="line")]
    port.close()
