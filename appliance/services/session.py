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
    lifted: IdCard | None = field(default=None, repr=False)  # taken off mid-form; back within the grace?
    filed: set[str] = field(default_factory=set)  # receipt numbers of this visit: what a rating may name

    def touch(self) -> None:
        self.last_touch = time.monotonic()

    def remaining_s(self, now: float | None = None) -> float:
        return self.idle_timeout_s - ((now or time.monotonic()) - self.last_touch)

    def lift(self) -> None:
        """The card left the reader mid-form: no longer usable, but remembered to know it if it comes back."""
        if self.card is not None:
            self.lifted, self.card = self.card, None

    def place(self, card: IdCard) -> bool:
        """A card was read; True when it is the one lifted in this session (the same citizen is back)."""
        returning = self.lifted is not None and self.lifted.id_number == card.id_number
        self.card, self.lifted = card, None
        return returning

    def clear(self) -> None:
        self.card = self.lifted = None
