"""Alembic's environment for central: run on the connection central.migrations.upgrade passes in.

That connection is already inside the transaction the caller commits (every step in one transaction:
on PostgreSQL a failed upgrade leaves the database as it was; SQLite is given an explicit BEGIN
IMMEDIATE for its DDL). SQLite alters tables in batch mode (copy and rename where ALTER cannot).

For a developer's `alembic` command line, `-x url=...` names a database instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=None,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("central's migrations run on a live database only (0002 computes its backfill)")
given = context.config.attributes.get("connection")
if given is not None:
    run(given)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("name the database: alembic -x url=sqlite:///central.sqlite3 ...")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            run(conn)
            conn.commit()
    finally:
        engine.dispose()
