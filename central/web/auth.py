"""Logging in and out, who is asking, and what their role lets them do.

The session (starsessions, in central's database) holds only the user's name and when they logged
in; the role and regions are read again on every request (`who`), so a user disabled or changed takes
effect at once. A wrong password is answered late, more so the more failures in a row; at
accounts.LOCK_AFTER the account is locked for accounts.LOCK_S. Every attempt is audited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starsessions import regenerate_session_id

from central import accounts, audit
from central.accounts import User
from central.web.context import WebContext, context

router = APIRouter(prefix="/api", tags=["session"])

CSRF_COOKIE = "kiosk_csrf"


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoggedIn(BaseModel):
    username: str
    role: str
    regions: list[str]


class SessionInfo(LoggedIn):
    csrf_token: str = Field(description="send it back as the X-CSRF-Token header of every POST")


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def who(request: Request, ctx: Annotated[WebContext, Depends(context)]) -> User:
    """The logged-in user as the database has them now; 401 if disabled since."""
    name = request.session.get("user")
    user = None
    if name:
        with ctx.db.read() as conn:
            user = accounts.current(conn, name)
    if user is None:
        request.session.clear()
        raise HTTPException(401, "log in first (POST /api/login)")
    return user


def role(needed: str) -> Callable[..., User]:
    """A dependency: the user, if their role is at least `needed`; 403 otherwise."""
    def allowed(user: Annotated[User, Depends(who)]) -> User:
        if not user.may(needed):
            raise HTTPException(403, f"this needs the {needed} role; {user.name} is a {user.role}")
        return user
    allowed.__name__ = f"role_{needed}"
    return allowed


Viewer = Annotated[User, Depends(role("viewer"))]
Operator = Annotated[User, Depends(role("operator"))]
Admin = Annotated[User, Depends(role("admin"))]


def session_info(request: Request, user: User) -> SessionInfo:
    """Who is logged in, and the CSRF token (the double-submit cookie's value, which the page cannot
    read itself: the cookie is HttpOnly)."""
    return SessionInfo(username=user.name, role=user.role, regions=list(user.regions),
                       csrf_token=request.cookies.get(CSRF_COOKIE, ""))


@router.post("/login", response_model=LoggedIn, responses={401: {}, 429: {}})
async def login(body: Login, request: Request, ctx: Annotated[WebContext, Depends(context)]) -> Any:
    address = client_address(request)

    def check() -> accounts.LoginResult:
        now = time.time()
        with ctx.db.transaction() as conn:
            result = accounts.log_in(conn, body.username, body.password, now)
            audit.record(conn, body.username, "login" if result.user else "login_failed", body.username,
                         address=address, ok=result.user is not None, at=now,
                         details={} if result.user else {"reason": result.reason, "in_a_row": result.failures})
        return result

    result = await run_in_threadpool(check)
    if result.user is None:
        await asyncio.sleep(min(result.failures, accounts.LOCK_AFTER) * accounts.SLOW_S)
        if result.reason == "locked":
            wait = max(1, int((result.locked_until or time.time()) - time.time()))
            raise HTTPException(429, f"too many failed logins: this account is locked for {wait // 60 + 1} min",
                                headers={"Retry-After": str(wait)})
        if result.reason == "disabled":  # the password was right: say why it does not open
            raise HTTPException(403, "this account is disabled; ask an administrator")
        left = accounts.LOCK_AFTER - result.failures
        warning = f"（再错 {left} 次将锁定 15 分钟 {left} more and it locks for 15 min）" if left <= 3 else ""
        raise HTTPException(401, "用户名或密码不对 wrong user name or password" + warning)
    regenerate_session_id(request)  # a session id known before the login is worth nothing after it
    request.session.clear()
    request.session.update({"user": result.user.name, "since": time.time()})
    # The CSRF cookie comes with this answer if the browser had none: GET /api/session tells its token.
    return LoggedIn(username=result.user.name, role=result.user.role, regions=list(result.user.regions))


@router.get("/session", response_model=SessionInfo)
def current_session(request: Request, user: Annotated[User, Depends(who)]) -> Any:
    return session_info(request, user)


@router.post("/logout")
def logout(request: Request, user: Annotated[User, Depends(who)],
           ctx: Annotated[WebContext, Depends(context)]) -> dict[str, bool]:
    with ctx.db.transaction() as conn:
        audit.record(conn, user.name, "logout", user.name, address=client_address(request))
    request.session.clear()
    return {"logged_out": True}
