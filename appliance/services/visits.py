"""The one citizen at the booth at a time: a visit begins with a touch or a card and ends by finishing,
by the idle timeout or at shutdown; ending it drops everything of theirs (the card, a call for help)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from appliance.config import SessionSection
from appliance.events import Notify, SessionCountdown, SessionEnded
from appliance.monitor.usage import Counted, UsageLedger
from appliance.services.errors import CitizenError
from appliance.services.session import CitizenSession
from drivers.card_reader import IdCard

log = logging.getLogger("kiosk.visits")


class Visits:
    """Holds the current `CitizenSession` (or none) behind one lock: the screens, the card reader's thread
    and the ticker all reach it."""

    def __init__(self, config: SessionSection, ledger: UsageLedger, notify: Notify) -> None:
        self._config = config
        self._ledger = ledger
        self._notify = notify
        self._lock = threading.RLock()
        self._current: CitizenSession | None = None
        self._on_end: list[Callable[[], None]] = []
        self._keep_alive: list[Callable[[], bool]] = []

    @property
    def lock(self) -> threading.RLock:
        """Held by a use-case that must see and change the visit in one step (a call for help)."""
        return self._lock

    @property
    def current(self) -> CitizenSession | None:
        return self._current

    def on_end(self, listener: Callable[[], None]) -> None:
        """`listener` runs whenever a visit ends (under the visits' lock): what was that citizen's goes too."""
        self._on_end.append(listener)

    def keep_alive_while(self, waiting: Callable[[], bool]) -> None:
        """While `waiting()` is true the citizen is waiting for something (help on its way), not idle."""
        self._keep_alive.append(waiting)

    def begin(self, elder: bool = False) -> CitizenSession:
        with self._lock:
            if self._current is None:
                timeout = self._config.elder_idle_timeout_s if elder else self._config.idle_timeout_s
                self._current = CitizenSession(idle_timeout_s=timeout, elder=elder)
                self._ledger.count(Counted.SESSION_START)
            elif elder and not self._current.elder:  # switched to elder mode mid-visit: the longer wait too
                self._current.elder = True
                self._current.idle_timeout_s = self._config.elder_idle_timeout_s
            self._current.touch()
            return self._current

    def touch(self) -> None:
        with self._lock:
            if self._current is not None:
                self._current.touch()

    def end(self, reason: str = "finish") -> None:
        with self._lock:
            session = self._current
            if session is None:
                return
            session.clear()
            for listener in self._on_end:
                listener()
            self._current = None
            if reason == "timeout":
                self._ledger.count(Counted.TIMEOUT)
            self._ledger.count(Counted.SESSION_END)
        self._notify(SessionEnded(reason))

    def place_card(self, card: IdCard) -> bool:
        """A card was read: it identifies this visit's citizen (a visit begins if none is under way); True
        when it is the card lifted mid-form coming back."""
        with self._lock:
            return self.begin().place(card)

    def card_present(self) -> bool:
        with self._lock:
            return self._current is not None and self._current.card is not None

    def forget_card(self) -> IdCard | None:
        """The citizen took the card away mid-step: the visit goes on without their identity (returned)."""
        with self._lock:
            if self._current is None:
                return None
            card = self._current.card
            self._current.clear()
            return card

    def lift_card(self) -> None:
        """The card left the reader mid-form: nothing can be filed without it, but if the same card comes
        back (within the screens' grace period) the form goes on; `forget_card` ends the wait."""
        with self._lock:
            if self._current is not None:
                self._current.lift()

    def identified(self) -> tuple[CitizenSession, IdCard]:
        """The current visit and its card, or `not_identified`: what filing in a citizen's name needs."""
        with self._lock:
            session = self._current
            card = session.card if session else None
            if session is None or card is None:
                raise CitizenError("not_identified", "请先在读卡区放置居民身份证")
            session.touch()
            return session, card

    def check_idle(self) -> None:
        """The ticker's job: warn with a countdown near the idle timeout, end the visit at it."""
        with self._lock:
            session = self._current
            if session is None:
                return
            if any(waiting() for waiting in self._keep_alive):
                session.touch()
            remaining = session.remaining_s()
            if remaining <= 0:
                log.info("session ended by idle timeout")
                self.end("timeout")
                return
        if remaining <= self._config.countdown_s:
            self._notify(SessionCountdown(int(remaining)))
