"""A serial device's port, kept apart from what is said on it (the idea of pyserial's `ReaderThread`
and `Protocol`): `PortThread` owns the port — explicit line settings, a thread of its own, reopening
when a USB adapter comes back, the health that follows from all that — and a `PortProtocol` knows the
device's language. Neither knows the other's insides, so a protocol is tested without a thread and the
reconnect logic is written once.

`url` is a device path or a pyserial URL: `socket://host:9100` for a network printer and
`lp:///dev/usb/lp0` for a USB printer-class device (`drivers.protocol_lp`).
"""

from __future__ import annotations

import contextlib
import logging
import termios
import threading
import time
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
PORT_LOST = Health(HealthState.ABSENT, "port_lost")
PORT_MISSING = Health(HealthState.ABSENT, "port_missing")
DRIVER_ERROR = Health(HealthState.FAULT, "driver_error")


class PortProtocol(ABC):
    """What a device says on its port, called by its `PortThread` on that thread.

    An implementation must override `connection_made` (the port just opened: is the device there and
    well?) and `poll` (one round of talking to it; called every `idle_s` while the port is open). Either
    may raise a port error (`PORT_ERRORS`): the thread then drops the port, reports it lost and reopens
    it. Any other exception is a driver bug: logged, the health turns to FAULT, and the thread goes on.
    """

    @abstractmethod
    def connection_made(self, port: serial.SerialBase) -> Health:
        """The port just opened (first time or again): find out whether the device answers."""

    @abstractmethod
    def poll(self, port: serial.SerialBase) -> None:
        """One round of talking to the device."""


class PortThread:
    """One serial port and the thread that drives a `PortProtocol` through it; it never ends by itself."""

    def __init__(self, name: str, url: str, baud: int, protocol: PortProtocol, idle_s: float,
                 flow_control: str = "none") -> None:
        self.name = name
        self.url = url
        self.baud = baud
        self._protocol = protocol
        self._flow_control = flow_control
        self._idle_s = idle_s
        self._serial: serial.SerialBase | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._health = NOT_OPENED

    @property
    def port(self) -> serial.SerialBase | None:
        """The open port, or None while there is none (not yet opened, lost, or closed)."""
        return self._serial

    def health(self) -> Health:
        """The last known health, without blocking."""
        return self._health

    def set_health(self, health: Health) -> None:
        """The protocol's verdict on the device; changes are logged once each."""
        if health != self._health:
            log.info("%s health: %s (%s)", self.name, health.state.value, health.reason)
            self._health = health

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._close_port()

    def drop(self) -> None:
        """The port failed (here or in a caller's own exchange, e.g. a print): close it and report it
        lost; the thread opens it again."""
        self._close_port()
        self.set_health(PORT_LOST)

    def _run(self) -> None:
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                if self._serial is None:
                    if not self._open_port():
                        self._stopping.wait(REOPEN_S)
                        continue
                    self.set_health(self._protocol.connection_made(self._serial))
                self._protocol.poll(self._serial)
            except PORT_ERRORS as exc:
                log.warning("%s port %s lost: %s", self.name, self.url, exc)
                self.drop()
                continue
            except Exception:
                log.exception("%s driver failed; carrying on", self.name)
                self.set_health(DRIVER_ERROR)
            # every idle_s from the start of the last poll, not idle_s after its end: a card reader's poll
            # period is what a card placed waits for, and its exchange's own time must not lengthen it
            self._stopping.wait(max(0.0, self._idle_s - (time.monotonic() - began)))

    def _open_port(self) -> bool:
        try:
            # Every line setting explicit: 8N1, the flow control asked for (default none), exclusive use.
            self._serial = serial.serial_for_url(
                self.url, self.baud, bytesize=serial.EIGHTBITS, parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE, timeout=0.05, write_timeout=WRITE_TIMEOUT_S,
                rtscts=self._flow_control == "rtscts", dsrdtr=self._flow_control == "dsrdtr",
                xonxoff=self._flow_control == "xonxoff", exclusive=True,
            )
        except (*PORT_ERRORS, ValueError):
            self._serial = None
            self.set_health(PORT_MISSING)
            return False
        log.info("%s: opened %s at %d baud", self.name, self.url, self.baud)
        return True

    def _close_port(self) -> None:
        if self._serial is not None:
            with contextlib.suppress(*PORT_ERRORS):
                self._serial.close()
        self._serial = None
