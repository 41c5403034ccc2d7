"""帮办代办: a citizen asks for a person — someone coming to the booth (where staff are on duty) or a call
back — and the screen always says what is true of the call (`appliance/services/assist.py`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from appliance.catalog.model import CatalogError
from appliance.config import AssistSection
from appliance.contract import ASSIST_SCREEN, PHONE_NUMBER, AssistMode, EventKind
from appliance.delivery.link import MqttLink
from appliance.delivery.outbox import Outbox
from appliance.events import AssistChanged, Notify
from appliance.monitor.usage import Counted, UsageLedger
from appliance.repeated import RepeatedProblem
from appliance.services.assist import AssistCall, AssistView, MalformedAnswer, parse_answer
from appliance.services.citizen import CitizenServices
from appliance.services.errors import CitizenError
from appliance.services.visits import Visits

log = logging.getLogger("kiosk.assist")


class HelpCalls:
    """The citizen's one open call: made through the outbox, moved on by central's answers, its
    confirmation, the link and the booth's own wait; the screens are told each time what they show of it
    changes (not for the waited time alone, which they ask every second)."""

    def __init__(self, config: AssistSection, site: str, citizen: CitizenServices, visits: Visits,
                 outbox: Outbox, link: MqttLink, ledger: UsageLedger, notify: Notify,
                 clock: Callable[[], float]) -> None:
        self._config = config
        self._site = site
        self._citizen = citizen
        self._visits = visits
        self._outbox = outbox
        self._link = link
        self._ledger = ledger
        self._notify = notify
        self._call = AssistCall(config.answer_timeout_s, clock)
        self._lock = threading.Lock()
        self._shown: AssistView | None = None  # the call as the UI was last told (its waited time aside)
        self._malformed = RepeatedProblem(log, "assist answer")  # foreign or stale answers are normal, not counted
        visits.on_end(self._forget)
        visits.keep_alive_while(self._call.holds_session)

    def request(self, screen: str, mode: AssistMode = AssistMode.ON_SITE, phone: str | None = None,
                code: str | None = None) -> AssistView:
        """Ask for a person from `screen`, about item `code` if any. While a call is still open, a second
        press returns it instead of making another."""
        mode = AssistMode(mode)
        if not ASSIST_SCREEN.fullmatch(screen):
            raise CitizenError("bad_screen", f"{screen!r} is not a screen name")
        if mode is AssistMode.CALL_BACK and (phone is None or not PHONE_NUMBER.fullmatch(phone)):
            raise CitizenError("bad_phone", "a call back needs a phone number of digits only")  # never the number
        if mode is AssistMode.ON_SITE and phone is not None:
            raise CitizenError("phone_not_asked", "a phone number goes only with a call back")
        if mode is AssistMode.ON_SITE and not self._config.on_site:
            raise CitizenError("no_staff_on_site", "no staff on duty at this site can come to the booth")
        item = code if code is not None and self._known(code) else None  # help is never refused for it
        with self._visits.lock:
            session = self._visits.begin()
            current = self.status()
            if current is not None and current.open:
                return current
            payload: dict[str, Any] = {"item": item, "screen": screen, "mode": mode.value, "session": session.id,
                                       "site": self._site}
            if phone is not None:
                payload["phone"] = phone
            accepted = self._citizen.file(EventKind.ASSIST, payload)
            self._call.start(accepted.id, mode, screen, item, phone)
        self._ledger.count(Counted.ASSIST, item or "")
        view = self.check()
        assert view is not None
        return view

    @property
    def answers_ignored(self) -> int:
        """Malformed answers since boot (the heartbeat's `assist_answers_ignored`)."""
        return self._malformed.count

    def status(self) -> AssistView | None:
        """The call as it stands now (None without one)."""
        return self._call.view(deliverable=self._link.connected and self._link.tls,
                               held=self._link.connected and not self._link.tls)

    def check(self) -> AssistView | None:
        """Tell the UI when what it shows of the call has changed (the ticker, paho's thread and the
        screens all ask)."""
        with self._lock:
            view = self.status()
            seen = None if view is None else replace(view, waited_s=0)
            if seen != self._shown:
                self._shown = seen
                if view is not None:
                    self._notify(AssistChanged(view))
            return view

    def note_committed(self) -> None:
        """Once central's confirmation has freed the open call's event, central has it on the desk, whether
        or not its `queued` answer arrives (the ticker asks each second while central has said nothing)."""
        request = self._call.awaiting_central()
        if request is not None and not self._outbox.holds(request) and self._call.committed(request):
            self.check()

    def answer(self, payload: bytes) -> None:
        """Central's word on a call: only an answer about the open one counts (others are a past call's)."""
        try:
            answer = parse_answer(payload)
        except MalformedAnswer as exc:
            self._malformed.note(exc)
            return
        if self._call.answer(answer):
            self.check()

    def _known(self, code: str) -> bool:
        try:
            self._citizen.item(code)
        except (CitizenError, CatalogError):
            return False
        return True

    def _forget(self) -> None:
        """The call was that citizen's: the next one starts without it."""
        self._call.forget()
        self._shown = None
