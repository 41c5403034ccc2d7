"""The touchscreen's input device, watched for the failure Kivy cannot recover from by itself.

Kivy's input providers open `/dev/input/eventN` once; when the device goes away (a USB touch controller
resets after days, a loose cable) and comes back, the node is new and the old handle stays dead: the
screen shows, but no touch arrives. The booth notices by comparing the node with the one that was
there at start (gone, or a different device node now) — then only a restart brings touch back.
A booth that names no touch device (`hardware.touchscreen`) has a `NullTouchscreen`.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path

from drivers.health import NOT_FITTED, OK, Health, HealthState


class Touchscreen(ABC):
    """The watched touch input. An implementation must override `health` (at once, without blocking),
    `needs_restart` (True once touch cannot come back without restarting the UI) and `close`. `fitted`
    is False only for `NullTouchscreen`."""

    fitted: bool = True

    @abstractmethod
    def health(self) -> Health: ...

    @abstractmethod
    def needs_restart(self) -> bool: ...

    @abstractmethod
    def close(self) -> None: ...


class NullTouchscreen(Touchscreen):
    """No touch device is watched: `absent/not_fitted`, and never a reason to restart."""

    fitted = False

    def health(self) -> Health:
        return NOT_FITTED

    def needs_restart(self) -> bool:
        return False

    def close(self) -> None:
        pass


class InputDeviceTouchscreen(Touchscreen):
    """Watches one input device node (a `/dev/input/by-path` link or `eventN`) for going or being replaced."""

    def __init__(self, device: Path) -> None:
        self.device = device
        self._identity = self._current()  # what the UI's input provider opened at start

    def _current(self) -> tuple[int, int, int] | None:
        """Which node this is: a re-created one differs at least in its change time (inodes get reused)."""
        try:
            status = os.stat(self.device)  # follows /dev/input/by-path links to the event node
        except OSError:
            return None
        return status.st_ino, status.st_rdev, status.st_ctime_ns

    def health(self) -> Health:
        now = self._current()
        if self._identity is None:
            return Health(HealthState.ABSENT, "not_found") if now is None else Health(HealthState.DEGRADED,
                                                                                        "appeared_after_start")
        if now is None:
            return Health(HealthState.ABSENT, "device_gone")
        if now != self._identity:
            return Health(HealthState.FAULT, "device_replaced")
        return OK

    def needs_restart(self) -> bool:
        """True once the device that was there at start has gone or been replaced: the UI's handle is dead."""
        return self._identity is not None and self._current() != self._identity

    def close(self) -> None:
        pass  # a stat now and then holds nothing open
