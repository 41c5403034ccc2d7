"""Messages from central, routed by topic. What is quick (confirmations, answers someone waits for) is
handled on paho's network thread; what may take long (a remote command: `print-test` holds the printer
for seconds; a catalogue update: parse, verify, write) goes to one core worker thread, so the network
thread keeps its keepalive and the other messages flowing."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from appliance.monitor.watchdog import Liveness

log = logging.getLogger("kiosk.inbox")

Handle = Callable[[str, bytes], None]
WORKER_ALLOWANCE_S = 120.0  # a command may hold the worker this long (a print job's own bounds are shorter)
WORKER_QUEUE = 1000  # beyond this a message is dropped and logged: central gets no result and may send again


class CoreWorker:
    """One thread that runs slow messages in arrival order."""

    def __init__(self, liveness: Liveness, name: str = "core-worker") -> None:
        self._liveness = liveness
        self._name = name
        self._queue: queue.Queue[tuple[Handle, str, bytes] | None] = queue.Queue(WORKER_QUEUE)
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._liveness.expect(self._name, within_s=WORKER_ALLOWANCE_S)
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)

    def submit(self, handle: Handle, topic: str, payload: bytes) -> None:
        try:
            self._queue.put_nowait((handle, topic, payload))
        except queue.Full:
            log.error("core worker busy: message on %s dropped", topic)

    def _loop(self) -> None:
        while True:
            self._liveness.beat(self._name)
            try:
                work = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if work is None:
                return
            handle, topic, payload = work
            try:
                handle(topic, payload)
            except Exception:
                log.exception("message on %s failed", topic)


class Inbox:
    """Topic → handler; `slow` handlers run on the core worker."""

    def __init__(self, worker: CoreWorker) -> None:
        self._worker = worker
        self._exact: dict[str, tuple[Handle, bool]] = {}
        self._prefixes: list[tuple[str, Handle, bool]] = []

    def route(self, topic: str, handle: Handle, slow: bool = False) -> None:
        self._exact[topic] = (handle, slow)

    def route_prefix(self, prefix: str, handle: Handle, slow: bool = False) -> None:
        self._prefixes.append((prefix, handle, slow))

    def __call__(self, topic: str, payload: bytes) -> None:
        found = self._exact.get(topic) or next(((h, s) for p, h, s in self._prefixes if topic.startswith(p)), None)
        if found is None:
            log.warning("message on unexpected topic %s ignored", topic)
            return
        handle, slow = found
        if slow:
            self._worker.submit(handle, topic, payload)
        else:
            handle(topic, payload)
