"""The assist desk's JSON API (帮办代办): the desk for viewers and up; taking, closing and reading a
call-back number for operators. Every answer is limited to the user's regions: another region's request
is answered 404, as if it did not exist. What a take or a close changes is told to the booth only after
it is committed (central.assist_desk)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Connection

from appliance.contract import ASSIST_OUTCOMES
from appliance.state.sealing import SealError
from central.assist_desk import MAX_NOTE, Answer, DeskConflict, shown
from central.web.auth import Operator, Viewer, client_address
from central.web.context import WebContext, context

router = APIRouter(prefix="/api", tags=["assist desk"])
Ctx = Annotated[WebContext, Depends(context)]
AssistId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the request's id on the desk")]


class Take(BaseModel):
    call_back_within_min: int | None = Field(default=None, ge=1, le=240, description=(
        "for a call back: the citizen is called within this many minutes (default 15)"))


class Close(BaseModel):
    outcome: str = Field(description="one of " + ", ".join(ASSIST_OUTCOMES))
    note: str = Field(default="", max_length=MAX_NOTE, description="what was done, one line")

    @field_validator("outcome")
    @classmethod
    def _known(cls, outcome: str) -> str:
        if outcome not in ASSIST_OUTCOMES:
            raise ValueError(f"the outcome is one of {', '.join(ASSIST_OUTCOMES)}")
        return outcome


@router.get("/assists")
def desk(ctx: Ctx, user: Viewer) -> dict[str, Any]:
    """Open requests oldest first with how long each has waited, those closed in the last 24 h, the
    counts, and whether the desk is staffed now. Never a phone number."""
    with ctx.db.read() as conn:
        return ctx.desk.view(conn, user, ctx.names, time.time())


@router.get("/assists/{assist_id}/phone")
def phone(assist_id: AssistId, ctx: Ctx, user: Operator, request: Request) -> dict[str, str]:
    """The call-back number, for operators; every look is audited. 404 when there is none (or it was erased
    when the request closed)."""
    try:
        with ctx.db.transaction() as conn:
            return {"phone": ctx.desk.phone(conn, user, assist_id, client_address(request))}
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except SealError:
        raise HTTPException(500, "the number was sealed with another key: every central instance needs the same "
                                 "--personal-data-key file") from None


@router.post("/assists/{assist_id}/take", responses={404: {}, 409: {}})
def take(assist_id: AssistId, body: Take, ctx: Ctx, user: Operator, request: Request) -> dict[str, Any]:
    """Taken by the logged-in operator (it shows who); the booth hears it. 409 when someone else took it or
    it is closed."""
    address = client_address(request)
    return _change(ctx, lambda conn, now: ctx.desk.take(conn, user, assist_id, body.call_back_within_min,
                                                        address, now))


@router.post("/assists/{assist_id}/close", responses={404: {}, 409: {}})
def close(assist_id: AssistId, body: Close, ctx: Ctx, user: Operator, request: Request) -> dict[str, Any]:
    """Closed with an outcome and a note (taken or not); its call-back number is erased and the booth
    hears it. 409 when it is closed already."""
    address = client_address(request)
    return _change(ctx, lambda conn, now: ctx.desk.close(conn, user, assist_id, body.outcome, body.note,
                                                         address, now))


def _change(ctx: WebContext, change: Callable[[Connection, float], tuple[Mapping[str, Any], Answer | None]]
            ) -> dict[str, Any]:
    """Run a take or close in one transaction, then tell the booth (only what was committed)."""
    now = time.time()
    try:
        with ctx.db.transaction() as conn:
            row, answer = change(conn, now)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except DeskConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    if answer is not None:
        ctx.publish(*answer)
    return shown(row, ctx.names, now)
