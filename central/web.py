"""The dashboard: static pages from the package (no CDN: a deployment may be offline) and a small JSON
API over the same database the intake writes, served by the intake's own process.

GET  /api/fleet?region=&state=        the overview (and `intake`: central's health, as /api/health)
GET  /api/devices/{id}                 one booth: charts' series, alerts, events, commands, seq gaps
POST /api/devices/{id}/commands        {"name", "args"?, "expires_s"?} → the request id
GET  /api/usage?days=14                usage and 好差评
GET  /api/health                       the intake: database failing?, messages held, broker connection
                                       (503 while not healthy; read from memory, never the database)
GET  /api/dead-letters?device=         messages central could never record, and why (no content)
POST /api/follow-ups/{id}/close        {"by", "note"}

It listens on loopback by default; put it behind the office's reverse proxy with its login.
"""

from __future__ import annotations

import json
import logging
import math
import mimetypes
import re
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from central.commands import CommandError
from central.database import Database, describe
from central.views import device_view, fleet_view, usage_view

log = logging.getLogger("central.web")

STATIC = resources.files("central") / "static"
PAGES = {"/": "index.html", "/device": "device.html", "/usage": "usage.html"}
MAX_BODY = 16 * 1024

SendCommand = Callable[[list[str], str, dict[str, Any] | None, float], dict[str, str]]


class ApiError(Exception):
    def __init__(self, status: HTTPStatus, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.details = details or {}


class Dashboard:
    def __init__(self, db: Database, send_command: SendCommand, host: str, port: int,
                 health: Callable[[], dict[str, Any]] | None = None) -> None:
        self.db = db
        self.send_command = send_command
        self.health = health
        self.server = ThreadingHTTPServer((host, port), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="central-web", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- routes ---------------------------------------------------------------------------------------
    def get(self, path: str, query: dict[str, str]) -> Any:
        if path == "/api/health":
            found = self.health() if self.health else {"ok": True}
            if not found.get("ok"):
                raise ApiError(HTTPStatus.SERVICE_UNAVAILABLE, "central is not healthy", found)
            return found
        with self.db.read() as conn:
            if path == "/api/dead-letters":
                return self.db.dead_letters(conn, _int(query.get("limit", "100"), 1, 1000), query.get("device"))
            if path == "/api/fleet":  # with central's own health: the overview says when intake is held up
                view = fleet_view(self.db, conn, query.get("region", ""), query.get("state", ""))
                return {**view, "intake": self.health()} if self.health else view
            if path == "/api/usage":
                return usage_view(conn, _int(query.get("days", "14"), 1, 366))
            match = re.fullmatch(r"/api/devices/([a-z0-9-]{3,63})", path)
            if match:
                view = device_view(self.db, conn, match[1], _int(query.get("hours", "24"), 1, 24 * 90))
                if view is None:
                    raise ApiError(HTTPStatus.NOT_FOUND, f"no device {match[1]!r}")
                return view
        raise ApiError(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def post(self, path: str, body: dict[str, Any]) -> Any:
        match = re.fullmatch(r"/api/devices/([a-z0-9-]{3,63})/commands", path)
        if match:
            args = body.get("args")
            if args is not None and not isinstance(args, dict):
                raise ApiError(HTTPStatus.BAD_REQUEST, "args must be a JSON object")
            try:
                sent = self.send_command([match[1]], str(body.get("name", "")), args,
                                         float(body.get("expires_s", 600)))
            except (CommandError, ValueError) as exc:
                raise ApiError(HTTPStatus.BAD_REQUEST, str(exc)) from None
            return {"id": sent[match[1]]}
        match = re.fullmatch(r"/api/follow-ups/(\d+)/close", path)
        if match:
            by = str(body.get("by", "")).strip()[:100]
            if not by:
                raise ApiError(HTTPStatus.BAD_REQUEST, "say who closes the follow-up ('by')")
            with self.db.transaction() as conn:
                if not self.db.close_follow_up(conn, int(match[1]), by, str(body.get("note", ""))[:500], time.time()):
                    raise ApiError(HTTPStatus.CONFLICT, f"follow-up {match[1]} is not open")
            return {"closed": int(match[1])}
        raise ApiError(HTTPStatus.NOT_FOUND, f"no such action: {path}")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        dashboard = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "kiosk-central"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if not url.path.startswith("/api/"):
                    self._static(url.path)
                    return
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                self._answer(lambda: dashboard.get(url.path, query))

            def do_POST(self) -> None:
                def act() -> Any:
                    length = int(self.headers.get("Content-Length") or 0)
                    if length > MAX_BODY:
                        raise ApiError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large")
                    try:
                        body = json.loads(self.rfile.read(length) or b"{}")
                    except ValueError:
                        raise ApiError(HTTPStatus.BAD_REQUEST, "the request body is not JSON") from None
                    if not isinstance(body, dict):
                        raise ApiError(HTTPStatus.BAD_REQUEST, "the request body must be a JSON object")
                    return dashboard.post(urlsplit(self.path).path, body)

                self._answer(act)

            def _answer(self, produce: Callable[[], Any]) -> None:
                try:
                    status, payload = HTTPStatus.OK, produce()
                except ApiError as exc:
                    status, payload = exc.status, {**exc.details, "error": str(exc)}
                except Exception as exc:  # described, not quoted: a database error's text can quote a row
                    log.error("dashboard request %s failed: %s", urlsplit(self.path).path, describe(exc))
                    status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error (see central's log)"}
                self._send(status, "application/json", to_json(payload))

            def _static(self, path: str) -> None:
                name = PAGES.get(path, path.lstrip("/"))
                asset = STATIC / name
                if not re.fullmatch(r"[a-z0-9_-]+\.(html|js|css|svg)", name) or not asset.is_file():
                    self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
                    return
                kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
                self._send(HTTPStatus.OK, f"{kind}; charset=utf-8", asset.read_bytes())

            def _send(self, status: HTTPStatus, kind: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:  # request lines stay out of the journal
                pass

        return Handler


def to_json(payload: Any) -> bytes:
    """Strict JSON in UTF-8, whatever an old row holds: intake refuses NaN, Infinity and lone surrogates
    now, but a database recorded before that may still have them, and one such value must not blank a
    page for every operator (NaN is not JSON; a lone surrogate cannot be encoded at all)."""
    try:
        return json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, UnicodeEncodeError):
        return json.dumps(_showable(payload), ensure_ascii=False, allow_nan=False).encode()


def _showable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_showable(str(k)): _showable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_showable(v) for v in value]
    return value


def _int(text: str, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(text)))
    except ValueError:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{text!r} is not a number") from None
