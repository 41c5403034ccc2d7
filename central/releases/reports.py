"""What each booth says of its software updates: the heartbeat's optional `update` block, kept per booth
(`device_updates`) with when it first said it. Rollouts are judged from it (central.releases.rollouts).

A block that fails its rules (central.messages.read_update) is refused alone: the booth's row keeps what it
said last and `problem` says why the new one was refused, so an operator sees a booth with a broken updater
while its heartbeat, alerts and the fleet view go on.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from central.messages import BadMessage, read_update
from central.tables import device_updates

SAID = ("state", "version", "reason")  # a change of any of these restarts `since`


def record_update_reports(conn: Connection, reports: list[tuple[str, dict[str, Any], float]]) -> bool:
    """Each booth's latest heartbeat (device, heartbeat, received) with an `update` block; True when any booth
    said something new (a rollout may have moved on). The booths are in `devices` already."""
    given = [(device, beat["update"], at) for device, beat, at in reports if "update" in beat]
    if not given:
        return False
    known = {row["device"]: row for row in conn.execute(select(device_updates).where(
        device_updates.c.device.in_([device for device, _, _ in given]))).mappings()}
    good, bad, changed = [], [], False
    for device, block, at in given:
        try:
            update = read_update(block, f"{device} heartbeat update")
        except BadMessage as exc:
            bad.append({"device": device, "reported_at": at, "problem": str(exc)[:300]})
            continue
        before = known.get(device)
        new = before is None or any(before[key] != update[key] for key in SAID)
        changed = changed or new
        good.append({**update, "device": device, "since": at if new else before["since"], "reported_at": at,
                     "problem": None})
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for rows in (good, bad):
        if rows:
            statement = dialect.insert(device_updates)
            kept = [name for name in rows[0] if name != "device"]
            conn.execute(statement.on_conflict_do_update(
                index_elements=["device"], set_={name: statement.excluded[name] for name in kept}), rows)
    return changed
