"""The maintainer's device checks, written once: the maintenance screen, central's `print-test` and
`led-test` commands and `kiosk provision check` all use these."""

from __future__ import annotations

import threading
from collections.abc import Callable

from appliance.privacy import mask_name
from appliance.services.documents import paper_time
from drivers.card_reader import CardEvent, CardEventKind
from drivers.health import Health
from drivers.leds import Leds
from drivers.printer import Document

TEST_PAGE = "打印测试 / Test page"
PROVISIONING_SLIP = "设备开通单 / Provisioning slip"


def test_page(device_id: str, site: str, title: str = TEST_PAGE, region: str | None = None,
              booth_code: str | None = None) -> Document:
    """A page that proves the printer's text, layout and QR code, naming the booth it came from (the
    provisioning slip adds its region and booth code)."""
    page = Document().title(title).row("设备", device_id).row("网点", site)
    if region is not None:
        page.row("区划", region)
    if booth_code is not None:
        page.row("终端编码", booth_code)
    return page.row("时间", paper_time()).separator().qr(device_id)


def cycle_leds(leds: Leds) -> list[str]:
    """Light each LED alone in turn; raises `DeviceAbsent` where there are none to light."""
    return leds.cycle()


class CardProbe:
    """Waits for the next card placed (or failing to read): give `offer` to the reader as its listener,
    or forward the events it already receives."""

    def __init__(self) -> None:
        self._seen: CardEvent | None = None
        self._done = threading.Event()

    def arm(self) -> None:
        self._seen = None
        self._done.clear()

    def offer(self, event: CardEvent) -> None:
        if event.kind in (CardEventKind.READ, CardEventKind.ERROR) and not self._done.is_set():
            self._seen = event
            self._done.set()

    def wait(self, timeout_s: float, reader: Callable[[], Health]) -> tuple[bool, str]:
        """(passed, what to tell the maintainer): a card's masked name, or why none was read. `reader` is
        asked only when nothing came, to say whether the reader is there at all."""
        if not self._done.wait(timeout_s):
            health = reader()
            return False, f"no card read in {timeout_s:.0f} s (reader {health.state}: {health.reason})"
        event = self._seen
        assert event is not None
        if event.kind is CardEventKind.ERROR or event.card is None:
            return False, f"the card could not be read: {event.reason}"
        return True, f"read {mask_name(event.card.name)}"
