"""pyserial URL handler `lp://<path>`: a USB printer-class device file (/dev/usb/lp0) used as a port.

Linux's usblp driver gives a USB printer a character device that reads and writes but is no tty,
so pyserial's own Serial (which needs termios) cannot open it. With this handler the printer driver
talks to serial, USB and TCP (`socket://`) printers through one interface. pyserial finds it by
name once `drivers` is in `serial.protocol_handler_packages` (see `drivers.serial_device`).
"""

from __future__ import annotations

import contextlib
import os
import select
import time

from serial import PortNotOpenError, SerialBase, SerialException, SerialTimeoutException

PREFIX = "lp://"


class Serial(SerialBase):
    fd: int | None = None

    def open(self) -> None:
        if self.is_open:
            raise SerialException("port already open")
        path = str(self.portstr)
        path = path[len(PREFIX):] if path.startswith(PREFIX) else path
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as exc:
            raise SerialException(exc.errno, f"could not open printer device {path}: {exc.strerror}") from exc
        self.is_open = True

    def _reconfigure_port(self, force_update: bool = False) -> None:
        pass  # a USB printer has no line settings

    def close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = None
        self.is_open = False

    def _fd(self) -> int:
        if self.fd is None:
            raise PortNotOpenError()
        return self.fd

    @property
    def in_waiting(self) -> int:
        ready, _, _ = select.select([self._fd()], [], [], 0)
        return 1 if ready else 0

    def read(self, size: int = 1) -> bytes:
        fd = self._fd()
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        data = bytearray()
        while len(data) < size:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                break
            chunk = os.read(fd, size - len(data))  # OSError when the printer is unplugged
            if not chunk:
                raise SerialException("printer device returned no data (unplugged?)")
            data += chunk
        return bytes(data)

    def write(self, data: bytes) -> int:
        fd = self._fd()
        deadline = None if self._write_timeout is None else time.monotonic() + self._write_timeout
        view = memoryview(bytes(data))
        while view:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                raise SerialTimeoutException("write timeout: the printer takes no more data")
            _, ready, _ = select.select([], [fd], [], wait)
            if ready:
                view = view[os.write(fd, view):]
        return len(data)

    def reset_input_buffer(self) -> None:
        fd = self._fd()
        while select.select([fd], [], [], 0)[0]:
            if not os.read(fd, 4096):
                break

    def reset_output_buffer(self) -> None:
        pass
