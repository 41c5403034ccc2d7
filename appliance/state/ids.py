"""Event ids: ULIDs (time-ordered, 26 Crockford base-32 characters), monotonic within a process."""

from __future__ import annotations

import os
import random
import threading
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # every 10-bit value as two digits


class UlidGenerator:
    """Makes ULIDs that sort in creation order, even several within one millisecond."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0
        # Uniqueness, not secrecy, is what the random part is for: a fast generator seeded well.
        self._random = random.Random(os.urandom(32))

    def new(self) -> str:
        with self._lock:
            ms = time.time_ns() // 1_000_000
            if ms <= self._last_ms:  # same millisecond, or the clock stepped back: keep order
                ms = self._last_ms
                rand = self._last_random + 1
            else:
                rand = self._random.getrandbits(79)  # 80 bits with room to increment
            self._last_ms, self._last_random = ms, rand
        value = (ms << 80) | rand
        # 26 digits of 5 bits: thirteen 10-bit pairs, most significant first (the top 2 bits are 0).
        return "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])
