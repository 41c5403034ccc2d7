"""The Releases page's JSON API: releases, rollouts and each booth's update state for viewers and up (their
regions only); starting, pausing, resuming and halting a rollout for admins, audited in the transaction that
makes the change (central.releases.rollouts). The offers themselves go to the broker from the intake's next
sweep, after the commit."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field, StringConstraints, model_validator
from sqlalchemy import Connection

from central.accounts import User
from central.releases import rollouts
from central.releases.views import releases_view, rollout_view
from central.web.auth import Admin, Viewer, client_address
from central.web.context import WebContext, context

router = APIRouter(prefix="/api", tags=["releases"])
Ctx = Annotated[WebContext, Depends(context)]
RolloutId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the rollout's number")]
Device = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{2,62}$")]
MAX_BOOTHS_NAMED = 500  # a longer list is a region, or a share of one


class TargetBody(BaseModel):
    region: str | None = Field(default=None, pattern=r"^[0-9]{2,6}$", description="a region code or a prefix of it")
    percent: int | None = Field(default=None, ge=1, le=100, description="with region: this share of its booths")
    devices: list[Device] | None = Field(default=None, min_length=1, max_length=MAX_BOOTHS_NAMED)

    @model_validator(mode="after")
    def _one_kind(self) -> TargetBody:
        if (self.region is None) == (self.devices is None):
            raise ValueError("name either a region (with percent, for a share of it) or the booths (devices)")
        if self.percent is not None and self.region is None:
            raise ValueError("percent goes with a region")
        return self


class NewRollout(BaseModel):
    release: int = Field(ge=1, le=2**31 - 1, description="the release's id (GET /api/releases)")
    target: TargetBody
    waves: list[int] = Field(min_length=1, max_length=rollouts.MAX_WAVES,
                             description="wave sizes in % of the rollout's booths, adding up to 100, e.g. [10, 30, 60]")
    halt_above_pct: float = Field(ge=0, lt=100, description=(
        "halt by itself when more than this % of a wave has rolled back (0: at the first rollback)"))


class Halt(BaseModel):
    reason: str = Field(default="", max_length=200, description="why, for the page and the audit log")


@router.get("/releases")
def releases(ctx: Ctx, user: Viewer) -> dict[str, Any]:
    with ctx.db.read() as conn:
        return releases_view(conn, user)


@router.get("/rollouts/{rollout_id}", responses={404: {}})
def rollout(rollout_id: RolloutId, ctx: Ctx, user: Viewer) -> dict[str, Any]:
    with ctx.db.read() as conn:
        found = rollout_view(conn, user, rollout_id)
    if found is None:
        raise HTTPException(404, f"no rollout {rollout_id}")
    return found


@router.post("/rollouts", responses={404: {}, 409: {}, 422: {}})
def start(body: NewRollout, ctx: Ctx, user: Admin, request: Request) -> dict[str, Any]:
    """Wave 1 is offered at once; the next when every booth of the previous one has committed (or rolled back
    within the threshold)."""
    target = rollouts.Target(body.target.region, body.target.percent, tuple(body.target.devices or ()))
    address = client_address(request)
    return _act(ctx, user, lambda conn, now: rollouts.start(conn, user, body.release, target, body.waves,
                                                            body.halt_above_pct / 100, now, address))


@router.post("/rollouts/{rollout_id}/pause", responses={403: {}, 404: {}, 409: {}})
def pause(rollout_id: RolloutId, ctx: Ctx, user: Admin, request: Request) -> dict[str, Any]:
    """No further wave is offered; what is offered goes on."""
    address = client_address(request)
    return _act(ctx, user, lambda conn, now: rollouts.pause(conn, user, rollout_id, now, address))


@router.post("/rollouts/{rollout_id}/resume", responses={403: {}, 404: {}, 409: {}})
def resume(rollout_id: RolloutId, ctx: Ctx, user: Admin, request: Request) -> dict[str, Any]:
    address = client_address(request)
    return _act(ctx, user, lambda conn, now: rollouts.resume(conn, user, rollout_id, now, address))


@router.post("/rollouts/{rollout_id}/halt", responses={403: {}, 404: {}, 409: {}})
def halt(rollout_id: RolloutId, body: Halt, ctx: Ctx, user: Admin, request: Request) -> dict[str, Any]:
    """For good: the offers no booth has acted on are withdrawn."""
    address = client_address(request)
    return _act(ctx, user, lambda conn, now: rollouts.halt(conn, user, rollout_id, now, address,
                                                           body.reason.strip()))


def _act(ctx: WebContext, user: User, change: Callable[[Connection, float], int]) -> dict[str, Any]:
    """One change in one transaction (audited inside it); the rollout as it stands after it."""
    try:
        with ctx.db.transaction() as conn:
            rollout_id = change(conn, time.time())
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except rollouts.RolloutForbidden as exc:
        raise HTTPException(403, str(exc)) from None
    except rollouts.RolloutConflict as exc:
        raise HTTPException(409, str(exc)) from None
    except rollouts.RolloutError as exc:
        raise HTTPException(422, str(exc)) from None
    with ctx.db.read() as conn:
        return rollout_view(conn, user, rollout_id) or {"id": rollout_id}
