"""What the dashboard shows, as plain data: the fleet with its counts, one booth in depth, and usage.

Personal data never leaves here: a submission's or appointment's `applicant` and `form` are replaced
before an event is shown (the intake keeps them for the case page, central.backoffice). Every view is
limited to the regions of the user asking (accounts.User.covers), and names items, not codes.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from sqlalchemy import Connection, and_, func, select

from appliance.contract import PERSONAL_KINDS
from central.accounts import User
from central.assist_desk import assist_usage, desk_counts
from central.catalogue_names import CatalogueNames
from central.database import Database
from central.fleet import STATE_ORDER, fleet_rows
from central.regions import in_regions
from central.tables import alerts, commands, dead_letters, devices, events, follow_ups, heartbeats, ratings
from central.usage_totals import response_rates, usage_totals

LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
HIDDEN = "(personal data not shown)"
DEAD_LETTER_DAYS = 7  # the overview says how many messages central could not record this long
FOLLOW_UPS_SHOWN = 100  # a page lists the oldest; the counts say how many there are


def fleet_view(fleet: list[dict[str, Any]], conn: Connection, user: User, names: CatalogueNames,
               region: str = "", state: str = "") -> dict[str, Any]:
    """The overview from the fleet's rows (fleet.FleetSnapshot), for the user's regions."""
    now = time.time()
    everyone = [row for row in fleet if user.covers(row["region"])]
    counts = Counter(row["state"] for row in everyone)
    shown = [row for row in everyone
             if (not region or row["region"] == region) and (not state or row["state"] == state)]
    return {"counts": {s: counts.get(s, 0) for s in STATE_ORDER}, "total": len(everyone),
            "regions": sorted({row["region"] for row in everyone if row["region"]}), "devices": shown,
            "follow_ups": open_follow_ups(conn, user, names, now, limit=5),  # the oldest, for the flag
            "follow_up_counts": follow_up_counts(conn, user, now),
            "assists": desk_counts(conn, user),  # open assist requests, and how many wait escalated
            "dead_letters": {"recent": recent_dead_letters(conn, user, now - DEAD_LETTER_DAYS * 86_400),
                             "days": DEAD_LETTER_DAYS}}


def recent_dead_letters(conn: Connection, user: User, since: float) -> int:
    """Messages central could not record since `since`, from booths in the user's regions."""
    return conn.execute(select(func.count()).select_from(dead_letters)
                        .join(devices, devices.c.id == dead_letters.c.device, isouter=not user.regions)
                        .where(dead_letters.c.received_at >= since, in_regions(devices.c.region, user))).scalar_one()


def device_view(db: Database, conn: Connection, device: str, user: User, names: CatalogueNames,
                hours: float = 24) -> dict[str, Any] | None:
    """One booth in depth; None if there is no such booth or it is outside the user's regions."""
    now = time.time()
    found = fleet_rows(db, conn, now, device)
    if not found or not user.covers(found[0]["region"]):
        return None
    summary = found[0]
    beats = conn.execute(select(heartbeats.c.received_at, heartbeats.c.outbox_depth, heartbeats.c.cpu_temp_c,
                                heartbeats.c.disk_free_mb)
                         .where(heartbeats.c.device == device, heartbeats.c.received_at >= now - hours * 3600)
                         .order_by(heartbeats.c.received_at)).all()
    recent_alerts = conn.execute(select(alerts).where(alerts.c.device == device)
                                 .order_by(alerts.c.opened_at.desc()).limit(50)).mappings().all()
    recent_events = conn.execute(select(events).where(events.c.device == device)
                                 .order_by(events.c.received_at.desc()).limit(50)).mappings().all()
    sent = conn.execute(select(commands).where(commands.c.device == device)
                        .order_by(commands.c.sent_at.desc()).limit(20)).mappings().all()
    return {
        "summary": summary,
        "series": {"t": [b[0] for b in beats], "outbox_depth": [b[1] for b in beats],
                   "cpu_temp_c": [b[2] for b in beats], "disk_free_mb": [b[3] for b in beats]},
        "alerts": [dict(a) for a in recent_alerts],
        "events": [_shown_event(dict(e), names) for e in recent_events],
        "commands": [{**c, "state": _command_state(c, now)} for c in map(dict, sent)],
        "seq_gaps": db.seq_gaps(conn, device),
        "dead_letters": db.dead_letters(conn, 20, device),  # the newest; the count says how many in all
        "dead_letter_count": conn.execute(select(func.count()).select_from(dead_letters)
                                          .where(dead_letters.c.device == device)).scalar_one(),
    }


