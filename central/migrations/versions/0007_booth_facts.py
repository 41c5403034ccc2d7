"""A booth's facts apart from its heartbeats (issue 19): births and every tenth heartbeat carry what rarely
changes, the other heartbeats only what changes; `devices.facts` keeps the newest of each (central.heartbeats).
A new nullable column; nothing to backfill (a booth's next birth or fuller heartbeat fills it).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch rebuild: SQLite would rebuild `devices`, which every booth's rows refer to.
    op.add_column("devices", sa.Column("facts", sa.JSON, nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE devices DROP COLUMN facts")  # no rebuild (see upgrade); SQLite 3.35+ has it
