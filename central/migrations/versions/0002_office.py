"""The office's side: users, the append-only audit log, dashboard sessions and central's secrets; cases
remember who moved them and when they closed, follow-ups their deadline.

Frozen: the working-day rule and the closing statuses are copied here as they were (central.workdays,
central.backoffice.CLOSING), never imported.

Backfills, for rows 0.1 left:
- `follow_ups.due_at` of each open follow-up: the end of the 5th working day (Monday to Friday) after the
  day it was opened, in central's local time. The holidays in central's settings are not known here: a
  deadline over a holiday comes out a day early at worst.
- `cases.closed_at` of each case already in a closing status (an operator set it with `kiosk central
  case`): its `updated_at`, when that status was set, so the retention clock starts for it too.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FOLLOW_UP_WORKING_DAYS = 5
CLOSING = ("已办结", "已退回", "不予受理")

# Appending is all the audit log allows: the database itself refuses to change or remove a line.
REFUSAL = "audit_log is append-only"
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
    for verb in ("UPDATE", "DELETE")
]
POSTGRESQL_FUNCTION = f"""
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{REFUSAL}' USING ERRCODE = 'insufficient_privilege';
END
$$"""
POSTGRESQL_TRIGGERS = [
    f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    for verb in ("UPDATE", "DELETE")
] + [  # TRUNCATE fires no row trigger: a statement trigger refuses it as well
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
]


def add_working_days(start: float, days: int) -> float:
    """The end (local midnight after it) of the `days`-th working day after the day of `start`."""
    day = datetime.fromtimestamp(start).date()
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return datetime.combine(day + timedelta(days=1), time()).timestamp()


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("updated_by", sa.Text))
        batch.add_column(sa.Column("closed_at", sa.Float))
        batch.add_column(sa.Column("personal_erased_at", sa.Float))
    with op.batch_alter_table("follow_ups") as batch:
        batch.add_column(sa.Column("due_at", sa.Float))

    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("regions", sa.JSON, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.Float),
        sa.Column("last_login_at", sa.Float),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("audit_log_at", "audit_log", ["at"])
    op.create_table(
        "web_sessions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("web_sessions_expires", "web_sessions", ["expires_at"])
    op.create_table(
        "central_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )

    if op.get_context().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        for trigger in POSTGRESQL_TRIGGERS:
            op.execute(trigger)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)

    backfill()


def backfill() -> None:
    conn = op.get_bind()
    follow_ups = sa.table("follow_ups", sa.column("id"), sa.column("opened_at"), sa.column("due_at"),
                          sa.column("closed_at"))
    open_ones = conn.execute(sa.select(follow_ups.c.id, follow_ups.c.opened_at)
                             .where(follow_ups.c.closed_at.is_(None))).all()
    if open_ones:
        conn.execute(sa.update(follow_ups).where(follow_ups.c.id == sa.bindparam("fid"))
                     .values(due_at=sa.bindparam("due")),
                     [{"fid": fid, "due": add_working_days(opened, FOLLOW_UP_WORKING_DAYS)}
                      for fid, opened in open_ones])
    cases = sa.table("cases", sa.column("status"), sa.column("updated_at"), sa.column("closed_at"))
    conn.execute(sa.update(cases).where(cases.c.status.in_(CLOSING), cases.c.closed_at.is_(None))
                 .values(closed_at=cases.c.updated_at))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_truncate"):
            op.execute(f"DROP TRIGGER {trigger} ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    else:
        for trigger in ("audit_log_no_update", "audit_log_no_delete"):
            op.execute(f"DROP TRIGGER {trigger}")
    for name in ("central_secrets", "web_sessions", "audit_log", "users"):
        op.drop_table(name)
    with op.batch_alter_table("follow_ups") as batch:
        batch.drop_column("due_at")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("personal_erased_at")
        batch.drop_column("closed_at")
        batch.drop_column("updated_by")