def _command_state(command: dict[str, Any], now: float) -> str:
    """waiting (not answered yet), expired (not answered before it expired), ok or failed."""
    if command["answered_at"] is not None:
        return "ok" if command["ok"] else "failed"
    return "expired" if command["expires_at"] < now else "waiting"


def _shown_event(event: dict[str, Any], names: CatalogueNames) -> dict[str, Any]:
    payload = event["payload"]
    if event["kind"] in PERSONAL_KINDS and isinstance(payload, dict):
        event["payload"] = {**payload, **{key: HIDDEN for key in ("applicant", "form") if key in payload}}
    item = payload.get("item") if isinstance(payload, dict) else None
    event["item_name"] = names.item(item) if isinstance(item, str) and item else None
    return event


def follow_up_counts(conn: Connection, user: User, now: float) -> dict[str, int]:
    """How many 差评 follow-ups are open, and how many of them are past their deadline."""
    open_now = (select(func.count(), func.count().filter(follow_ups.c.due_at < now))
                .select_from(follow_ups).join(devices, devices.c.id == follow_ups.c.device)
                .where(follow_ups.c.closed_at.is_(None), in_regions(devices.c.region, user)))
    total, overdue = conn.execute(open_now).one()
    return {"open": total, "overdue": overdue}


def open_follow_ups(conn: Connection, user: User, names: CatalogueNames, now: float,
                    limit: int = FOLLOW_UPS_SHOWN) -> list[dict[str, Any]]:
    """The oldest `limit` 差评 follow-ups not yet closed, each with its deadline and whether it is past
    (the oldest are the most overdue; follow_up_counts says how many there are in all)."""
    rows = conn.execute(
        select(follow_ups.c.id, follow_ups.c.opened_at, follow_ups.c.due_at, ratings.c.device, ratings.c.item,
               ratings.c.level, devices.c.region, events.c.payload)
        .join(ratings, and_(ratings.c.device == follow_ups.c.device, ratings.c.event == follow_ups.c.rating))
        .join(events, and_(events.c.device == ratings.c.device, events.c.id == ratings.c.event))
        .join(devices, devices.c.id == ratings.c.device)
        .where(follow_ups.c.closed_at.is_(None), in_regions(devices.c.region, user))
        .order_by(follow_ups.c.opened_at, follow_ups.c.id).limit(limit)).mappings().all()
    return [{"id": f["id"], "opened_at": f["opened_at"], "due_at": f["due_at"],
             "overdue": f["due_at"] is not None and f["due_at"] < now, "device": f["device"],
             "region": f["region"], "item": f["item"], "item_name": names.item(f["item"]), "level": f["level"],
             "label": LEVELS.get(f["level"], str(f["level"])),
             "reasons": (f["payload"] or {}).get("reasons", []) if isinstance(f["payload"], dict) else []}
            for f in rows]


def usage_view(conn: Connection, user: User, names: CatalogueNames, days: int = 14) -> dict[str, Any]:
    """Services used per day and per device, top items, sessions and timeouts (from the booths' usage
    reports), the 好差评 picture (from the ratings; the response rate to the rating offered after each task,
    from the usage reports) and the 帮办代办 requests of the period (from the assist desk: per booth and item,
    taken, time to take, outcomes), for the user's regions."""
    now = time.time()
    since = now - days * 86_400
    totals = usage_totals(conn, user, days)
    per_day = totals["per_day"]
    levels = dict(conn.execute(select(ratings.c.level, func.count()).join(devices, devices.c.id == ratings.c.device)
                               .where(ratings.c.rated_at >= since, in_regions(devices.c.region, user))
                               .group_by(ratings.c.level)).all())
    rated = sum(levels.values())
    response = response_rates(totals["rating_offers"])
    waiting = open_follow_ups(conn, user, names, now)
    waiting_counts = follow_up_counts(conn, user, now)
    return {
        "days": sorted(per_day), "per_day": per_day, "per_device": totals["per_device"],
        "top_items": [(names.item(code), n, code) for code, n in totals["top_items"]],
        "sessions": sum(c.get("session_start", 0) for c in per_day.values()),
        "timeouts": sum(c.get("timeout", 0) for c in per_day.values()),
        "ratings": {"levels": [{"level": lv, "label": LEVELS[lv], "count": levels.get(lv, 0)} for lv in LEVELS],
                    "total": rated,
                    "satisfaction": (sum(levels.get(lv, 0) for lv in (5, 4, 3)) / rated) if rated else None,
                    "open_follow_ups": waiting_counts["open"],
                    "response": {**response["total"], "per_item": [
                        {"item": code, "item_name": names.item(code), **counts}
                        for code, counts in response["per_item"]]}},
        "follow_ups": waiting, "follow_up_counts": waiting_counts,
        "assists": assist_usage(conn, user, names, since, now),
    }
