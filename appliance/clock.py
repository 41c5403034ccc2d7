"""Whether the wall clock is synchronised: a Pi has no RTC, so before NTP it may be far off.

Asks the kernel (adjtimex): `TIME_ERROR` means no time service has disciplined the clock. This
works the same for systemd-timesyncd, chrony and ntpd. The answer is kept for a second: every
event and payload carries it, and it changes once or twice a day at most.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time

_TIME_ERROR = 5
_CACHE_S = 1.0
_libc = None
_last: tuple[float, bool] = (-_CACHE_S, False)


def _ask_kernel() -> bool:
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
        state = _libc.adjtimex(timex)
    except (OSError, AttributeError):
        return False
    return state not in (-1, _TIME_ERROR)


def clock_synchronised() -> bool:
    global _last
    now = time.monotonic()
    if now - _last[0] >= _CACHE_S:
        _last = (now, _ask_kernel())
    return _last[1]
