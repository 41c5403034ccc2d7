"""What stands between the office network and central's data, as ASGI middleware (outermost first):

- `BodyLimit`: no request body beyond `limit` bytes, whatever Content-Length says (counted as it
  arrives; a missing, negative or malformed length changes nothing);
- `SecurityHeaders`: CSP without inline script, no framing, no sniffing, no referrer, no caching of
  answers; cookies get `Secure` whenever the browser reached central over HTTPS (through the proxy);
- `SameOriginWrites`: a state-changing request (POST, PUT, PATCH, DELETE) must be JSON and must not
  come from a page of another origin (Origin, Sec-Fetch-Site);
- `SessionGate`: nothing but the login page, static assets, the login itself and the monitoring
  endpoints without a logged-in session: 401 for the API, a redirect to the login page for pages.

The CSRF token (starlette-csrf), the host check (Starlette's TrustedHostMiddleware), sessions
(starsessions) and forwarded headers (uvicorn) are the libraries'; app.py puts them in order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from urllib.parse import quote

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def route_path(scope: Scope) -> str:
    """The path inside central, without the reverse proxy's prefix (scope's root_path)."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path


async def answer(send: Send, status: int, error: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"error": error}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Answers 413 itself as soon as the body passes `limit`, and tells the app the client has gone
    (so whatever the app makes of that is dropped, never a 400 or a 500 in its place)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the request body is over the {self.limit} bytes central accepts"
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await answer(send, 400, f"Content-Length {declared[:20]!r} is not a length")
                return
            if int(declared) > self.limit:
                await answer(send, 413, too_large)
                return
        received, started, refused = 0, False, False

        async def counted() -> Message:
            nonlocal received, started, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    if not started:
                        await answer(send, 413, too_large)
                    started = refused = True
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, watched)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = CSP
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                headers.setdefault("Cache-Control", "no-store")
                if https:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
                    cookies = headers.getlist("set-cookie")
                    if cookies:
                        del headers["set-cookie"]
                        for cookie in cookies:
                            secure = "secure" in cookie.lower().replace(" ", "").split(";")
                            headers.append("set-cookie", cookie if secure else cookie + "; Secure")
            await send(message)

        await self.app(scope, receive, with_headers)


class SameOriginWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in UNSAFE:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None and origin != _own_origin(scope, headers):
            await answer(send, 403, f"a request from another origin ({origin[:100]}) may not change anything here")
            return
        if headers.get("sec-fetch-site") == "cross-site":
            await answer(send, 403, "a request from another site may not change anything here")
            return
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            await answer(send, 415, "send JSON (Content-Type: application/json)")
            return
        await self.app(scope, receive, send)


def _own_origin(scope: Scope, headers: Headers) -> str:
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"


class SessionGate:
    """`public(path)` says what needs no session; `max_age_s` ends a session however busy it is."""

    def __init__(self, app: ASGIApp, public: Callable[[str], bool], max_age_s: float, cookie_name: str) -> None:
        self.app = app
        self.public = public
        self.max_age_s = max_age_s
        self.cookie_name = cookie_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if self.public(path):
            await self.app(scope, receive, send)
            return
        session = scope["session"]
        since = session.get("since", 0)
        if session.get("user") and time.time() - since < self.max_age_s:
            await self.app(scope, receive, send)
            return
        if session:
            session.clear()  # too old: the response drops the cookie and the stored session
        if path.startswith("/api/") or path == "/openapi.json" or scope["method"] != "GET":
            await answer(send, 401, "log in first (POST /api/login)")
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = path.lstrip("/") + (f"?{query}" if query else "")
        had_one = self.cookie_name in Headers(scope=scope).get("cookie", "")  # it ended: the login page says so
        asks = ([f"next={quote(target, safe='')}"] if target else []) + (["reason=expired"] if had_one else [])
        login = f"{scope.get('root_path', '')}/login" + (f"?{'&'.join(asks)}" if asks else "")
        await send({"type": "http.response.start", "status": 303,
                    "headers": [(b"location", login.encode()), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
