"""Usage totals kept as reports arrive (central.usage_totals): per day, region, action and item, and per
day and booth the citizens served; backfilled from the usage reports already recorded. And an index of
follow-ups by closing and opening time: the open ones, oldest first, without a scan of every rating.

Frozen: the rules for a well-formed count and a report's day, and the actions that count as a citizen
served, are copied here as they were, never imported.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SERVED = ("guide_viewed", "notice_printed", "submission", "appointment")
BATCH = 5_000


def upgrade() -> None:
    op.create_index("follow_ups_open", "follow_ups", ["closed_at", "opened_at"])
    daily = op.create_table(
        "usage_daily",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("region", sa.String(16), primary_key=True),
        sa.Column("action", sa.String(32), primary_key=True),
        sa.Column("item", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    booths = op.create_table(
        "usage_daily_booth",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("served", sa.Integer, nullable=False),
    )
    bind = op.get_bind()
    regions = dict(bind.execute(sa.text("SELECT id, region FROM devices")).all())
    by_item: Counter[tuple[str, str, str, str]] = Counter()
    served: Counter[tuple[str, str, str]] = Counter()
    for device, payload in bind.execute(sa.text("SELECT device, payload FROM events WHERE kind = 'usage'")):
        report = json.loads(payload) if isinstance(payload, str) else payload
        region = regions.get(device) or ""
        day = _day(report.get("window_start") if isinstance(report, dict) else None)
        for count in _counts(report):
            by_item[(day, region, count["action"][:32], (count.get("item") or "")[:32])] += count["count"]
            if count["action"] in SERVED:
                served[(day, device, region)] += count["count"]
    rows = [{"day": d, "region": r, "action": a, "item": i, "count": n} for (d, r, a, i), n in by_item.items()]
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(daily, rows[start:start + BATCH])
    rows = [{"day": d, "device": dev, "region": r, "served": n} for (d, dev, r), n in served.items()]
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(booths, rows[start:start + BATCH])


def downgrade() -> None:
    op.drop_table("usage_daily_booth")
    op.drop_table("usage_daily")
    op.drop_index("follow_ups_open", "follow_ups")


def _counts(payload: Any) -> list[dict[str, Any]]:
    counts = payload.get("counts") if isinstance(payload, dict) else None
    if not isinstance(counts, list):
        return []
    return [count for count in counts
            if isinstance(count, dict) and isinstance(count.get("action"), str)
            and isinstance(count.get("count"), int) and not isinstance(count.get("count"), bool)
            and (count.get("item") is None or isinstance(count.get("item"), str))]


def _day(stamp: Any) -> str:
    try:
        return datetime.fromisoformat(stamp).date().isoformat() if isinstance(stamp, str) and stamp else "unknown"
    except ValueError:
        return "unknown"
