"""The resident-ID card reader interface the core uses, and the card data it yields.

A reader runs its own thread and hands the core `CardEvent`s through the callback given to
`open()`. Card data is personal: `IdCard` never shows a name or ID number in its repr, so a stray
log line or traceback cannot leak one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from drivers.health import NOT_FITTED, DeviceAbsent, Health


@dataclass(frozen=True)
class IdCard:
    """The text block of a second-generation resident ID card."""

    name: str = field(repr=False)
    sex: str = field(repr=False)
    nation: str = field(repr=False)
    birth_date: str = field(repr=False)  # YYYYMMDD
    address: str = field(repr=False)
    id_number: str = field(repr=False)
    authority: str = field(repr=False)
    valid_from: str = field(repr=False)
    valid_until: str = field(repr=False)  # YYYYMMDD or 长期

    def __repr__(self) -> str:
        return "IdCard(<personal data withheld>)"

    __str__ = __repr__


class CardEventKind(StrEnum):
    READ = "read"  # a card was read; `card` is set
    REMOVED = "removed"  # the card left the field
    ERROR = "error"  # a read failed; `reason` says why


@dataclass(frozen=True)
class CardEvent:
    kind: CardEventKind
    card: IdCard | None = None
    reason: str = ""


CardListener = Callable[[CardEvent], None]


class CardReader(ABC):
    """A card reader. An implementation must override all four methods: `open` starts any thread it
    needs and must not raise because the device is missing (it reports that through `health`, which
    answers at once from the last known state). `fitted` is False only for `NullCardReader`."""

    fitted: bool = True

    @abstractmethod
    def open(self, listener: CardListener) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def health(self) -> Health: ...

    @abstractmethod
    def self_test(self) -> str:
        """Check the reader answers (e.g. read the SAM id); return a short result, raise on failure."""


class NullCardReader(CardReader):
    """The reader of a booth without one: never reads a card, reports `absent/not_fitted`, and its
    self-test raises `DeviceAbsent` (there is nothing to test, which is not the same as a failing reader)."""

    fitted = False

    def open(self, listener: CardListener) -> None:
        pass

    def close(self) -> None:
        pass

    def health(self) -> Health:
        return NOT_FITTED

    def self_test(self) -> str:
        raise DeviceAbsent("no card reader is fitted")
