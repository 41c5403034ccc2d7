"""What makes an alert, from four sources that each open and close their own alerts:

- `heartbeat`: the booth's latest health snapshot (a driver not ok, outbox backlog, clock, disk, Pi
  under-voltage, SD-card filesystem errors);
- `clock`: central's own clock (offline too long, heartbeat overdue), re-judged every sweep;
- `event`: an alert event that names its own end (an admin PIN lockout until a given time);
- `desk`: the assist desk (central.assist_desk): a citizen's call for help nobody took in time.

An alert opens when its condition starts and closes by itself when it clears.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from central.settings import Thresholds


@dataclass(frozen=True)
class Condition:
    severity: str  # warning or error
    message: str
    until: float | None = None  # when it clears by itself (unix seconds), if known


def troubled(health: dict[str, Any]) -> bool:
    """A driver not ok, except one still being opened at the booth's start (not a problem yet)."""
    return health.get("state") != "ok" and health.get("reason") != "not_opened"


def heartbeat_conditions(beat: dict[str, Any], limits: Thresholds) -> dict[str, Condition]:
    found: dict[str, Condition] = {}
    for driver, health in sorted((beat.get("drivers") or {}).items()):
        if troubled(health):
            severity = "warning" if health.get("state") == "degraded" else "error"
            found[f"{driver}_{health.get('reason')}"] = Condition(
                severity, f"{driver} is {health.get('state')}: {health.get('reason')}")
    outbox = beat.get("outbox") or {}
    depth, oldest = outbox.get("depth") or 0, outbox.get("oldest_age_s") or 0
    if depth > limits.outbox_depth or oldest > limits.outbox_oldest_min * 60:
        found["outbox_backlog"] = Condition(
            "warning", f"{depth} events waiting, the oldest for {oldest // 60} min "
                       f"(limits {limits.outbox_depth} events, {limits.outbox_oldest_min:g} min)")
    if beat.get("clock_synced") is False:
        found["clock_unsynced"] = Condition("warning", "the booth's clock is not synchronised (NTP)")
    pi = (beat.get("system") or {}).get("pi") or {}
    if (pi.get("throttling") or {}).get("under_voltage_now"):
        found["under_voltage"] = Condition("error", "the booth's power supply is too weak (under-voltage now)")
    sd_errors = sum((pi.get("filesystem_errors") or {}).values())
    if sd_errors:
        found["sd_card_errors"] = Condition("error", f"{sd_errors} filesystem errors on the SD card: replace it soon")
    disk = (beat.get("system") or {}).get("disk_free_mb")
    if disk is not None and disk < limits.disk_free_mb:
        found["disk_low"] = Condition("warning", f"{disk} MB free on the state disk (limit {limits.disk_free_mb})")
    return found


def clock_conditions(device: dict[str, Any], now: float, limits: Thresholds) -> dict[str, Condition]:
    """`device` is its row in `devices`."""
    found: dict[str, Condition] = {}
    since = device.get("status_since")
    if device.get("status") == "offline" and since is not None and now - since > limits.offline_after_min * 60:
        found["offline"] = Condition("error", f"offline for {(now - since) / 60:.0f} min")
    beat_at = device.get("last_heartbeat_at")
    if device.get("status") != "offline" and beat_at is not None and now - beat_at > limits.heartbeat_overdue_s:
        found["heartbeat_overdue"] = Condition(
            "warning", f"no heartbeat for {now - beat_at:.0f} s (expected every {limits.heartbeat_interval_s} s)")
    return found


LOCKOUT_CODE = "admin_pin_lockout"


def event_condition(payload: dict[str, Any]) -> tuple[str, Condition] | None:
    """An alert event that opens a central alert: the admin PIN locked out until `details.until`."""
    if payload.get("code") != LOCKOUT_CODE:
        return None
    until = (payload.get("details") or {}).get("until")
    try:
        ends = datetime.fromisoformat(until).timestamp() if isinstance(until, str) else None
    except ValueError:
        ends = None
    return LOCKOUT_CODE, Condition("warning", str(payload.get("message") or "admin PIN locked out"), ends)


ASSIST_ESCALATED = "assist_escalated"


def desk_conditions(escalated: int, after_s: int) -> dict[str, Condition]:
    """The booth's alert while `escalated` of its assist requests wait, not taken within `after_s`."""
    if not escalated:
        return {}
    return {ASSIST_ESCALATED: Condition("error", f"{escalated} assist request(s) (帮办代办) not taken within "
                                                 f"{after_s} s: a citizen is waiting")}
