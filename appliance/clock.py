"""Whether the wall clock is synchronised: a Pi has no RTC, so before NTP it may be far off.

Asks the kernel (adjtimex): `TIME_ERROR` means no time service has disciplined the clock. This
works the same for systemd-timesyncd, chrony and ntpd.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_TIME_ERROR = 5
_libc = None


def clock_synchronised() -> bool:
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
        state = _libc.adjtimex(timex)
    except (OSError, AttributeError):
        return False
    return state not in (-1, _TIME_ERROR)
