"""What the core tells the screens, as typed events.

The core hands every event to the one `notify` callable it was given (the touchscreen wraps it in
Kivy's `Clock.schedule_once`); the screens pick a handler by the event's class. Nothing personal
travels here beyond what a receipt shows (the masked name and ID number).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from appliance.services.assist import AssistView
from drivers.health import Health


@dataclass(frozen=True)
class CardRead:
    name: str  # masked, as on a receipt
    id_number: str  # masked
    returning: bool  # the card lifted mid-form in this visit is back


@dataclass(frozen=True)
class CardRemoved:
    pass


@dataclass(frozen=True)
class CardUnreadable:
    reason: str


@dataclass(frozen=True)
class Scanned:
    text: str  # a receipt number or an e-certificate's code: shown, never logged


@dataclass(frozen=True)
class ScanUnusable:
    reason: str


@dataclass(frozen=True)
class SessionCountdown:
    remaining_s: int


@dataclass(frozen=True)
class SessionEnded:
    reason: str  # finish | timeout | shutdown


@dataclass(frozen=True)
class CatalogChanged:
    version: str


@dataclass(frozen=True)
class AssistChanged:
    view: AssistView


@dataclass(frozen=True)
class BoothStatus:
    """What the screens say about the booth itself (banners, the reader's hint): pushed when it changes."""

    online: bool
    printer: Health
    card_reader: Health

    @property
    def can_print(self) -> bool:
        return self.printer.state.value not in ("fault", "absent")


UiEvent = (CardRead | CardRemoved | CardUnreadable | Scanned | ScanUnusable | SessionCountdown | SessionEnded
           | CatalogChanged | AssistChanged | BoothStatus)
Notify = Callable[[UiEvent], None]


def nobody_listens(event: UiEvent) -> None:
    """The `notify` of a core without screens (`kiosk run --headless`, most tests)."""
