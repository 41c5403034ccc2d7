"""Remote commands from central (`cmd/{name}`) and their results (`cmd-result`).

Every command gets exactly one result, errors included: oversized payload, malformed JSON, missing
request id, expired, unknown name, or a handler that failed. A repeated request id returns the
first result without running the command again (results are kept in the state database).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from appliance.errors import CodedError
from appliance.state.store import Store

log = logging.getLogger("kiosk.commands")

KEPT_RESULTS = 1000
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class CommandError(CodedError):
    """A command that cannot be carried out; `code` goes into the error result."""


class CommandCenter:
    def __init__(self, store: Store, handlers: dict[str, Handler], max_payload_bytes: int,
                 clock_synced: Callable[[], bool]) -> None:
        self._store = store
        self._handlers = handlers
        self._max_payload_bytes = max_payload_bytes
        self._clock_synced = clock_synced
        self.handled = 0

    @property
    def names(self) -> list[str]:
        return sorted(self._handlers)

    def handle(self, name: str, payload: bytes) -> dict[str, Any]:
        """Run one command message and return its result body (without the common stamp)."""
        self.handled += 1
        request_id: str | None = None
        try:
            request = self._parse(payload)
            request_id = request["id"]
            earlier = self._earlier_result(request_id)
            if earlier is not None:
                log.info("command %s id %s repeated: returning the first result", name, request_id)
                return earlier
            self._check_expiry(request)
            handler = self._handlers.get(name)
            if handler is None:
                raise CommandError("unknown_command", f"unknown command {name!r}; known: {self.names}")
            args = request.get("args", {})
            if not isinstance(args, dict):
                raise CommandError("bad_args", "args must be a JSON object")
            result = {"id": request_id, "command": name, "ok": True, "result": handler(args)}
        except CommandError as exc:
            result = {"id": request_id, "command": name, "ok": False,
                      "error": {"code": exc.code, "message": str(exc)}}
        except Exception as exc:  # a handler's bug must not take the kiosk down
            log.exception("command %s failed", name)
            result = {"id": request_id, "command": name, "ok": False,
                      "error": {"code": "failed", "message": f"{type(exc).__name__}: {exc}"}}
        if request_id is not None:
            self._remember(request_id, result)
        log.info("command %s id %s: %s", name, request_id, "ok" if result["ok"] else result["error"]["code"])
        return result

    def _parse(self, payload: bytes) -> dict[str, Any]:
        if len(payload) > self._max_payload_bytes:
            raise CommandError("oversized", f"payload of {len(payload)} bytes exceeds {self._max_payload_bytes}")
        try:
            request = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError("malformed_json", f"payload is not JSON: {exc}") from None
        if not isinstance(request, dict):
            raise CommandError("malformed", "payload must be a JSON object")
        request_id = request.get("id")
        if not isinstance(request_id, str) or not 1 <= len(request_id) <= 64:
            raise CommandError("missing_id", "payload needs an \"id\": a string of 1 to 64 characters")
        return request

    def _check_expiry(self, request: dict[str, Any]) -> None:
        expires = request.get("expires")
        if expires is None:
            return
        try:
            deadline = datetime.fromisoformat(expires)
            if deadline.tzinfo is None:
                raise ValueError("no UTC offset")
        except (TypeError, ValueError):
            raise CommandError("bad_expires", f"expires {expires!r} is not an ISO 8601 time with offset") from None
        # An unsynchronised clock cannot judge expiry; the broker's message expiry still applies.
        if self._clock_synced() and deadline.timestamp() < time.time():
            raise CommandError("expired", f"command expired at {expires}")

    def _earlier_result(self, request_id: str) -> dict[str, Any] | None:
        with self._store.read() as conn:
            row = conn.execute("SELECT result FROM command_results WHERE id = ?", (request_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def _remember(self, request_id: str, result: dict[str, Any]) -> None:
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO command_results (id, at, result) VALUES (?, ?, ?)",
                (request_id, time.time(), json.dumps(result, ensure_ascii=False)),
            )
            conn.execute(
                "DELETE FROM command_results WHERE id NOT IN "
                "(SELECT id FROM command_results ORDER BY at DESC LIMIT ?)",
                (KEPT_RESULTS,),
            )
