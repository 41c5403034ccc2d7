"""Central's schema, changed by Alembic migrations (the revisions in versions/, written by hand).

`upgrade(engine)` brings any of central's databases to the newest revision when central opens it:

- empty: every revision from the first;
- made before Alembic (central 0.1: its tables, no `alembic_version`): events are re-keyed by (device, id)
  if the database is older still (central.database.upgrade_event_keys), tables an older version never made
  are created as 0.1 had them (central.migrations.legacy), it is stamped 0001, the 0.1 baseline, and
  upgraded from there;
- at the newest revision: a look at its version table, nothing else.

Several instances starting at once on one PostgreSQL database take turns on an advisory lock; on SQLite
the upgrade holds the write lock (BEGIN IMMEDIATE) and another instance waits its busy timeout. All of one
upgrade is one transaction (stamp included): it happens entirely or not at all.

Alembic's INFO lines are held back while it is imported and runs (the `alembic` logger, unless given a
level, is set to WARNING for the duration; nothing else about logging is touched); one INFO line on
`central.migrations` says what changed.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("central.migrations")

HERE = Path(__file__).parent
BASELINE = "0001"  # the schema of central 0.1, the last made without Alembic
VERSION_TABLE = "alembic_version"
# pg_advisory_lock's key: a bigint nothing else on the database uses (the bytes of "central." in ASCII).
LOCK_KEY = int.from_bytes(b"central.", "big") & 0x7FFF_FFFF_FFFF_FFFF


class SchemaError(Exception):
    """The database is at a revision this central does not have (made by a newer version of it)."""


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built here (no alembic.ini): the scripts are this package's folder."""
    from alembic.config import Config  # Alembic logs as it is imported: only inside _quiet_alembic

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


_REVISION_LINE = re.compile(r"""^(revision|down_revision)\s*(?::[^=\n]*)?=\s*["']([^"']+)["']""", re.MULTILINE)


@cache
def revisions() -> tuple[str, frozenset[str]]:
    """The newest revision and all of them (versions/ is read once per process). Read from the files'
    `revision = ...` and `down_revision = ...` lines: importing Alembic costs a process ~0.2 s, and a
    database at the newest revision needs nothing else of it. A history that is not one line (a merge)
    is left to Alembic's own reading."""
    revisions, parents = set(), set()
    for path in (HERE / "versions").glob("*.py"):
        found = dict(_REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        revisions.add(found.get("revision"))
        parents.add(found.get("down_revision"))
    newest = revisions - parents
    if len(newest) == 1 and None not in revisions:
        return newest.pop(), frozenset(revisions)
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(config())
    return scripts.get_current_head(), frozenset(script.revision for script in scripts.walk_revisions())


def head() -> str:
    """The newest revision."""
    return revisions()[0]


def current(conn: Connection) -> str | None:
    """The database's revision; None when it has no version table (empty, or made before Alembic)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision (see the module's docstring); nothing if it is there."""
    with _quiet_alembic():
        with engine.connect() as conn:
            if current(conn) == head():
                return
        _upgrade(engine)


def _upgrade(engine: Engine) -> None:
    from alembic import command

    with _one_at_a_time(engine):
        with engine.connect() as probe:
            made_before_alembic = _made_before_alembic(probe)
        if made_before_alembic:
            from central.database import upgrade_event_keys  # central.database imports this module

            upgrade_event_keys(engine)  # in its own transaction: on SQLite it cannot run inside another
        with transaction(engine) as conn:
            before = current(conn)  # read again inside: another instance may have upgraded meanwhile
            if before == head():
                return
            if before is not None and before not in revisions()[1]:
                raise SchemaError(f"its schema is at revision {before}, which this version of central does not "
                                  f"know (it knows up to {head()}): made by a newer version?")
            cfg = config(conn)
            if before is None and _made_before_alembic(conn):
                from central.migrations import legacy

                legacy.metadata.create_all(conn, checkfirst=True)
                command.stamp(cfg, BASELINE)
                before = f"{BASELINE} (made before migrations)"
            command.upgrade(cfg, "head")
    log.info("database schema upgraded from %s to %s", before or "nothing", head())


def _made_before_alembic(conn: Connection) -> bool:
    """Central's tables without Alembic's version table: made by central 0.1 or older."""
    names = set(inspect(conn).get_table_names())
    return VERSION_TABLE not in names and "devices" in names


@contextmanager
def _one_at_a_time(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, a session advisory lock held for the whole upgrade (on a connection of its own that
    holds no transaction open); SQLite serialises writers by itself (see _transaction)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
        lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
        try:
            yield
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction, DDL included. Python's sqlite3 would commit before DDL by itself: there the
    connection is put in autocommit and the transaction begun explicitly, taking the write lock at once so
    a second instance waits here (its busy timeout) rather than reading a revision that is changing."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, conn.begin():
        # Alembic finds a transaction it does not own and leaves it alone; its end (the DBAPI's commit or
        # rollback) ends the one BEGIN IMMEDIATE opens
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


_quieting = threading.Lock()
_quiet_upgrades = 0  # upgrades running in this process (threads) with the alembic logger set to WARNING


@contextmanager
def _quiet_alembic() -> Iterator[None]:
    """Alembic's INFO lines held back, unless someone set the level of its logger on purpose; put back when
    the last upgrade running in this process ends."""
    global _quiet_upgrades
    alembic_log = logging.getLogger("alembic")
    with _quieting:
        ours = _quiet_upgrades > 0 or alembic_log.level == logging.NOTSET
        if ours:
            _quiet_upgrades += 1
            alembic_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        if ours:
            with _quieting:
                _quiet_upgrades -= 1
                if _quiet_upgrades == 0:
                    alembic_log.setLevel(logging.NOTSET)
