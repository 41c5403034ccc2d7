"""Software releases (issue 17): the bundles central holds, rollouts of a release to booths in waves, and what
each booth last said of its updates. New tables only; nothing to backfill.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("manifest", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("files", sa.JSON, nullable=False),
        sa.Column("bundle", sa.String(255), nullable=False),
        sa.Column("bundle_bytes", sa.BigInteger, nullable=False),
        sa.Column("added_at", sa.Float, nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.UniqueConstraint("platform", "version", name="releases_platform_version"),
        sa.UniqueConstraint("platform", "sequence", name="releases_platform_sequence"),
    )
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("release", sa.Integer, sa.ForeignKey("releases.id"), nullable=False),
        sa.Column("target", sa.JSON, nullable=False),
        sa.Column("waves", sa.JSON, nullable=False),
        sa.Column("halt_above", sa.Float, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("changed_at", sa.Float, nullable=False),
        sa.Column("changed_by", sa.String(64), nullable=False),
    )
    op.create_index("rollouts_state", "rollouts", ["state"])
    op.create_table(
        "rollout_booths",
        sa.Column("rollout", sa.Integer, sa.ForeignKey("rollouts.id"), primary_key=True),
        sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("offered_at", sa.Float),
        sa.Column("acted_at", sa.Float),
        sa.Column("outcome", sa.String(16)),
        sa.Column("outcome_at", sa.Float),
        sa.Column("reason", sa.String(200)),
        sa.Column("published_at", sa.Float),
    )
    op.create_index("rollout_booths_device", "rollout_booths", ["device", "rollout"])
    op.create_index("rollout_booths_unpublished", "rollout_booths", ["published_at"])
    op.create_table(
        "device_updates",
        sa.Column("device", sa.String(64), sa.ForeignKey("devices.id"), primary_key=True),
        sa.Column("state", sa.String(16)),
        sa.Column("version", sa.String(16)),
        sa.Column("reason", sa.String(200)),
        sa.Column("fetched", sa.BigInteger),
        sa.Column("needed", sa.BigInteger),
        sa.Column("since", sa.Float),
        sa.Column("reported_at", sa.Float, nullable=False),
        sa.Column("problem", sa.String(300)),
    )


def downgrade() -> None:
    op.drop_table("device_updates")
    op.drop_table("rollout_booths")
    op.drop_table("rollouts")
    op.drop_table("releases")
