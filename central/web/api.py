"""The fleet's JSON API: the overview, one booth, usage and 好差评, commands, follow-ups, dead letters,
and central's own health and metrics. Every answer is limited to the asking user's regions; a booth
outside them is answered as if it did not exist (404), so its name is not confirmed either.
"""

from __future__ import annotations

import time
from ipaddress import ip_address, ip_network
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starsessions import load_session

from central import audit
from central.commands import CommandError
from central.regions import in_regions
from central.tables import devices, follow_ups
from central.views import device_view, fleet_view, usage_view
from central.web.auth import Operator, Viewer, client_address
from central.web.context import WebContext, context

router = APIRouter(prefix="/api", tags=["fleet"])
Ctx = Annotated[WebContext, Depends(context)]
DEVICE = r"^[a-z0-9-]{3,63}$"


class Command(BaseModel):
    name: str = Field(min_length=1, max_length=32)
    args: dict[str, Any] | None = None
    expires_s: float = Field(default=600, ge=1, le=7 * 86_400)


class CloseFollowUp(BaseModel):
    note: str = Field(min_length=1, max_length=500, description="what was done: called back, explained, …")

    @field_validator("note")
    @classmethod
    def _said_something(cls, note: str) -> str:
        if not note.strip():
            raise ValueError("say what was done (the note is empty)")
        return note.strip()


@router.get("/fleet")
def fleet(ctx: Ctx, user: Viewer, region: str = "", state: str = "") -> dict[str, Any]:
    """The overview, with central's own health: the page says when intake is held up."""
    with ctx.db.read() as conn:
        view = fleet_view(ctx.fleet.rows(), conn, user, ctx.names, region, state)
    return {**view, "intake": ctx.health()}


@router.get("/devices/{device}")
def device(device: Annotated[str, Path(pattern=DEVICE)], ctx: Ctx, user: Viewer,
           hours: Annotated[int, Query(ge=1, le=24 * 90)] = 24) -> dict[str, Any]:
    with ctx.db.read() as conn:
        view = device_view(ctx.db, conn, device, user, ctx.names, hours)
    if view is None:
        raise HTTPException(404, f"no device {device!r}")
    return view


@router.post("/devices/{device}/commands")
def command(device: Annotated[str, Path(pattern=DEVICE)], ctx: Ctx, user: Operator, body: Command,
            request: Request) -> dict[str, str]:
    with ctx.db.read() as conn:
        region = conn.execute(select(devices.c.region).where(devices.c.id == device)).scalar()
    if region is None or not user.covers(region):
        raise HTTPException(404, f"no device {device!r}")
    try:
        sent = ctx.send_command([device], body.name, body.args, body.expires_s, user.name, client_address(request))
    except CommandError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"id": sent[device]}


@router.get("/usage")
def usage(ctx: Ctx, user: Viewer, days: Annotated[int, Query(ge=1, le=366)] = 14) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return usage_view(conn, user, ctx.names, days)


@router.post("/follow-ups/{follow_up}/close")
def close_follow_up(ctx: Ctx, user: Operator, follow_up: int, body: CloseFollowUp,
                    request: Request) -> dict[str, int]:
    """Closed by the logged-in operator, with what was done."""
    with ctx.db.transaction() as conn:
        found = conn.execute(select(follow_ups.c.closed_at).join(devices, devices.c.id == follow_ups.c.device)
                             .where(follow_ups.c.id == follow_up, in_regions(devices.c.region, user))).first()
        if found is None:
            raise HTTPException(404, f"no follow-up {follow_up}")
        if found[0] is not None or not ctx.db.close_follow_up(conn, follow_up, user.name, body.note, time.time()):
            raise HTTPException(409, f"follow-up {follow_up} is closed already")
        audit.record(conn, user.name, "follow_up_closed", str(follow_up), address=client_address(request),
                     details={"note": body.note})
    return {"closed": follow_up}


@router.get("/dead-letters")
def dead_letters(ctx: Ctx, user: Operator, device: Annotated[str | None, Query(pattern=DEVICE)] = None,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """What central could never record, and why (never the content)."""
    with ctx.db.read() as conn:
        found = ctx.db.dead_letters(conn, limit, device)
        regions = dict(conn.execute(select(devices.c.id, devices.c.region)).all()) if user.regions else {}
    return [row for row in found if not user.regions or user.covers(regions.get(row["device"]))]


async def _monitor(request: Request, ctx: WebContext) -> None:
    """Central's health and metrics: for the monitoring addresses, or a logged-in user (whose session
    is read only then: a monitor's question never touches the database)."""
    address = client_address(request)
    try:
        allowed = any(ip_address(address) in ip_network(net, strict=False) for net in ctx.settings.metrics_from)
    except ValueError:
        allowed = False
    if allowed:
        return
    await load_session(request)
    if not request.session.get("user"):
        raise HTTPException(401, "log in first, or ask from a monitoring address (--metrics-from)")


@router.get("/health", responses={503: {}})
async def health(ctx: Ctx, request: Request, response: Response) -> dict[str, Any]:
    """The intake: database failing?, messages held, broker connection (503 while not healthy; read
    from memory, never the database)."""
    await _monitor(request, ctx)
    found = ctx.health()
    if not found.get("ok"):
        response.status_code = 503
    return found


metrics_router = APIRouter(tags=["monitoring"])


@metrics_router.get("/metrics", response_class=Response)
async def metrics(ctx: Ctx, request: Request) -> Response:
    """Prometheus text format: messages, batches held, database errors, booths, alerts, follow-ups."""
    await _monitor(request, ctx)
    body, kind = await run_in_threadpool(ctx.metrics)
    return Response(body, media_type=kind)



