"""帮办代办 at the booth: the one call for help a citizen has open, and the true thing to tell them.

A call goes through the outbox like every citizen event (sealed at rest, only over TLS). What the
screen may say depends on what is known, never on hope:

- `saved`: stored on the booth, but central has not got it, and the booth is offline ("saved, sent when
  online; call 12345 if urgent") or its link is not TLS (`held`: it cannot leave until a maintainer
  sets TLS up, so the booth says it cannot send the call now, and offers 12345).
- `sending`: online over TLS, central has not said `queued` yet: never "staff called".
- `queued`: central committed it and it is on the desk — it said `queued`, or its confirmation freed
  the event at the booth (a lost answer does not leave the citizen at "sending"); outside
  staff hours a call back follows when the desk is staffed (without a phone: the hotline).
- `taken`: an operator took it (on site: "staff are coming", with their display name; call back:
  "called within N minutes").
- `no_answer`: central escalated it, or the booth's own `assist.answer_timeout_s` passed without
  `taken`: nobody has taken it yet, call 12345.
- `closed`: the operator closed it.

Central's answers only move a call forward (a `queued` resent after `taken` changes nothing), except
that `taken` after `escalated` counts: an operator may take a request late.

Waiting is activity: while a call waits (saved, sending, queued) the citizen's idle timeout does not
run, for at most `answer_timeout_s` from the request; after an on-site `taken`, for `answer_timeout_s`
more while the helper walks over. After that (and for a taken call back, no answer, closed, or a
call outside staff hours) the normal idle timeout with its countdown applies again. The call is
forgotten when the session ends. The phone number is kept here only masked.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from appliance.contract import ASSIST_OUTCOMES, AssistMode, AssistState
from appliance.privacy import mask_phone


class AssistCode(StrEnum):
    """What the screens show about a call (module docstring)."""

    SAVED = "saved"
    SENDING = "sending"
    QUEUED = "queued"
    TAKEN = "taken"
    NO_ANSWER = "no_answer"
    CLOSED = "closed"


# A call is the citizen's until it is closed: one nobody took in time stays on central's desk (an operator may
# still take it, and the booth then says so), so pressing "help" again shows it rather than filing a twin.
OPEN_CODES = frozenset({AssistCode.SAVED, AssistCode.SENDING, AssistCode.QUEUED, AssistCode.TAKEN,
                        AssistCode.NO_ANSWER})
# Central's states in the order a call moves through them; an answer that would move it back is ignored.
_RANK = {AssistState.QUEUED: 1, AssistState.ESCALATED: 2, AssistState.TAKEN: 3, AssistState.CLOSED: 4}


@dataclass(frozen=True)
class AssistView:
    """A call as the screens show it; `waited_s` counts from the citizen's press, at this booth."""

    code: AssistCode
    request: str  # the assist event's id
    mode: AssistMode  # how the citizen will be helped (central may turn on_site into call_back)
    screen: str
    item: str | None
    waited_s: int
    phone: str | None = None  # masked
    operator: str | None = None
    call_back_within_min: int | None = None
    outside_hours: bool = False
    staffed_from: str | None = None  # ISO 8601, from central
    outcome: str | None = None
    held: bool = False  # saved, and it cannot leave even online: the link is not TLS

    @property
    def hotline(self) -> bool:
        """Whether the screen must offer 12345 now: nobody can help in time, or no one can call back."""
        return self.code in (AssistCode.SAVED, AssistCode.NO_ANSWER) or (
            self.code is AssistCode.QUEUED and self.outside_hours and self.phone is None)

    @property
    def open(self) -> bool:
        """Still in hand: a new press of "help" shows this call instead of making another."""
        return self.code in OPEN_CODES


class MalformedAnswer(ValueError):
    """An assist answer that does not follow the contract (its payload is never logged)."""


def parse_answer(payload: bytes) -> dict[str, Any]:
    """Central's answer checked against the contract (docs/asyncapi.yaml, AssistAnswer)."""
    try:
        answer = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedAnswer("not JSON") from exc
    if not isinstance(answer, dict) or not isinstance(answer.get("request"), str):
        raise MalformedAnswer("no request id")
    try:
        state, mode = AssistState(answer.get("state")), AssistMode(answer.get("mode"))
    except ValueError as exc:
        raise MalformedAnswer("unknown state or mode") from exc
    checks = {
        "operator": lambda v: isinstance(v, str) and 0 < len(v) <= 64 and v.isprintable(),
        "call_back_within_min": lambda v: type(v) is int and v >= 1,
        "escalate_after_s": lambda v: type(v) is int and v >= 1,
        "waited_s": lambda v: type(v) is int and v >= 0,
        "outside_hours": lambda v: isinstance(v, bool),
        "staffed_from": lambda v: isinstance(v, str) and len(v) <= 40,
        "outcome": lambda v: v in ASSIST_OUTCOMES,
    }
    bad = [key for key, ok in checks.items() if key in answer and not ok(answer[key])]
    if bad:
        raise MalformedAnswer(f"bad {', '.join(bad)}")
    return {**answer, "state": state, "mode": mode}


