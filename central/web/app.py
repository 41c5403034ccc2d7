"""The composition root of central's web layer: the FastAPI app with its middleware in order, and the
uvicorn server that runs it in `kiosk central serve`'s process.

Request path, outermost first: forwarded headers (uvicorn, from `trusted_proxies` only) → Host check
(TrustedHostMiddleware) → security headers → body limit → same-origin JSON writes → session
(starsessions, in the database) → session gate → CSRF double-submit token (starlette-csrf; the token
from GET /api/session goes back as X-CSRF-Token) → routes, each with its role.
"""

from __future__ import annotations

import re
import secrets
import socket
import threading

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response
from starlette_csrf import CSRFMiddleware
from starsessions import SessionAutoloadMiddleware, SessionMiddleware

from appliance import __version__
from central.database import Database, describe
from central.tables import central_secrets
from central.web import api, assists, auth, office, pages, releases
from central.web.context import WebContext
from central.web.guard import BodyLimit, SameOriginWrites, SecurityHeaders, SessionGate
from central.web.session_store import DatabaseSessionStore
from central.web.showable import ShowableJSON

MAX_BODY = 16 * 1024
SESSION_COOKIE = "kiosk_session"
SESSION_MAX_AGE_S = 12 * 3600  # however busy: log in again after a working day
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def not_monitoring(root_path: str) -> re.Pattern[str]:
    """Every path but /api/health and /metrics (under the proxy's prefix): monitoring answers from
    memory, without the session (read only when a caller is not a monitor), so it can say "database
    failing" while the database fails."""
    return re.compile(rf"^(?!{re.escape(root_path)}/(api/health|metrics)$)")


class JsonCsrf(CSRFMiddleware):
    """starlette-csrf, answering in JSON like the rest of the API."""

    def _get_error_response(self, request: Request) -> Response:
        return JSONResponse({"error": "missing or wrong X-CSRF-Token header (GET /api/session gives it)"}, 403)


def build_app(ctx: WebContext) -> FastAPI:
    settings = ctx.settings
    cookie_path = settings.root_path or "/"
    middleware = [
        # Loopback names stay allowed whatever --allowed-host says: monitoring and `kiosk central health`
        # ask there, and a DNS-rebinding page's Host is its own name, never these.
        Middleware(TrustedHostMiddleware, allowed_hosts=list(dict.fromkeys((*settings.allowed_hosts, *LOOPBACK)))),
        Middleware(SecurityHeaders),
        Middleware(BodyLimit, limit=MAX_BODY),
        Middleware(SameOriginWrites),
        Middleware(SessionMiddleware, store=DatabaseSessionStore(ctx.db), cookie_name=SESSION_COOKIE,
                   lifetime=settings.session_idle_min * 60, rolling=True, cookie_same_site="strict",
                   cookie_https_only=False, cookie_path=cookie_path),  # Secure: SecurityHeaders, over HTTPS
        Middleware(SessionAutoloadMiddleware, paths=[not_monitoring(settings.root_path)]),
        Middleware(SessionGate, public=pages.is_public, max_age_s=SESSION_MAX_AGE_S, cookie_name=SESSION_COOKIE),
        Middleware(JsonCsrf, secret=_csrf_secret(ctx.db), cookie_name=auth.CSRF_COOKIE, cookie_path=cookie_path,
                   cookie_httponly=True, cookie_samesite="strict", header_name="x-csrf-token",
                   exempt_urls=[re.compile(r".*/api/login$")]),
    ]
    app = FastAPI(title="Kiosk central", version=__version__, docs_url=None, redoc_url=None,
                  middleware=middleware, default_response_class=ShowableJSON,
                  description="The fleet's and the back office's JSON API. Log in with POST /api/login; "
                              "send GET /api/session's csrf_token as X-CSRF-Token with every POST.")
    app.state.context = ctx
    for router in (auth.router, api.router, api.metrics_router, office.router, assists.router, releases.router,
                   pages.router):
        app.include_router(router)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _failed)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"没有这个地址 nothing at {request.url.path}"
        if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return pages.not_found(request.url.path)
    return ShowableJSON({"error": detail}, exc.status_code, headers=getattr(exc, "headers", None))


async def _invalid(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors())
    return JSONResponse({"error": problems[:500]}, 422)


async def _failed(request: Request, exc: Exception) -> Response:
    """Described, not quoted: a database error's text can quote a row."""
    import logging

    logging.getLogger("central.web").error("request %s failed: %s", request.url.path, describe(exc))
    return JSONResponse({"error": "internal error (see central's log)"}, 500)


def _csrf_secret(db: Database) -> str:
    """The CSRF tokens' signing key, made once and shared by every instance on the database."""
    with db.transaction() as conn:
        found = conn.execute(select(central_secrets.c.value).where(central_secrets.c.name == "csrf")).scalar()
        if found is None:
            conn.execute(db.insert_ignore(central_secrets), {"name": "csrf", "value": secrets.token_urlsafe(48)})
            found = conn.execute(select(central_secrets.c.value).where(central_secrets.c.name == "csrf")).scalar_one()
    return found


class Dashboard:
    """uvicorn serving the app on its own thread, on a socket bound before it starts (so a port in use
    is an error at once, and port 0 gives a free one)."""

    def __init__(self, ctx: WebContext) -> None:
        settings = ctx.settings
        family = socket.AF_INET6 if ":" in settings.http_host else socket.AF_INET
        self._socket = socket.socket(family, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((settings.http_host, settings.http_port))
        config = uvicorn.Config(build_app(ctx), log_config=None, access_log=False, proxy_headers=True,
                                forwarded_allow_ips=list(settings.trusted_proxies), root_path=settings.root_path,
                                server_header=False, timeout_keep_alive=30, limit_concurrency=200,
                                h11_max_incomplete_event_size=16 * 1024)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="central-web", daemon=True)

    @property
    def url(self) -> str:
        """Where it listens. Behind a proxy with a path prefix (root_path), browsers use the proxy's
        address; this one answers the paths the proxy forwards, without the prefix."""
        host, port = self._socket.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        self._server.run(sockets=[self._socket])

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()



