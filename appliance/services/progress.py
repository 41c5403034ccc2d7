"""Asking central how a case is getting on (办件进度): a live question, never queued.

A progress query only makes sense while the citizen stands at the booth, so it does not go through
the outbox: it is published on `progress/request` and the answer awaited on `progress/answer` for a
few seconds. Offline, or without an answer, the citizen is told so plainly.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading
from typing import Any

from appliance.clock import clock_synchronised
from appliance.contract import QOS_COMMANDS, encode, progress_request_topic, stamped
from appliance.delivery.link import MqttLink
from appliance.delivery.outbox import Outbox
from appliance.services.errors import CitizenError
from appliance.services.visits import Visits
from appliance.state.filed_here import FiledHere, FiledNote

log = logging.getLogger("kiosk.progress")

CASE_REF = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # a receipt number is the submission's ULID
TIMEOUT_S = 8.0


class ProgressQueries:
    """Questions waiting for their answers, matched by request id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}

    def new(self) -> str:
        request_id = secrets.token_hex(8)
        with self._lock:
            self._waiting[request_id] = (threading.Event(), [])
        return request_id

    def wait(self, request_id: str, timeout_s: float) -> dict[str, Any] | None:
        event, answers = self._waiting[request_id]
        try:
            event.wait(timeout_s)
            return answers[0] if answers else None
        finally:
            with self._lock:
                self._waiting.pop(request_id, None)

    def answer(self, payload: bytes) -> bool:
        """An answer from central; False for one that is malformed or that nobody waits for."""
        try:
            answer = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            return False
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            return False
        with self._lock:
            waiting = self._waiting.get(answer["id"])
        if waiting is None:
            return False
        event, answers = waiting
        answers.append(answer)
        event.set()
        return True


class ProgressDesk:
    """办件进度 for the citizen at the booth: central's answer when it gives one, the booth's own note of
    what it filed when central cannot or does not know it yet."""

    def __init__(self, device_id: str, link: MqttLink, visits: Visits, filed_here: FiledHere, outbox: Outbox) -> None:
        self._device_id = device_id
        self._link = link
        self._visits = visits
        self._filed_here = filed_here
        self._outbox = outbox
        self._queries = ProgressQueries()

    def query(self, case_ref: str, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
        """Ask central about a receipt number, waiting at most `timeout_s` (the citizen waits)."""
        case_ref = case_ref.strip().upper()
        if not CASE_REF.fullmatch(case_ref):
            raise CitizenError("bad_number", f"{case_ref!r} is not a receipt number")
        self._visits.begin()
        here = self._filed_here.find(case_ref)
        if not self._link.connected:
            if here is not None:
                return self._answer_from_here(here)
            raise CitizenError("offline", "no connection to central: progress cannot be asked now")
        request_id = self._queries.new()
        self._link.publish(progress_request_topic(self._device_id), encode(stamped(
            self._device_id, clock_synchronised(), {"id": request_id, "case": case_ref})), QOS_COMMANDS)
        answer = self._queries.wait(request_id, timeout_s)
        if here is not None and (answer is None or not answer.get("found")):
            return self._answer_from_here(here)  # central has not got it (yet): this booth knows it filed it
        if answer is None:
            raise CitizenError("no_answer", f"central did not answer within {timeout_s:.0f} s")
        return answer

    def answer(self, payload: bytes) -> None:
        """Central's answer (on paho's thread): it wakes the citizen's query that waits for it."""
        if not self._queries.answer(payload):
            log.warning("progress answer not usable (malformed, or nobody is waiting any more)")

    def _answer_from_here(self, note: FiledNote) -> dict[str, Any]:
        """A progress answer from the booth's own note: filed here, and whether it still waits to be sent."""
        return {"found": True, "source": "booth", "case": note.case_ref, "item": note.item, "kind": note.kind,
                "filed_at": note.filed_at, "waiting": self._outbox.holds(note.case_ref)}
