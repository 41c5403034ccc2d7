"""What the card reader and the scanner report, turned into the visit's state and the screens' events.
Runs on the devices' port threads. A card's name and number reach the screens only masked; a scanned
code goes to the screens and is never logged."""

from __future__ import annotations

import logging

from appliance.events import CardRead, CardRemoved, CardUnreadable, Notify, Scanned, ScanUnusable
from appliance.privacy import mask_id_number, mask_name
from appliance.services.self_test import CardProbe
from appliance.services.visits import Visits
from drivers.card_reader import CardEvent, CardEventKind
from drivers.scanner import ScanEvent, ScanEventKind

log = logging.getLogger("kiosk.readers")


class ReaderEvents:
    def __init__(self, visits: Visits, card_probe: CardProbe, notify: Notify) -> None:
        self._visits = visits
        self._card_probe = card_probe  # the maintainer's reader test waits on it
        self._notify = notify

    def card(self, event: CardEvent) -> None:
        if event.kind is CardEventKind.READ and event.card is not None:
            returning = self._visits.place_card(event.card)
            self._card_probe.offer(event)
            self._notify(CardRead(mask_name(event.card.name), mask_id_number(event.card.id_number), returning))
        elif event.kind is CardEventKind.REMOVED:
            self._notify(CardRemoved())
        elif event.kind is CardEventKind.ERROR:
            log.warning("card read failed: %s", event.reason)
            self._card_probe.offer(event)
            self._notify(CardUnreadable(event.reason))

    def scan(self, event: ScanEvent) -> None:
        if event.kind is ScanEventKind.CODE:
            self._notify(Scanned(event.text))
        else:
            log.warning("scan not usable: %s", event.reason)
            self._notify(ScanUnusable(event.reason))
