"""Asking central how a case is getting on (办件进度): a live question, never queued.

A progress query only makes sense while the citizen stands at the booth, so it does not go through
the outbox: it is published on `progress/request` and the answer awaited on `progress/answer` for a
few seconds. Offline, or without an answer, the citizen is told so plainly.

Three ways to ask: the receipt number (16 digits, keyed in on the digit pad; its check digit is checked
here first, so a typo is explained without asking anyone), the receipt's QR code (the same number; an
older receipt's QR carries its event id, which is still understood), or the ID card placed again: then
the booth sends central only a keyed digest of the ID number (`holder`), with a key it asks central for
once and keeps in memory, and only over TLS; central answers with that citizen's own cases and nothing
a receipt does not show. This booth's own notes of what it filed (appliance/state/filed_here.py) answer
too: offline, or for a filing central does not have yet.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import threading
from datetime import datetime
from typing import Any

from appliance.clock import clock_synchronised
from appliance.contract import QOS_COMMANDS, encode, progress_request_topic, stamped
from appliance.delivery.link import MqttLink
from appliance.delivery.outbox import Outbox
from appliance.receipt_numbers import NUMBER, holder_digest, normalise, valid
from appliance.services.errors import CitizenError
from appliance.services.visits import Visits
from appliance.state.filed_here import FiledHere, FiledNote

log = logging.getLogger("kiosk.progress")

CASE_REF = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")  # an older receipt's number: its submission's ULID
TIMEOUT_S = 8.0
HOLDER_KEY_BYTES = 32
MAX_CASES = 20  # a citizen's cases shown at most, newest first (central sends at most this many too)


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
        self._holder_key: bytes | None = None  # central's key for citizens' digests, once asked (memory only)
        self._key_lock = threading.Lock()

    def query(self, number: str, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
        """Ask central about a receipt number (or an older receipt's event id), waiting at most `timeout_s`
        (the citizen waits)."""
        ref = normalise(number).upper()
        if NUMBER.fullmatch(ref):
            if not valid(ref):
                raise CitizenError("number_mistyped", f"{ref} fails its check digit")
            asked = {"number": ref}
        elif CASE_REF.fullmatch(ref):
            asked = {"case": ref}
        else:
            raise CitizenError("bad_number", f"{number!r} is not a receipt number")
        self._visits.begin()
        here = self._filed_here.find(ref)
        if not self._link.connected:
            if here is not None:
                return self._answer_from_here(here)
            raise CitizenError("offline", "no connection to central: progress cannot be asked now")
        answer = self._ask(asked, timeout_s)
        if here is not None and (answer is None or not answer.get("found")):
            return self._answer_from_here(here)  # central has not got it (yet): this booth knows it filed it
        if answer is None:
            raise CitizenError("no_answer", f"central did not answer within {timeout_s:.0f} s")
        return answer

    def query_card(self, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
        """The citizen placed their ID card: their own cases, newest first — central's (asked by a keyed
        digest of the ID number, over TLS only) and this booth's notes of what central does not have yet.
        `{"found", "cases": [...], "source"}`; a case from central carries what its receipt shows and its
        status, a note of this booth's carries `source: booth` and whether it still waits to be sent."""
        _session, card = self._visits.identified()
        here = [self._from_here(note) for note in self._filed_here.of_holder(self._filed_here.holder(card.id_number))]
        if not self._link.connected or not self._link.tls:
            if here:
                return {"found": True, "source": "booth", "cases": here[:MAX_CASES]}
            if not self._link.connected:
                raise CitizenError("offline", "no connection to central: progress cannot be asked now")
            raise CitizenError("card_lookup_unavailable", "the link to central is not TLS: no card lookups")
        key = self._key(timeout_s)
        answer = self._ask({"holder": holder_digest(key, card.id_number)}, timeout_s)
        if answer is None:
            if here:
                return {"found": True, "source": "booth", "cases": here[:MAX_CASES]}
            raise CitizenError("no_answer", f"central did not answer within {timeout_s:.0f} s")
        cases = [{**case, "filed_at": _unix(case.get("filed"))} for case in answer.get("cases") or []
                 if isinstance(case, dict)]
        known = {case.get("number") for case in cases}
        cases += [note for note in here if note["number"] not in known]
        cases.sort(key=lambda case: case.get("filed_at") or 0, reverse=True)
        return {"found": bool(cases), "source": "central", "cases": cases[:MAX_CASES]}

    def answer(self, payload: bytes) -> None:
        """Central's answer (on paho's thread): it wakes the citizen's query that waits for it."""
        if not self._queries.answer(payload):
            log.warning("progress answer not usable (malformed, or nobody is waiting any more)")

    def _ask(self, asked: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
        """Publish one request and wait for its answer (None when none came in time)."""
        request_id = self._queries.new()
        self._link.publish(progress_request_topic(self._device_id), encode(stamped(
            self._device_id, clock_synchronised(), {"id": request_id, **asked})), QOS_COMMANDS)
        return self._queries.wait(request_id, timeout_s)

    def _key(self, timeout_s: float) -> bytes:
        """Central's key for digests of ID numbers: asked once (over TLS), then kept in memory."""
        with self._key_lock:
            if self._holder_key is None:
                answer = self._ask({"want": "holder_key"}, timeout_s)
                if answer is None:
                    raise CitizenError("no_answer", f"central did not answer within {timeout_s:.0f} s")
                try:
                    key = base64.b64decode(answer.get("holder_key", ""), validate=True)
                except (binascii.Error, TypeError, ValueError):
                    key = b""
                if len(key) != HOLDER_KEY_BYTES:
                    log.error("central's answer carried no usable key for card lookups")
                    raise CitizenError("no_answer", "central's key for card lookups is unusable")
                self._holder_key = key
            return self._holder_key

    def _answer_from_here(self, note: FiledNote) -> dict[str, Any]:
        """A progress answer from the booth's own note: filed here, and whether it still waits to be sent."""
        return {"found": True, **self._from_here(note), "case": note.case_ref}

    def _from_here(self, note: FiledNote) -> dict[str, Any]:
        return {"source": "booth", "number": note.number, "item": note.item, "kind": note.kind,
                "filed_at": note.filed_at, "waiting": self._outbox.holds(note.case_ref)}


def _unix(stamp: Any) -> float:
    """An ISO 8601 time from central as unix seconds (0 for anything else): what cases are sorted by."""
    try:
        return datetime.fromisoformat(stamp).timestamp() if isinstance(stamp, str) else 0.0
    except ValueError:
        return 0.0
