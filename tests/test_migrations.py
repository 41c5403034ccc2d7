"""Central's schema by Alembic migrations (central.migrations): a database central 0.1 made, one older
still (events keyed by id alone) and an empty one all reach the newest revision, keep every row, and
end with the schema central.tables describes; on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    Engine,
    MetaData,
    create_engine,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError

from central import audit, migrations
from central.accounts import add_user, current
from central.database import Database, DatabaseError
from central.migrations import legacy as v0_1  # the schema central 0.1 made, frozen
from central.tables import audit_log, cases, central_secrets, follow_ups, metadata, users, web_sessions
from central.workdays import add_working_days
from tests.central_schemas import pre_key_schema
from tests.support import new_postgres_database

# A Friday afternoon: five working days later is the end of the next Friday (local midnight after it).
OPENED = datetime(2026, 11, 27, 15, 30).timestamp()
DUE = datetime(2026, 12, 5).timestamp()
HEAD = migrations.head()  # the newest revision


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path) -> str:
    """An empty database of its own for each test: a file, or a new database on the module's cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.sqlite3'}"
    return beside(request.getfixturevalue("postgres").url)


def beside(url: str) -> str:
    """Another empty database where `url`'s is: a file in its folder, or a database on its server."""
    if url.startswith("sqlite"):
        return f"{url.rsplit('/', 1)[0]}/{uuid.uuid4().hex[:12]}.sqlite3"
    return new_postgres_database(url)


# -- what a database holds -----------------------------------------------------------------------------
def schema(engine: Engine) -> dict[str, Any]:
    """Everything about the schema a test compares: tables, columns, keys, constraints, indexes, triggers
    and the revision."""
    with engine.connect() as conn:
        found = inspect(conn)
        tables = {}
        for name in sorted(set(found.get_table_names()) - {migrations.VERSION_TABLE}):
            tables[name] = {
                "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(name)],
                "pk": found.get_pk_constraint(name)["constrained_columns"],
                "fks": sorted((fk["name"] or "", tuple(fk["constrained_columns"]), fk["referred_table"],
                               tuple(fk["referred_columns"])) for fk in found.get_foreign_keys(name)),
                "unique": sorted((u["name"] or "", tuple(u["column_names"]))
                                 for u in found.get_unique_constraints(name)),
                "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                  for i in found.get_indexes(name)),
            }
        if engine.dialect.name == "sqlite":
            triggers = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars()
        else:
            triggers = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
        return {"tables": tables, "triggers": sorted(triggers), "revision": migrations.current(conn)}


def rows(engine: Engine, tables: MetaData) -> dict[str, list[dict[str, Any]]]:
    """Every row of `tables`' tables, by the columns those tables have (their key's order)."""
    with engine.connect() as conn:
        return {name: [dict(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns)).mappings()]
                for name, t in tables.tables.items()}


