"""Asking central how a case is getting on (办件进度): a live question, never queued.

A progress query only makes sense while the citizen stands at the booth, so it does not go through
the outbox: it is published on `progress/request` and the answer awaited on `progress/answer` for a
few seconds. Offline, or without an answer, the citizen is told so plainly.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from typing import Any

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
