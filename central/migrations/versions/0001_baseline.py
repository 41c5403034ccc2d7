"""Baseline: central's tables as version 0.1 made them (before Alembic).

A database made by 0.1 is stamped with this revision instead of running it (central.migrations.upgrade).
Written out by hand, frozen: never import central.tables here, it moves on.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("site", sa.Text, nullable=False),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("software", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_since", sa.Float),
        sa.Column("boot", sa.Integer, nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_heartbeat_at", sa.Float),
        sa.Column("heartbeat", sa.JSON),
    )
    op.create_table(
        "status_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("boot", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("stale", sa.Boolean, nullable=False),
    )
    op.create_index("status_history_device", "status_history", ["device", "received_at"])
    op.create_table(
        "heartbeats",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("boot", sa.Integer, nullable=False),
        sa.Column("outbox_depth", sa.Integer),
        sa.Column("outbox_oldest_s", sa.Integer),
        sa.Column("cpu_temp_c", sa.Float),
        sa.Column("disk_free_mb", sa.Integer),
    )
    op.create_index("heartbeats_device", "heartbeats", ["device", "received_at"])
    op.create_table(
        "events",
        sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created", sa.String(40), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
    )
    op.create_index("events_device_seq", "events", ["device", "seq"])
    op.create_index("events_kind", "events", ["kind", "received_at"])
    op.create_index("events_id", "events", ["id"])
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("receipt", sa.String(26), nullable=False),
        sa.Column("case_no", sa.String(32), unique=True),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("item", sa.String(32), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("device", "receipt", name="cases_device_receipt"),
        sa.ForeignKeyConstraint(["device", "receipt"], ["events.device", "events.id"], name="cases_event"),
    )
    op.create_index("cases_receipt", "cases", ["receipt"])
    op.create_table(
        "ratings",
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("event", sa.String(26), primary_key=True),
        sa.Column("item", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("case_ref", sa.String(26)),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.ForeignKeyConstraint(["device", "event"], ["events.device", "events.id"], name="ratings_event"),
    )
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("rating", sa.String(26), nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("closed_at", sa.Float),
        sa.Column("closed_by", sa.Text),
        sa.Column("note", sa.Text),
        sa.UniqueConstraint("device", "rating", name="follow_ups_device_rating"),
        sa.ForeignKeyConstraint(["device", "rating"], ["ratings.device", "ratings.event"], name="follow_ups_rating"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("closed_at", sa.Float),
        sa.Column("until", sa.Float),
    )
    op.create_index("alerts_open", "alerts", ["device", "closed_at"])
    op.create_table(
        "commands",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("batch", sa.String(32), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("sent_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("answered_at", sa.Float),
        sa.Column("ok", sa.Boolean),
        sa.Column("result", sa.JSON),
    )
    op.create_index("commands_device", "commands", ["device", "sent_at"])
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64)),
        sa.Column("topic", sa.String(256), nullable=False),
        sa.Column("event", sa.String(26)),
        sa.Column("seq", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("payload", sa.LargeBinary),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.UniqueConstraint("device", "event", name="dead_letters_device_event"),
    )
    op.create_index("dead_letters_received", "dead_letters", ["received_at"])


def downgrade() -> None:
    for name in ("dead_letters", "commands", "alerts", "follow_ups", "ratings", "cases", "events", "heartbeats",
                 "status_history", "devices"):  # children first
        op.drop_table(name)
