"""One citizen's session at the booth: the only place their card data lives, and only in memory.

It ends on finish, on card removal, or after the idle timeout (longer in elder mode); `clear()`
drops the card so nothing of the citizen outlives the session.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from drivers.card_reader import IdCard


@dataclass
class CitizenSession:
    idle_timeout_s: int
    elder: bool = False
    id: str = field(default_factory=lambda: secrets.token_hex(6))  # not personal: links events of one visit
    started: float = field(default_factory=time.monotonic)
    last_touch: float = field(default_factory=time.monotonic)
    card: IdCard | None = field(default=None, repr=False)

    def touch(self) -> None:
        self.last_touch = time.monotonic()

    def remaining_s(self, now: float | None = None) -> float:
        return self.idle_timeout_s - ((now or time.monotonic()) - self.last_touch)

    def clear(self) -> None:
        self.card = None
