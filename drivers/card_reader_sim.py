"""An in-process simulated card reader: a test or the maintainer's console puts a card on it.

The wire-level simulator (a real pseudo-terminal speaking the reader's protocol) belongs with the
real serial driver; this one stands in for the whole device so the core runs headless anywhere.
"""

from __future__ import annotations

from drivers.card_reader import CardEvent, CardEventKind, CardListener, CardReader, IdCard
from drivers.health import OK, Health, HealthState


class SimulatedCardReader(CardReader):
    def __init__(self) -> None:
        self._listener: CardListener | None = None
        self._health = OK

    def open(self, listener: CardListener) -> None:
        self._listener = listener

    def close(self) -> None:
        self._listener = None

    def health(self) -> Health:
        return self._health

    def self_test(self) -> str:
        if self._health.state is not HealthState.OK:
            raise RuntimeError(f"card reader is {self._health.state}: {self._health.reason}")
        return "simulated reader answers"

    # -- what a test does to the device ------------------------------------------------------
    def present(self, card: IdCard) -> None:
        self._emit(CardEvent(CardEventKind.READ, card=card))

    def remove(self) -> None:
        self._emit(CardEvent(CardEventKind.REMOVED))

    def set_health(self, health: Health) -> None:
        self._health = health

    def _emit(self, event: CardEvent) -> None:
        if self._listener is not None:
            self._listener(event)
