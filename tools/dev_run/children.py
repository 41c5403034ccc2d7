"""The processes of `./dev run`: each in a session of its own, its output relayed and logged, stopped in
order (the last started first) by SIGTERM to its group, SIGKILL after a wait or at a second signal."""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

STOP_WAIT_S = 20


def say(text: str) -> None:
    print(f"dev run: {text}", flush=True)


class Stopped(Exception):
    """SIGINT or SIGTERM arrived while starting."""


class Failed(Exception):
    """Something could not start or stopped by itself: the message says what and where its log is."""



def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when this process dies, however it dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Child:
    """One process in a session of its own; its output relayed, prefixed, and written to its log."""

    def __init__(self, name: str, argv: list[str], log: Path, *, cwd: Path, env: dict[str, str] | None = None,
                 relay: bool = True) -> None:
        self.name, self.argv, self.log, self.cwd, self.env, self.relay = name, argv, log, cwd, env, relay
        self.process: subprocess.Popen | None = None
        self._log_file: IO[bytes] | None = None
        self._partial = b""

    def start(self) -> Child:
        self.cwd.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.relay else self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_parent)
        if self.relay:
            os.set_blocking(self.process.stdout.fileno(), False)
        return self

    @property
    def called(self) -> str:
        return "central" if self.name == "central" else f"the {self.name}"

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def pump(self) -> bool:
        """Relay what the child has written; False at its end of file."""
        assert self.process is not None and self._log_file is not None
        try:
            data = os.read(self.process.stdout.fileno(), 65536)
        except BlockingIOError:
            return True
        if not data:
            self._emit(self._partial, final=True)
            return False
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._emit(line)
        return True

    def _emit(self, line: bytes, final: bool = False) -> None:
        if final and not line:
            return
        self._log_file.write(line + b"\n")
        self._log_file.flush()
        text = line.decode("utf-8", "replace").rstrip("\r")
        sys.stdout.write(f"{self.name:<7} | {text}\n")
        sys.stdout.flush()

    def signal(self, signum: int) -> None:
        """To its process group (its own session's): whatever it started and left there gets it too."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def close(self) -> None:
        if self._log_file:
            self._log_file.close()


class Supervisor:
    """The children, the signals, and waiting for either."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.signals = 0
        self.selector = selectors.DefaultSelector()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.signals += 1

    def start(self, child: Child) -> Child:
        self.children.append(child.start())
        if child.relay:
            self.selector.register(child.process.stdout, selectors.EVENT_READ, child)
        return child

    def poll(self, timeout: float) -> None:
        """Relay output for up to `timeout` seconds."""
        if not self.selector.get_map():
            time.sleep(timeout)
            return
        for key, _ in self.selector.select(timeout):
            if not key.data.pump():
                self.selector.unregister(key.fileobj)

    def watch(self, until: Callable[[], Any] | None = None, timeout: float | None = None, what: str = "") -> Any:
        """Relay output until `until()` is true (returned), a signal (Stopped), a child's exit (Failed) or
        the timeout (Failed, saying `what` did not happen)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.signals:
                raise Stopped
            for child in self.children:
                status = child.exited()
                if status is not None:
                    self.poll(0.2)  # its last words
                    raise Failed(f"{child.called} stopped by itself (exit status {status}); its log: {child.log}")
            if until is not None:
                found = until()
                if found:
                    return found
            if deadline is not None and time.monotonic() > deadline:
                raise Failed(f"{what} within {timeout:g} s; the logs are in {self.children[-1].log.parent}")
            self.poll(0.25)

    def stop_all(self) -> bool:
        """The last started first: SIGTERM to its group, SIGKILL after STOP_WAIT_S or at another signal.
        True when every child stopped as asked (status 0, or SIGTERM before it had its own handler)."""
        clean = True
        seen = self.signals
        for child in reversed(self.children):
            running = child.exited() is None  # one that ended already was reported by watch()
            if running:
                say(f"stopping {child.called} …")
            child.signal(signal.SIGTERM)
            deadline = time.monotonic() + STOP_WAIT_S
            while child.exited() is None:
                if self.signals > seen or time.monotonic() > deadline:
                    say(f"{child.called} is not stopping: killing it")
                    child.signal(signal.SIGKILL)
                    child.process.wait()
                    clean = False
                    break
                self.poll(0.1)
            child.signal(signal.SIGKILL)  # anything it started and left behind in its group
            status = child.exited()
            # -SIGTERM: it was still starting, before its own handler; that is a stop as asked, not a failure
            if running and status not in (0, -signal.SIGTERM, None):
                say(f"{child.called} exited with status {status}; its log: {child.log}")
                clean = False
        while self.selector.get_map():
            self.poll(0.05)
        for child in self.children:
            child.close()
        return clean


