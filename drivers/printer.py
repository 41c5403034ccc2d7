"""The receipt printer interface the core uses, and the small document model it prints.

The core composes a `Document` (title, text with emphasis and size, key/value rows, separators, QR,
cut); a driver renders it for its device. Documents are built from already-masked text: the printer never sees a full
name or ID number.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from drivers.health import Health


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


class Printer(ABC):
    """A receipt printer. `print` blocks until the document is out (then cuts) or raises
    `PrintError`; `health` must answer from the last known status without blocking."""

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def health(self) -> Health: ...

    @abstractmethod
    def print(self, document: Document) -> None: ...
