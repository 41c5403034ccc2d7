"""A rating is dated when the citizen gave it (the booth's stamp, when its clock was synchronised), not
when central received it: a booth offline for days still files November's 差评 in November, and the
follow-up's deadline counts from the rating. And a command remembers who sent it.

Backfill: `rated_at` from the rating event's `created` stamp (central 0.1 kept no note of whether the
booth's clock was synchronised: a stamp later than the receipt, or unreadable, gives the receipt time).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch rebuild: SQLite would rebuild `ratings`, which follow-ups' foreign key
    # forbids while the database enforces foreign keys. So `rated_at` stays nullable (central always sets it).
    op.add_column("ratings", sa.Column("rated_at", sa.Float, nullable=True))
    op.add_column("commands", sa.Column("sent_by", sa.Text, nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT r.device, r.event, r.received_at, e.created FROM ratings r "
        "JOIN events e ON e.device = r.device AND e.id = r.event")).all()
    stamped = [{"device": device, "event": event, "at": _when(created, received)}
               for device, event, received, created in rows]
    if stamped:
        bind.execute(sa.text("UPDATE ratings SET rated_at = :at WHERE device = :device AND event = :event"), stamped)
    op.create_index("ratings_rated_at", "ratings", ["rated_at"])


def downgrade() -> None:
    op.drop_index("ratings_rated_at", "ratings")
    with op.batch_alter_table("commands") as batch:
        batch.drop_column("sent_by")
    op.execute("ALTER TABLE ratings DROP COLUMN rated_at")  # no rebuild (see upgrade); SQLite 3.35+ has it


def _when(created: object, received: float) -> float:
    try:
        stamp = datetime.fromisoformat(created).timestamp() if isinstance(created, str) else received
    except ValueError:
        return received
    return stamp if stamp <= received else received
