"""What the Releases page shows, as plain data: the releases central holds, each rollout with its progress wave
by wave, each booth's update state. Limited to the user's regions like every view: a rollout is listed when it
reaches one of their booths, and counts and lists hold only those booths."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, select

from central.accounts import User
from central.regions import in_regions
from central.releases.rollouts import FAILED, WITHDRAWN
from central.releases.store import release_rows
from central.tables import device_updates, devices, releases, rollout_booths, rollouts

BOOTHS_SHOWN = 500  # the fleet's software list shows this many, the most telling first
STAGES = ("waiting", "offered", "acting", "committed", "rolled_back", "refused", "withdrawn")
_ATTENTION = {"rolled_back": 0, "refused": 0, "trial": 1, "installing": 1, "staged": 1, "downloading": 1}


def releases_view(conn: Connection, user: User) -> dict[str, Any]:
    """The releases, the rollouts (newest first) with their waves' progress, and the booths' software."""
    booths = _booths(conn, user)
    by_rollout: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(select(rollout_booths.c.rollout, rollout_booths.c.device, rollout_booths.c.wave,
                                   rollout_booths.c.offered_at, rollout_booths.c.acted_at,
                                   rollout_booths.c.outcome)):
        if row.device in booths:
            by_rollout.setdefault(row.rollout, []).append(dict(row._mapping))
    shown = [_summary(dict(r), by_rollout[r["id"]]) for r in _rollout_rows(conn) if r["id"] in by_rollout]
    fleet = sorted(booths.values(), key=lambda b: (_ATTENTION.get(b["update"]["state"] or "", 2)
                                                  if not b["update"]["problem"] else 0, b["region"], b["device"]))
    return {"releases": release_rows(conn), "rollouts": shown,
            "versions": dict(Counter(b["software"] or "?" for b in booths.values()).most_common()),
            "booths": fleet[:BOOTHS_SHOWN], "booths_total": len(fleet), "booths_limit": BOOTHS_SHOWN}


def rollout_view(conn: Connection, user: User, rollout_id: int) -> dict[str, Any] | None:
    """One rollout with each of the user's booths in it: its wave, where its offer stands, what it reports."""
    rollout = next((r for r in _rollout_rows(conn, rollout_id)), None)
    if rollout is None:
        return None
    booths = _booths(conn, user)
    rows = [dict(r) for r in conn.execute(select(rollout_booths).where(rollout_booths.c.rollout == rollout_id)
                                          .order_by(rollout_booths.c.wave, rollout_booths.c.device)).mappings()
            if r["device"] in booths]
    if not rows:
        return None
    listed = [{**booths[r["device"]], "wave": r["wave"], "stage": _stage(r), "offered_at": r["offered_at"],
               "acted_at": r["acted_at"], "outcome_at": r["outcome_at"], "outcome_reason": r["reason"]}
              for r in rows]
    return {**_summary(dict(rollout), rows), "booths": listed}


def _rollout_rows(conn: Connection, rollout_id: int | None = None) -> list[Any]:
    query = (select(rollouts, releases.c.version, releases.c.platform, releases.c.sequence)
             .join(releases, releases.c.id == rollouts.c.release).order_by(rollouts.c.id.desc()))
    if rollout_id is not None:
        query = query.where(rollouts.c.id == rollout_id)
    return list(conn.execute(query).mappings())


def _summary(rollout: dict[str, Any], booths: list[dict[str, Any]]) -> dict[str, Any]:
    waves = []
    for number, size in enumerate(rollout["waves"], start=1):
        stages = Counter(_stage(b) for b in booths if b["wave"] == number)
        waves.append({"wave": number, "percent": size, "booths": sum(stages.values()),
                      **{stage: stages.get(stage, 0) for stage in STAGES}})
    return {"id": rollout["id"], "release": rollout["release"], "version": rollout["version"],
            "platform": rollout["platform"], "sequence": rollout["sequence"], "target": rollout["target"],
            "halt_above_pct": round(rollout["halt_above"] * 100, 1), "state": rollout["state"],
            "wave": rollout["wave"], "reason": rollout["reason"], "created_at": rollout["created_at"],
            "created_by": rollout["created_by"], "changed_at": rollout["changed_at"],
            "changed_by": rollout["changed_by"], "booth_count": len(booths), "waves": waves}


def _stage(booth: dict[str, Any]) -> str:
    """Where a booth stands in a rollout: waiting (its wave not yet offered), offered, acting (it began),
    committed, rolled_back, refused, withdrawn."""
    if booth["outcome"] in (*FAILED, WITHDRAWN, "committed"):
        return booth["outcome"]
    if booth["offered_at"] is None:
        return "waiting"
    return "acting" if booth["acted_at"] is not None else "offered"


def _booths(conn: Connection, user: User) -> dict[str, dict[str, Any]]:
    """Every booth of the user's regions with its software and what it last said of its updates."""
    found = {}
    for row in conn.execute(select(devices.c.id, devices.c.site, devices.c.region, devices.c.status,
                                   devices.c.software, device_updates).outerjoin(
            device_updates, device_updates.c.device == devices.c.id)
            .where(in_regions(devices.c.region, user))).mappings():
        found[row["id"]] = {
            "device": row["id"], "site": row["site"], "region": row["region"], "status": row["status"],
            "software": row["software"],
            "update": {key: row[key] for key in ("state", "version", "reason", "fetched", "needed", "since",
                                                 "reported_at", "problem")}}
    return found
