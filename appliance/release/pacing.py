"""How fast a booth may fetch: a token bucket over an injected clock.

Booths share thin links in villages and bank branches; a release must never crowd out a citizen's
filing. Bytes are spent when asked for (a re-request after a timeout is spent again), the bucket refills
at `rate` bytes a second and holds at most `burst_s` seconds' worth, so over any span T at most
rate × (T + burst_s) bytes are asked for: `max_bytes_per_s` on average, however the chunks fall."""

from __future__ import annotations

from collections.abc import Callable


class Pacer:
    def __init__(self, rate: int, clock: Callable[[], float], burst_s: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive bytes a second, not {rate}")
        self.rate = rate
        self.burst = max(1, int(rate * burst_s))
        self._clock = clock
        self._tokens = float(self.burst)
        self._at = clock()

    def allows(self, size: int) -> bool:
        """Whether `size` bytes may be asked for now (never more than one burst at once)."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + max(0.0, now - self._at) * self.rate)
        self._at = now
        return self._tokens >= min(size, self.burst)

    def spend(self, size: int) -> None:
        self._tokens -= size
