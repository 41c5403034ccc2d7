"""Event ids: ULIDs (time-ordered, 26 Crockford base-32 characters), monotonic within a process."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class UlidGenerator:
    """Makes ULIDs that sort in creation order, even several within one millisecond."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms <= self._last_ms:  # same millisecond, or the clock stepped back: keep order
                ms = self._last_ms
                rand = self._last_random + 1
            else:
                rand = int.from_bytes(os.urandom(10), "big") >> 1  # room to increment
            self._last_ms, self._last_random = ms, rand
        value = (ms << 80) | rand
        return "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))
