"""The core's one periodic thread, driven by a table of jobs (name, every how many seconds, what to do).

Each pass beats the watchdog's liveness, so a job that hangs ends in a restart (monitor/watchdog.py). Every
job is due at the first pass, then every `interval_s`; a job that raises is logged once, and again only
after it has worked in between, so a broken disk does not fill the journal once a second."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from appliance.monitor.watchdog import Liveness

log = logging.getLogger("kiosk.ticker")

PASS_S = 1.0
LOOP_ALLOWANCE_S = 10.0  # a core loop silent this long is stuck (each passes at least once a second)


@dataclass
class Job:
    name: str
    interval_s: float
    run: Callable[[], object]
    next_at: float = 0.0
    failing: bool = field(default=False, repr=False)


class Ticker:
    def __init__(self, liveness: Liveness, name: str = "core-ticker") -> None:
        self._liveness = liveness
        self._name = name
        self._jobs: list[Job] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def every(self, interval_s: float, name: str, run: Callable[[], object]) -> None:
        """Run `run` every `interval_s` (at the pass when it is due), in the order jobs were added."""
        self._jobs.append(Job(name, interval_s, run))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._liveness.expect(self._name, within_s=LOOP_ALLOWANCE_S)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stopping.wait(PASS_S):
            self._liveness.beat(self._name)
            now = time.monotonic()
            for job in self._jobs:
                if now >= job.next_at:
                    job.next_at = now + job.interval_s
                    self._run(job)

    @staticmethod
    def _run(job: Job) -> None:
        try:
            job.run()
        except Exception:
            if not job.failing:
                log.exception("core job %s failed (logged once until it works again)", job.name)
            job.failing = True
        else:
            if job.failing:
                log.info("core job %s works again", job.name)
            job.failing = False
