"""Receipt numbers a person can use (issue 18): each numbered submission's or appointment's 16-digit number with
the keyed digest of its applicant's ID number, and the booth codes those numbers carry (central.receipts).

No backfill: what booths filed before numbers has no number (its receipt's event id still finds its case), and
the digest needs central's lookup key, which a migration does not hold: an older case is not found by the ID card.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "receipt_numbers",
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("event", sa.String(26), primary_key=True),
        sa.Column("number", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("holder", sa.String(64)),
        sa.Column("filed_at", sa.Float, nullable=False),
        sa.Column("conflict", sa.Boolean, nullable=False),
        sa.ForeignKeyConstraint(["device", "event"], ["events.device", "events.id"], name="receipt_numbers_event"),
    )
    op.create_index("receipt_numbers_number", "receipt_numbers", ["number"])
    op.create_index("receipt_numbers_holder", "receipt_numbers", ["holder"])
    op.create_table(
        "booth_codes",
        sa.Column("code", sa.String(5), primary_key=True),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("booth_codes")
    op.drop_table("receipt_numbers")
