"""What every serial device driver shares: explicit line settings, a thread of its own, and a port
that is reopened by itself when a USB adapter comes back.

`port` is a device path or a pyserial URL: `socket://host:9100` for a network printer and
`lp:///dev/usb/lp0` for a USB printer-class device (`drivers.protocol_lp`).

A subclass implements `_on_open` (check the device answers; return its health) and `_work` (one
round of talking to it). Port errors in either are caught here and turn the health to ABSENT;
any other exception is logged as a driver bug and turns it to FAULT — the thread never ends.
"""

from __future__ import annotations

import contextlib
import logging
import termios
import threading
from abc import ABC, abstractmethod

import serial

from drivers.health import NOT_OPENED, Health, HealthState

log = logging.getLogger("kiosk.serial")
if "drivers" not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append("drivers")  # lp:// → drivers.protocol_lp

# What a vanished USB adapter raises, depending on which call meets it first.
PORT_ERRORS = (serial.SerialException, OSError, termios.error)
REOPEN_S = 1.0
WRITE_TIMEOUT_S = 5.0  # a device that takes no bytes for this long (flow control held) is stuck
FLOW_CONTROLS = ("none", "rtscts", "dsrdtr", "xonxoff")


class SerialDevice(ABC):
    name = "serial device"

    def __init__(self, port: str, baud: int, idle_s: float, flow_control: str = "none") -> None:
        self._port = port
        self._baud = baud
        self._flow_control = flow_control
        self._idle_s = idle_s
        self._serial: serial.Serial | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._health = NOT_OPENED

    def health(self) -> Health:
        return self._health

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_port()

    @abstractmethod
    def _on_open(self, port: serial.Serial) -> Health:
        """The port just opened: find out whether the device is there and well."""

    @abstractmethod
    def _work(self, port: serial.Serial) -> None:
        """One round of talking to the device; called every `idle_s` while the port is open."""

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self._serial is None:
                    if not self._open_port():
                        self._stopping.wait(REOPEN_S)
                        continue
                    self._set_health(self._on_open(self._serial))
                self._work(self._serial)
            except PORT_ERRORS as exc:
                log.warning("%s port %s lost: %s", self.name, self._port, exc)
                self._close_port()
                self._set_health(Health(HealthState.ABSENT, "port_lost"))
                continue
            except Exception:
                log.exception("%s driver failed; carrying on", self.name)
                self._set_health(Health(HealthState.FAULT, "driver_error"))
            self._stopping.wait(self._idle_s)

    def _open_port(self) -> bool:
        try:
            # Every line setting explicit: 8N1, the flow control asked for (default none), exclusive use.
            self._serial = serial.serial_for_url(
                self._port, self._baud, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE, timeout=0.05, write_timeout=WRITE_TIMEOUT_S,
                rtscts=self._flow_control == "rtscts", dsrdtr=self._flow_control == "dsrdtr",
                xonxoff=self._flow_control == "xonxoff", exclusive=True,
            )
        except (*PORT_ERRORS, ValueError):
            self._serial = None
            self._set_health(Health(HealthState.ABSENT, "port_missing"))
            return False
        log.info("%s: opened %s at %d baud", self.name, self._port, self._baud)
        return True

    def _close_port(self) -> None:
        if self._serial is not None:
            with contextlib.suppress(*PORT_ERRORS):
                self._serial.close()
        self._serial = None

    def _set_health(self, health: Health) -> None:
        if health != self._health:
            log.info("%s health: %s (%s)", self.name, health.state.value, health.reason)
            self._health = health