def differences(engine: Engine, tables: MetaData) -> list:
    """What Alembic's autogenerate finds between the database and `tables` (its version table aside)."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), tables)


# -- a database as central 0.1 made it, full of what it records ------------------------------------------
def make_v0_1(url: str) -> dict[str, Any]:
    """Create the 0.1 tables exactly as 0.1 did (create_all of its metadata) and fill each; returns what
    the test needs to find again."""
    engine = create_engine(url)
    v0_1.metadata.create_all(engine)
    submitted, closed, low, fine = (f"01JD{n:022d}" for n in range(4))
    with engine.begin() as conn:
        conn.execute(insert(v0_1.devices).values(
            id="kiosk-a", site="市民中心 A 区", region="330102", software="0.1.0", status="online",
            status_since=OPENED - 3600, boot=3, first_seen=OPENED - 86400, last_heartbeat_at=OPENED,
            heartbeat={"boot": 3, "outbox": {"depth": 0}}))
        conn.execute(insert(v0_1.status_history).values(device="kiosk-a", status="online", boot=3, reason="boot",
                                                        received_at=OPENED - 3600, stale=False))
        conn.execute(insert(v0_1.heartbeats).values(device="kiosk-a", received_at=OPENED, boot=3, outbox_depth=0,
                                                    outbox_oldest_s=0, cpu_temp_c=51.5, disk_free_mb=9000))
        conn.execute(insert(v0_1.events), [
            {"device": "kiosk-a", "id": submitted, "seq": 1, "kind": "submission", "created": "2026-11-27T15:00:00",
             "received_at": OPENED - 1800, "payload": {"item": "RS-002", "form": {"name": "x"}}},
            {"device": "kiosk-a", "id": closed, "seq": 2, "kind": "submission", "created": "2026-11-27T15:01:00",
             "received_at": OPENED - 1700, "payload": {"item": "RS-003"}},
            {"device": "kiosk-a", "id": low, "seq": 3, "kind": "rating", "created": "2026-11-27T15:30:00",
             "received_at": OPENED, "payload": {"item": "RS-002", "level": 1}},
            {"device": "kiosk-a", "id": fine, "seq": 4, "kind": "rating", "created": "2026-11-27T15:31:00",
             "received_at": OPENED, "payload": {"item": "RS-002", "level": 2}}])
        conn.execute(insert(v0_1.cases), [
            {"receipt": submitted, "case_no": "202600000001", "device": "kiosk-a", "item": "RS-002",
             "status": "已受理", "note": "", "updated_at": OPENED - 1800},
            {"receipt": closed, "case_no": "202600000002", "device": "kiosk-a", "item": "RS-003",
             "status": "已办结", "note": "done", "updated_at": OPENED - 600}])  # closed with `kiosk central case`
        conn.execute(insert(v0_1.ratings), [
            {"device": "kiosk-a", "event": low, "item": "RS-002", "channel": "kiosk", "level": 1,
             "case_ref": submitted, "received_at": OPENED},
            {"device": "kiosk-a", "event": fine, "item": "RS-002", "channel": "kiosk", "level": 2,
             "case_ref": None, "received_at": OPENED}])
        conn.execute(insert(v0_1.follow_ups), [
            {"device": "kiosk-a", "rating": low, "opened_at": OPENED, "closed_at": None, "closed_by": None,
             "note": None},  # still open
            {"device": "kiosk-a", "rating": fine, "opened_at": OPENED, "closed_at": OPENED + 60,
             "closed_by": "clerk", "note": "called back"}])
        conn.execute(insert(v0_1.alerts).values(device="kiosk-a", code="printer_paper_low", source="heartbeat",
                                                severity="warning", message="paper low", opened_at=OPENED))
        conn.execute(insert(v0_1.commands).values(id="req-1", batch="b-1", device="kiosk-a", name="ping", args={},
                                                  sent_at=OPENED, expires_at=OPENED + 60, answered_at=OPENED + 1,
                                                  ok=True, result={"pong": True}))
        conn.execute(insert(v0_1.dead_letters).values(device="kiosk-a", topic="kiosk/v1/kiosk-a/event", event=None,
                                                      seq=None, reason="not JSON", size=4, payload=b"\x00\xff{x",
                                                      received_at=OPENED))
    engine.dispose()
    return {"low": low, "fine": fine, "submitted": submitted, "closed": closed}


# -- the tests ---------------------------------------------------------------------------------------------
def test_a_database_made_by_0_1_is_upgraded_keeping_every_row(url: str) -> None:
    made = make_v0_1(url)
    engine = create_engine(url)
    before = rows(engine, v0_1.metadata)
    assert all(before.values())  # a row in every table of 0.1

    db = Database(url)
    assert rows(engine, v0_1.metadata) == before  # by 0.1's columns, every row as it was
    assert differences(engine, metadata) == []  # and the schema is today's
    with db.read() as conn:
        assert migrations.current(conn) == HEAD
        due = {r.rating: r.due_at for r in conn.execute(select(follow_ups.c.rating, follow_ups.c.due_at))}
        assert due == {made["low"]: DUE, made["fine"]: None}  # open: backfilled; closed: no deadline
        # the migration's frozen rule: the midnight after the last working day; central.workdays now says
        # its last second (23:59:59), so the due date shows as the working day itself
        assert add_working_days(OPENED, 5) == DUE - 1
        closing = {r.receipt: (r.closed_at, r.updated_by, r.personal_erased_at)
                   for r in conn.execute(select(cases.c.receipt, cases.c.closed_at, cases.c.updated_by,
                                                cases.c.personal_erased_at))}
        assert closing == {made["submitted"]: (None, None, None), made["closed"]: (OPENED - 600, None, None)}

    with db.transaction() as conn:  # the new tables work
        add_user(conn, "clerk", "operator", ["3301"], "a long enough password")
        audit.record(conn, "admin", "user_added", "clerk", address="10.0.0.5", details={"role": "operator"})
        conn.execute(insert(web_sessions).values(key="k" * 64, data=b"{}", expires_at=OPENED))
        conn.execute(insert(central_secrets).values(name="csrf", value="s3cret"))
    with db.read() as conn:
        assert current(conn, "clerk").regions == ("3301",)
        assert [line["target"] for line in audit.lines(conn)] == ["clerk"]
        assert conn.execute(select(func.count()).select_from(web_sessions)).scalar_one() == 1
    # and central goes on recording into the old tables: the keys continue after the old rows
    with db.transaction() as conn:
        new = {"id": "01JD" + "9" * 22, "seq": 5, "kind": "submission", "created": "x", "payload": {"item": "RS-002"}}
        assert len(db.record_events(conn, [("kiosk-a", new, OPENED + 5)])) == 1
    with db.read() as conn:
        assert sorted(conn.execute(select(cases.c.id)).scalars()) == [1, 2, 3]
    assert_append_only(db)

    after = schema(engine), rows(engine, metadata)
    db.engine.dispose()
    again = Database(url)  # a second start changes nothing
    assert (schema(engine), rows(engine, metadata)) == after
    again.engine.dispose()
    engine.dispose()


def assert_append_only(db: Database) -> None:
    """UPDATE and DELETE of audit lines are refused by the database itself; INSERT still works."""
    with db.transaction() as conn:
        audit.record(conn, "central", "export", "ledger")
    with db.read() as conn:
        lines = [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]
    for refused in (update(audit_log).values(actor="someone else"), delete(audit_log),
                    delete(audit_log).where(audit_log.c.id == lines[-1]["id"])):
        with pytest.raises(DBAPIError, match="append-only"), db.transaction() as conn:
            conn.execute(refused)
    with db.transaction() as conn:  # beside the refusals, an insert passes
        audit.record(conn, "central", "export", "ledger again")
    with db.read() as conn:
        now = [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]
    assert now[:-1] == lines and now[-1]["target"] == "ledger again"
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), db.transaction() as conn:
            conn.execute(text("TRUNCATE audit_log"))


def test_an_empty_database_reaches_the_same_head(url: str) -> None:
    fresh = Database(url)
    assert differences(fresh.engine, metadata) == []
    assert_append_only(fresh)
    fresh_schema = schema(fresh.engine)
    assert fresh_schema["revision"] == HEAD
    fresh.engine.dispose()

    other = beside(url)  # the same schema, to the constraint names, as a database upgraded from 0.1
    make_v0_1(other)
    upgraded = Database(other)
    assert schema(upgraded.engine) == fresh_schema
    upgraded.engine.dispose()


def test_the_baseline_is_0_1_and_the_frozen_copies_agree(url: str) -> None:
    """Revision 0001 alone makes 0.1's schema: the same as 0.1's create_all (central.migrations.legacy, the
    frozen copy the way in from before Alembic uses)."""
    engine = create_engine(url)
    with migrations.transaction(engine) as conn:
        command.upgrade(migrations.config(conn), "0001")
    assert differences(engine, v0_1.metadata) == []
    other = create_engine(beside(url))  # to the constraint names, as 0.1's create_all made it
    v0_1.metadata.create_all(other)
    assert {**schema(other), "revision": "0001"} == schema(engine)
    other.dispose()
    engine.dispose()


def test_a_downgrade_returns_to_0_1_and_the_upgrade_comes_back(url: str) -> None:
    make_v0_1(url)
    db = Database(url)
    upgraded = schema(db.engine)
    with migrations.transaction(db.engine) as conn:
        command.downgrade(migrations.config(conn), "0001")
    assert differences(db.engine, v0_1.metadata) == []
    assert schema(db.engine)["triggers"] == []
    db.engine.dispose()
    again = Database(url)
    assert schema(again.engine) == upgraded
    again.engine.dispose()


def test_a_database_from_before_the_event_key_upgrades_all_the_way(url: str) -> None:
    """Re-keyed (central.database.upgrade_event_keys), given the tables it never had, stamped 0001 and
    upgraded to the newest: today's schema, every row, the open follow-up's deadline."""
    old = pre_key_schema()
    engine = create_engine(url)
    old.create_all(engine)
    rated, submitted = "01JC" + "1" * 22, "01JC" + "2" * 22
    with engine.begin() as conn:
        conn.execute(insert(old.tables["devices"]).values(id="kiosk-a", site="", region="", software="0.0.9",
                                                          status="online", boot=1, first_seen=OPENED))
        conn.execute(insert(old.tables["events"]), [
            {"id": submitted, "device": "kiosk-a", "seq": 1, "kind": "submission", "created": "x",
             "received_at": OPENED, "payload": {"item": "RS-002"}},
            {"id": rated, "device": "kiosk-a", "seq": 2, "kind": "rating", "created": "x", "received_at": OPENED,
             "payload": {"item": "RS-002", "level": 1}}])
        conn.execute(insert(old.tables["cases"]).values(receipt=submitted, case_no="202500000001", device="kiosk-a",
                                                        item="RS-002", status="不予受理", note="",
                                                        updated_at=OPENED + 7))
        conn.execute(insert(old.tables["ratings"]).values(event=rated, device="kiosk-a", item="RS-002",
                                                          channel="kiosk", level=1, received_at=OPENED))
        conn.execute(insert(old.tables["follow_ups"]).values(rating=rated, opened_at=OPENED))

    db = Database(url)
    assert differences(engine, metadata) == []
    with db.read() as conn:
        assert migrations.current(conn) == HEAD
        assert conn.execute(select(follow_ups.c.device, follow_ups.c.rating, follow_ups.c.due_at)).all() == [
            ("kiosk-a", rated, DUE)]
        assert conn.execute(select(cases.c.device, cases.c.case_no, cases.c.closed_at)).all() == [
            ("kiosk-a", "202500000001", OPENED + 7)]
        assert conn.execute(select(func.count()).select_from(users)).scalar_one() == 0
    assert_append_only(db)
    db.engine.dispose()
    engine.dispose()


def test_instances_starting_at_once_upgrade_once(url: str) -> None:
    """Four instances open one new database at the same moment: all open it, one of them migrates."""
    start, opened, failed = threading.Barrier(4), [], []

    def instance() -> None:
        start.wait()
        try:
            opened.append(Database(url))
        except Exception as exc:  # reported below
            failed.append(exc)

    threads = [threading.Thread(target=instance) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failed and len(opened) == 4
    assert differences(opened[0].engine, metadata) == []
    with opened[0].read() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [HEAD]
    for db in opened:
        db.engine.dispose()


def test_a_failed_upgrade_leaves_the_database_as_it_was(url: str) -> None:
    """One transaction, DDL included (SQLite too): an upgrade that fails halfway changes nothing."""
    make_v0_1(url)
    engine = create_engine(url)
    with engine.begin() as conn:  # a table of the office's own in the way of revision 0002
        conn.execute(text("CREATE TABLE web_sessions (key TEXT)"))
    before = schema(engine), rows(engine, v0_1.metadata)
    with pytest.raises(DatabaseError, match="web_sessions"):
        Database(url)
    assert (schema(engine), rows(engine, v0_1.metadata)) == before  # not even stamped
    engine.dispose()


def test_a_database_of_a_newer_central_is_refused(url: str) -> None:
    Database(url).engine.dispose()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(DatabaseError, match=r"revision 0099.*newer"):
        Database(url)
    engine.dispose()


def test_the_quick_reading_of_the_revisions_is_alembics() -> None:
    """A database at the head is recognised without importing Alembic: by the revision files' lines, which
    must say what Alembic reads in them."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(migrations.config())
    assert migrations.revisions() == (scripts.get_current_head(), {s.revision for s in scripts.walk_revisions()})


def test_migrations_log_one_line_and_alembic_nothing(url: str) -> None:
    """Opened by a process that logs at INFO (as `kiosk central ...` does): Alembic, imported and run on
    the way, says nothing; one line says the schema was upgraded; the second time, not a word."""
    script = ("import logging, sys; logging.basicConfig(level=logging.INFO, format='%(name)s %(levelname)s "
              "%(message)s'); from central.database import Database; Database(sys.argv[1]); "
              "assert logging.getLogger('alembic').level == logging.NOTSET")
    first = subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True, timeout=60,
                           cwd=Path(__file__).parent.parent)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == [f"central.migrations INFO database schema upgraded from nothing to {HEAD}"]
    again = subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True, timeout=60,
                           cwd=Path(__file__).parent.parent)
    assert (again.returncode, again.stderr) == (0, "")
