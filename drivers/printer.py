"""The receipt printer interface the core uses, and the small document model it prints.

The core composes a `Document` (title, text with emphasis and size, key/value rows, separators, QR,
cut); a driver renders it for its device. Documents are built from already-masked text: the printer never sees a full
name or ID number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from drivers.health import NOT_FITTED, DeviceAbsent, Health


@dataclass(frozen=True)
class Title:
    text: str


@dataclass(frozen=True)
class Text:
    text: str
    bold: bool = False
    large: bool = False  # double height and width


@dataclass(frozen=True)
class Row:
    """A key on the left and a value aligned right."""

    key: str
    value: str


@dataclass(frozen=True)
class Separator:
    pass


@dataclass(frozen=True)
class QrCode:
    data: str


@dataclass(frozen=True)
class Cut:
    """Feed and cut here (a document always ends with one; this is for several slips in one go)."""


Block = Title | Text | Row | Separator | QrCode | Cut


@dataclass
class Document:
    blocks: list[Block] = field(default_factory=list)

    def title(self, text: str) -> Document:
        self.blocks.append(Title(text))
        return self

    def text(self, text: str, bold: bool = False, large: bool = False) -> Document:
        self.blocks.append(Text(text, bold, large))
        return self

    def row(self, key: str, value: str) -> Document:
        self.blocks.append(Row(key, value))
        return self

    def separator(self) -> Document:
        self.blocks.append(Separator())
        return self

    def qr(self, data: str) -> Document:
        self.blocks.append(QrCode(data))
        return self

    def cut(self) -> Document:
        self.blocks.append(Cut())
        return self


class PrintError(Exception):
    """A print that did not complete; `reason` is a health reason code such as `paper_end`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class PrinterAbsent(PrintError, DeviceAbsent):
    """A print asked of a booth without a printer: a `PrintError` (reason `not_fitted`) for the callers
    that handle failed prints, and a `DeviceAbsent` for those that tell "not fitted" apart."""

    def __init__(self) -> None:
        super().__init__(NOT_FITTED.reason, "no printer is fitted")


class Printer(ABC):
    """A receipt printer. An implementation must override all four methods: `open` starts any thread it
    needs and must not raise because the device is missing; `print` blocks until the document is out
    (then cuts) or raises `PrintError`; `health` answers at once from the last known status. `fitted`
    is False only for `NullPrinter`."""

    fitted: bool = True

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def health(self) -> Health: ...

    @abstractmethod
    def print(self, document: Document) -> None: ...


class NullPrinter(Printer):
    """The printer of a booth without one: reports `absent/not_fitted`; printing raises `PrinterAbsent`,
    a `PrintError`, so every print path already says "cannot print" instead of pretending it did."""

    fitted = False

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def health(self) -> Health:
        return NOT_FITTED

    def print(self, document: Document) -> None:
        raise PrinterAbsent()
