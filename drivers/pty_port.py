"""The far end of a simulated serial device: a real pseudo-terminal behind a stable symlink.

The driver opens `path` as it would /dev/ttyUSB0. `unplug()` is a USB adapter pulled out (the
symlink goes and the driver's file descriptor dies); `plug()` brings a fresh pseudo-terminal back
under the same path, as udev's /dev/serial/by-id links do.
"""

from __future__ import annotations

import contextlib
import os
import select
import tty
from pathlib import Path


class PtyPort:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes pass as they are
        self._master, self._slave = master, slave  # keeping the slave open: no hang-up between openings
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staged = self.path.with_name(self.path.name + ".new")
        staged.unlink(missing_ok=True)
        staged.symlink_to(os.ttyname(slave))
        staged.replace(self.path)

    def unplug(self) -> None:
        self.path.unlink(missing_ok=True)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def read(self, timeout_s: float) -> bytes:
        """What the driver sent, waiting at most `timeout_s`; b"" when nothing came or unplugged."""
        master = self._master
        if master is None:
            return b""
        try:
            ready, _, _ = select.select([master], [], [], timeout_s)
            return os.read(master, 4096) if ready else b""
        except OSError:
            return b""

    def write(self, data: bytes) -> None:
        master = self._master
        if master is not None:
            with contextlib.suppress(OSError):  # unplugged while writing: lost, as on a real cable
                os.write(master, data)
