"""The audit log: who did what to which booth, case, follow-up or account, when and from where.

Append-only by design (the table refuses UPDATE and DELETE, see the migrations) and written in the
same transaction as the change it describes, so a change is never without its line. `details` never
holds personal data: a case is named by its number, a citizen never.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, insert, select

from central.tables import audit_log

SYSTEM = "central"  # the actor of what central does by itself (personal data erased on schedule)

ACTIONS = ("login", "login_failed", "logout", "command", "case_status", "case_opened", "follow_up_closed",
           "user_added", "user_changed", "user_disabled", "user_enabled", "user_password", "personal_data_erased",
           "export", "assist_take", "assist_close", "assist_phone_viewed", "release_added", "rollout_started",
           "rollout_paused", "rollout_resumed", "rollout_halted")


def record(conn: Connection, actor: str, action: str, target: str = "", *, address: str = "", ok: bool = True,
           details: dict[str, Any] | None = None, at: float | None = None) -> None:
    """Add one line. `action` is one of ACTIONS (a typo must not make a line nobody searches for)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; known: {', '.join(ACTIONS)}")
    conn.execute(insert(audit_log).values(at=time.time() if at is None else at, actor=actor[:64],
                                          address=address[:64], action=action, target=target[:200], ok=ok,
                                          details=details or {}))


def lines(conn: Connection, limit: int = 200, actor: str | None = None, action: str | None = None,
          since: float | None = None) -> list[dict[str, Any]]:
    """The newest lines first."""
    query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    if actor:
        query = query.where(audit_log.c.actor == actor)
    if action:
        query = query.where(audit_log.c.action == action)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    return [dict(row) for row in conn.execute(query).mappings()]
