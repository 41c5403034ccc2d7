"""systemd's watchdog, fed only while the booth is really alive.

`kiosk.service` is `Type=notify` with `WatchdogSec=`: systemd restarts the service when the pings stop.
A ping proves little if it comes from a thread that runs whatever else hangs, so the loops that matter
(the core's ticker, the outbox pump, the UI's clock) each `beat()` on every pass, other parts are asked
whether they are alive (paho's network thread), and the watchdog thread pings only while every one of
them is. A stuck loop therefore ends in a restart, and `STATUS=` says which one it was.

The protocol (sd_notify(3)): datagrams such as `READY=1`, `WATCHDOG=1`, `STATUS=…`, `STOPPING=1` sent to
the socket named by `$NOTIFY_SOCKET` (a leading `@` means Linux's abstract namespace); the interval is
`$WATCHDOG_USEC`, and one pings at half of it. Outside systemd both are absent and nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("kiosk.watchdog")

IDLE_CHECK_S = 5.0  # how often liveness is judged when systemd asks for no watchdog


class Notifier:
    """Sends sd_notify messages to `$NOTIFY_SOCKET`; does nothing when it is not set."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        path = environ.get("NOTIFY_SOCKET", "")
        self._address = "\0" + path[1:] if path.startswith("@") else path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) if path else None
        usec = environ.get("WATCHDOG_USEC", "")
        self.watchdog_s = int(usec) / 1_000_000 if usec.isdigit() and int(usec) > 0 else None

    def notify(self, *lines: str) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:
            log.warning("could not notify systemd: %s", exc)


class Liveness:
    """Named loops that report every pass; one silent longer than its allowance is stuck."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._allowance: dict[str, float] = {}
        self._last: dict[str, float] = {}

    def expect(self, name: str, within_s: float) -> None:
        with self._lock:
            self._allowance[name] = within_s
            self._last[name] = time.monotonic()

    def beat(self, name: str) -> None:
        self._last[name] = time.monotonic()  # one dict store: safe without the lock

    def stuck(self) -> list[str]:
        now = time.monotonic()
        with self._lock:
            return sorted(name for name, within in self._allowance.items() if now - self._last[name] > within)


class Watchdog(threading.Thread):
    """Pings systemd at half its interval while `liveness` has nothing stuck and every `alive` check
    passes; announces READY at start and STOPPING at the end."""

    def __init__(self, liveness: Liveness, alive: Mapping[str, Callable[[], bool]], notifier: Notifier) -> None:
        super().__init__(name="watchdog", daemon=True)
        self._liveness = liveness
        self._alive = alive
        self._notifier = notifier
        self._stopping = threading.Event()
        self.pings = 0
        self.last_problem: list[str] = []

    def problems(self) -> list[str]:
        dead = [name for name, check in self._alive.items() if not _passes(check)]
        return sorted(self._liveness.stuck() + dead)

    def start(self) -> None:
        self._notifier.notify("READY=1", "STATUS=serving")
        super().start()

    def stop(self) -> None:
        self._stopping.set()
        self._notifier.notify("STOPPING=1", "STATUS=stopping")
        if self.is_alive():
            self.join(timeout=5)

    def run(self) -> None:
        period = self._notifier.watchdog_s / 2 if self._notifier.watchdog_s else IDLE_CHECK_S
        while not self._stopping.wait(period):
            problems = self.problems()
            if not problems:
                self._notifier.notify("WATCHDOG=1")
                self.pings += 1
                if self.last_problem:
                    log.info("all loops alive again")
            elif problems != self.last_problem:
                log.error("not alive: %s; systemd's watchdog will restart the service", ", ".join(problems))
                self._notifier.notify(f"STATUS=not alive: {', '.join(problems)}")
            self.last_problem = problems


def _passes(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
