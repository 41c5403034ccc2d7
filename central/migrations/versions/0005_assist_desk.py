"""The assist desk (帮办代办): a table of citizens' calls for help that operators take and close, and a
display name for each user (what the booth tells the citizen: who took their request).

No backfill: assist events recorded before this revision were never answered, and a desk full of
requests days old (escalated at once, answered to booths that have long moved on) would help nobody.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assists",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("request", sa.String(26), nullable=False),
        sa.Column("site", sa.Text, nullable=False),
        sa.Column("region", sa.String(16), nullable=False),
        sa.Column("item", sa.String(32)),
        sa.Column("screen", sa.String(32), nullable=False),
        sa.Column("requested_mode", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("phone_sealed", sa.LargeBinary),
        sa.Column("made_at", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("desk_from", sa.Float, nullable=False),
        sa.Column("outside_hours", sa.Boolean, nullable=False),
        sa.Column("escalated_at", sa.Float),
        sa.Column("taken_at", sa.Float),
        sa.Column("taken_by", sa.String(64)),
        sa.Column("call_back_within_min", sa.Integer),
        sa.Column("closed_at", sa.Float),
        sa.Column("closed_by", sa.String(64)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("note", sa.Text),
        sa.UniqueConstraint("device", "request", name="assists_device_request"),
        sa.ForeignKeyConstraint(["device", "request"], ["events.device", "events.id"], name="assists_event"),
    )
    op.create_index("assists_open", "assists", ["closed_at", "made_at"])
    op.create_index("assists_made_at", "assists", ["made_at"])
    op.add_column("users", sa.Column("display_name", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("display_name")
    op.drop_table("assists")