class AssistCall:
    """The citizen's open call and what central said of it. Thread-safe: the request comes from the
    screens, answers from paho's thread, the time-outs from the core's ticker."""

    def __init__(self, answer_timeout_s: int, clock: Callable[[], float] = time.monotonic) -> None:
        """`clock`: the monotonic clock waits are measured by (a test passes one it can move on)."""
        self._timeout_s = answer_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._asked: AssistView | None = None  # the call as made (code unset until looked at)
        self._created = 0.0
        self._state: AssistState | None = None  # central's latest word
        self._committed = False  # central confirmed the event: it is on the desk even if `queued` was lost
        self._taken_at: float | None = None
        self._answer: dict[str, Any] = {}

    def start(self, request: str, mode: AssistMode, screen: str, item: str | None, phone: str | None) -> None:
        """A new call replaces the last (which is no longer open: see `AssistView.open`)."""
        with self._lock:
            self._asked = AssistView(AssistCode.SENDING, request, mode, screen, item, 0,
                                     phone=mask_phone(phone) if phone else None)
            self._created = self._clock()
            self._state, self._taken_at, self._answer, self._committed = None, None, {}, False

    def forget(self) -> None:
        with self._lock:
            self._asked = None

    def awaiting_central(self) -> str | None:
        """The call's event id while central has neither answered nor confirmed it (else None)."""
        with self._lock:
            if self._asked is None or self._state is not None or self._committed:
                return None
            return self._asked.request

    def committed(self, request: str) -> bool:
        """Central confirmed having committed the call's event; False when it is not about this call or
        changes nothing (central had answered already)."""
        with self._lock:
            if self._asked is None or request != self._asked.request or self._committed:
                return False
            self._committed = True
            return self._state is None

    def answer(self, answer: dict[str, Any]) -> bool:
        """A checked answer (`parse_answer`); False when it is not about this call or would move it back."""
        with self._lock:
            if self._asked is None or answer["request"] != self._asked.request:
                return False
            state = answer["state"]
            if self._state is not None and _RANK[state] < _RANK[self._state]:
                return False
            if state is AssistState.TAKEN and self._state is not AssistState.TAKEN:
                self._taken_at = self._clock()
            self._state, self._answer = state, answer
            return True

    def view(self, deliverable: bool, now: float | None = None, held: bool = False) -> AssistView | None:
        """The call as the screens show it; `deliverable`: the link is up and TLS (the call can leave);
        `held`: the link is up but not TLS (it cannot leave until someone configures TLS)."""
        now = self._clock() if now is None else now
        with self._lock:
            if self._asked is None:
                return None
            answer = self._answer
            fields = {key: answer[key] for key in ("operator", "call_back_within_min", "staffed_from", "outcome")
                      if key in answer}
            return replace(self._asked, code=self._code(deliverable, now), waited_s=int(now - self._created),
                           held=held and not deliverable,
                           mode=answer.get("mode", self._asked.mode),
                           outside_hours=bool(answer.get("outside_hours", False)), **fields)

    def _known_state(self) -> AssistState | None:
        """Central's latest word; its confirmation of the event counts as `queued` (caller holds the lock)."""
        return self._state or (AssistState.QUEUED if self._committed else None)

    def _code(self, deliverable: bool, now: float) -> AssistCode:
        state = self._known_state()
        if state is AssistState.CLOSED:
            return AssistCode.CLOSED
        if state is AssistState.TAKEN:
            return AssistCode.TAKEN
        if state is AssistState.ESCALATED:
            return AssistCode.NO_ANSWER
        if state is AssistState.QUEUED and self._answer.get("outside_hours"):
            return AssistCode.QUEUED  # nobody is at the desk: the call back follows when it is staffed
        if now - self._created >= self._timeout_s:
            return AssistCode.NO_ANSWER
        if state is AssistState.QUEUED:
            return AssistCode.QUEUED
        return AssistCode.SENDING if deliverable else AssistCode.SAVED

    def holds_session(self, now: float | None = None) -> bool:
        """Whether the citizen counts as active because they wait for help (module docstring)."""
        now = self._clock() if now is None else now
        with self._lock:
            if self._asked is None:
                return False
            state = self._known_state()
            if state is None or (state is AssistState.QUEUED and not self._answer.get("outside_hours")):
                return now - self._created < self._timeout_s
            if state is AssistState.TAKEN and self._taken_at is not None:
                on_site = self._answer.get("mode", self._asked.mode) is AssistMode.ON_SITE
                return on_site and now - self._taken_at < self._timeout_s
            return False
