"""The fleet as operators see it: one row per booth with what matters at a glance."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Connection, select

from central.alerts import troubled
from central.database import Database
from central.tables import devices

STATE_ORDER = ("fault", "offline", "degraded", "maintenance", "ok", "unknown")


def fleet_rows(db: Database, conn: Connection, now: float, device: str | None = None) -> list[dict[str, Any]]:
    """The overview's rows (or just `device`'s)."""
    rows = []
    for booth in db.fleet(conn, device):
        beat = booth["heartbeat"] or {}
        drivers = beat.get("drivers") or {}
        outbox = beat.get("outbox") or {}
        age = None if booth["last_heartbeat_at"] is None else int(now - booth["last_heartbeat_at"])
        rows.append({
            "device": booth["id"], "region": booth["region"], "site": booth["site"],
            "state": booth_state(booth["status"], drivers, booth["open_alerts"], age is not None),
            "status": booth["status"],
            "heartbeat": "never" if age is None else f"{age} s ago", "heartbeat_age_s": age,
            "printer": _health(drivers.get("printer")), "card_reader": _health(drivers.get("card_reader")),
            "outbox": outbox.get("depth", "-"), "oldest": _age(outbox.get("oldest_age_s")),
            # held at the booth until central confirms it committed them (a broker's PUBACK is not enough)
            "unconfirmed": outbox.get("unconfirmed", "-"),
            "oldest_unconfirmed": _age(outbox.get("oldest_unconfirmed_age_s")),
            "software": booth["software"], "alerts": booth["open_alerts"],
        })
    rows.sort(key=lambda r: (STATE_ORDER.index(r["state"]), r["region"], r["device"]))
    return rows


class FleetSnapshot:
    """Every booth's overview row, read at most once per `max_age_s` however many operators ask at once
    (2,000 booths' latest heartbeats take a fifth of a second to read and judge): one read, shared;
    a request that comes while it is being read waits for it instead of reading again."""

    def __init__(self, db: Database, max_age_s: float = 1.0) -> None:
        self._db = db
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._rows: list[dict[str, Any]] = []
        self._taken = -float("inf")

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            now = time.time()
            if now - self._taken >= self._max_age_s:
                with self._db.read() as conn:
                    self._rows = fleet_rows(self._db, conn, now)
                self._taken = now
            return self._rows


def booth_state(status: str, drivers: dict[str, Any], open_alerts: int, heard: bool = True) -> str:
    """One word for the colour: offline, maintenance, fault, degraded, ok (or unknown before a birth,
    and before the first heartbeat: a booth that only said it is online has not said it is well)."""
    if status in ("offline", "unknown", "maintenance"):
        return status
    if not heard:
        return "unknown"
    states = {health.get("state") for health in drivers.values() if troubled(health)}
    if "fault" in states or "absent" in states:
        return "fault"
    if "degraded" in states or open_alerts:
        return "degraded"
    return "ok"


def devices_in(conn: Connection, region: str) -> list[str]:
    return [row[0] for row in conn.execute(select(devices.c.id).where(devices.c.region == region)
                                           .order_by(devices.c.id))]


def _health(health: dict[str, Any] | None) -> str:
    if not health:
        return "-"
    return "ok" if health.get("state") == "ok" else f"{health.get('state')}:{health.get('reason')}"


def _age(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"
