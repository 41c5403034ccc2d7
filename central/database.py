"""Central's records: what each booth said, kept once, and what operators asked of it.

Every write takes the connection of the caller's transaction, so the intake can record a whole batch of
messages in one commit and acknowledge them to the broker only after it (at-least-once end to end).
"""

from __future__ import annotations

import contextlib
import os
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    column,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    table,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from central import migrations, usage_totals
from central.alerts import Condition
from central.heartbeats import complete_heartbeat, fold_facts
from central.tables import (
    alerts,
    cases,
    commands,
    dead_letters,
    devices,
    events,
    follow_ups,
    heartbeats,
    ratings,
    status_history,
)
from central.workdays import add_working_days

FIRST_CASE_STATUS = "已受理"  # a submission central has received: accepted for handling
FOLLOW_UP_DAYS = 5


class DatabaseError(Exception):
    """The database cannot be opened or created; the message names it (without its password)."""


class Database:
    # A 差评 follow-up's deadline from when it opened: FOLLOW_UP_DAYS working days by default; `serve`
    # sets the office's (settings.follow_up_days and holidays).
    follow_up_due: Callable[[float], float] = staticmethod(lambda opened: add_working_days(opened, FOLLOW_UP_DAYS))

    def __init__(self, url: str, busy_timeout_s: float = 5.0) -> None:
        """`busy_timeout_s`: how long SQLite waits for a lock before a statement fails (the intake then
        holds its batch and retries; a shorter wait lets its health say so sooner)."""
        try:
            # hide_parameters: an error's text (and so a log line) never carries the values of a
            # statement, which can be a citizen's ID number. pool_pre_ping: a connection the server
            # dropped (PostgreSQL restarted) is replaced before use instead of failing a batch.
            self.engine = create_engine(url, future=True, hide_parameters=True, pool_pre_ping=True)
            if self.engine.dialect.name == "sqlite":
                _private_file(self.engine.url.database)
                event.listen(self.engine, "connect", _sqlite_pragmas(int(busy_timeout_s * 1000)))
            migrations.upgrade(self.engine)
        except (SQLAlchemyError, ImportError, migrations.SchemaError) as exc:
            where = make_url(url).render_as_string(hide_password=True) if "://" in url else url
            raise DatabaseError(f"cannot open the database {where}: {getattr(exc, 'orig', None) or exc}") from None
        self._known: set[str] = set()  # devices this process has seen in the table (never deleted)
        # The statements on the intake's hot path, built once: building one costs more than running it.
        self._add_device = self.insert_ignore(devices)
        self._add_heartbeat = insert(heartbeats)
        self._note_heartbeat = update(devices).where(devices.c.id == bindparam("device_id")).values(
            last_heartbeat_at=bindparam("at"), heartbeat=bindparam("beat"), facts=bindparam("known"))
        self._add_event = self.insert_ignore(events)  # redeliveries race between instances: skip, not fail
        self._add_dead_letter = self.insert_ignore(dead_letters)
        self._device_row = select(devices).where(devices.c.id == bindparam("device_id"))
        self._open_alerts_of = select(alerts).where(alerts.c.device == bindparam("device_id"),
                                                    alerts.c.closed_at.is_(None)).order_by(alerts.c.opened_at)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction. Devices it adds count as known (not inserted again) only once it commits: a
        batch that failed and is retried must add them again. On SQLite it takes the write lock at its
        start, so two writers wait for each other (busy timeout) instead of one failing when both read
        first and then write (two operators taking one assist request at the same moment)."""
        with _write_transaction(self.engine) as conn:
            conn.info["new_devices"] = set()
            try:
                yield conn
                added = conn.info["new_devices"]
            finally:
                conn.info.pop("new_devices", None)
        self._known |= added

    def read(self) -> Connection:
        return self.engine.connect()

    def insert_ignore(self, table):
        """INSERT that skips a row whose key exists (a redelivered event) on either database."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table).on_conflict_do_nothing()

    # -- devices and their status ----------------------------------------------------------------
    def ensure_device(self, conn: Connection, device: str, now: float) -> None:
        added = conn.info.get("new_devices")
        if device in self._known or (added is not None and device in added):
            return
        conn.execute(self._add_device, {"id": device, "first_seen": now, "status": "unknown"})
        if added is not None:
            added.add(device)

    def device(self, conn: Connection, device: str) -> dict[str, Any]:
        return dict(conn.execute(self._device_row, {"device_id": device}).mappings().one())

    def devices_and_open_alerts(self, conn: Connection, ids: list[str]) -> dict[str, tuple[dict, list[dict]]]:
        """Each device's row and its open alerts, for a whole batch in two queries."""
        rows = {r["id"]: dict(r) for r in conn.execute(select(devices).where(devices.c.id.in_(ids))).mappings()}
        open_now: dict[str, list[dict[str, Any]]] = {device: [] for device in ids}
        for alert in conn.execute(select(alerts).where(alerts.c.device.in_(ids), alerts.c.closed_at.is_(None))
                                  .order_by(alerts.c.opened_at)).mappings():
            open_now[alert["device"]].append(dict(alert))
        return {device: (rows[device], open_now[device]) for device in ids}

    def record_status(self, conn: Connection, device: str, status: dict[str, Any], now: float) -> bool:
        """A birth or a will; False when it is a stale will (its boot is older than the latest birth)."""
        self.ensure_device(conn, device, now)
        current, known = conn.execute(select(devices.c.boot, devices.c.facts).where(devices.c.id == device)).one()
        boot = int(status["boot"])
        stale = boot < current
        conn.execute(insert(status_history).values(device=device, status=status["status"], boot=boot,
                                                   reason=status.get("reason"), received_at=now, stale=stale))
        if stale:
            return False
        changes: dict[str, Any] = {"status": status["status"], "status_since": now, "boot": boot,
                                   "software": status.get("software", "")}
        for key in ("site", "region"):
            if status.get(key):
                changes[key] = status[key]
        if status["status"] != "offline":  # a birth: every fact of the booth (central.heartbeats)
            changes["facts"] = fold_facts(known, status)
        conn.execute(update(devices).where(devices.c.id == device).values(**changes))
        return True

    def record_heartbeats(self, conn: Connection, beats: list[tuple[str, dict[str, Any], float]]
                          ) -> list[tuple[str, dict[str, Any], float]]:
        """A batch's heartbeats (device, heartbeat, received): the history rows, and each device's latest
        heartbeat and facts. Returns each heartbeat made whole from the booth's facts (central.heartbeats),
        in order: what the alerts and the update reports judge."""
        for device, _beat, now in beats:
            self.ensure_device(conn, device, now)
        held = {row.id: row for row in conn.execute(
            select(devices.c.id, devices.c.boot, devices.c.software, devices.c.site, devices.c.region,
                   devices.c.facts).where(devices.c.id.in_({device for device, _, _ in beats})))}
        facts = {device: row.facts for device, row in held.items()}
        rows, latest, whole = [], {}, []
        for device, beat, now in beats:
            facts[device] = fold_facts(facts[device], beat)
            beat = complete_heartbeat(beat, facts[device], held[device].software)
            whole.append((device, beat, now))
            outbox, system = beat.get("outbox") or {}, beat.get("system") or {}
            rows.append({"device": device, "received_at": now, "boot": beat["boot"],
                         "outbox_depth": outbox.get("depth"), "outbox_oldest_s": outbox.get("oldest_age_s"),
                         "cpu_temp_c": system.get("cpu_temp_c"), "disk_free_mb": system.get("disk_free_mb")})
            latest[device] = {"device_id": device, "at": now, "beat": beat, "known": facts[device]}
        conn.execute(self._add_heartbeat, rows)
        conn.execute(self._note_heartbeat, list(latest.values()))
        for device in latest:
            self._adopt_fixed_facts(conn, held[device], facts[device])
        return whole

    @staticmethod
    def _adopt_fixed_facts(conn: Connection, row: Any, known: dict[str, Any]) -> None:
        """Software, site and region from a heartbeat that carried every fact, when it is of the boot of the
        latest birth or later: a central that never got the birth (away longer than its session, on a broker
        that gives shared subscriptions no retained messages) learns them."""
        fixed = known.get("fixed") or {}
        if not fixed or fixed["boot"] < row.boot:
            return
        said = fixed["said"]
        changes = {key: said[key] for key in ("software", "site", "region")
                   if isinstance(said.get(key), str) and said[key] and said[key] != getattr(row, key)}
        if changes:
            conn.execute(update(devices).where(devices.c.id == row.id).values(**changes))

    def prune_heartbeats(self, conn: Connection, older_than: float) -> int:
        return conn.execute(heartbeats.delete().where(heartbeats.c.received_at < older_than)).rowcount

    # -- events ------------------------------------------------------------------------------------
    def record_events(self, conn: Connection, batch: list[tuple[str, dict[str, Any], float]]
                      ) -> list[tuple[str, dict[str, Any], float]]:
        """Keep a batch's events (device, envelope, received) once each; returns the new ones. A
        submission opens a case, a rating is counted and the two lowest levels open a follow-up."""
        ids = [envelope["id"] for _, envelope, _ in batch]
        seen = {(d, i) for d, i in conn.execute(select(events.c.device, events.c.id).where(events.c.id.in_(ids)))}
        new = []
        for device, envelope, now in batch:
            if (device, envelope["id"]) not in seen:
                seen.add((device, envelope["id"]))
                self.ensure_device(conn, device, now)
                new.append((device, envelope, now))
        if not new:
            return []
        conn.execute(self._add_event, [
            {"id": e["id"], "device": device, "seq": e["seq"], "kind": e["kind"], "created": e["created"],
             "received_at": now, "payload": e["payload"]} for device, e, now in new])
        rated = [(device, e, now, citizen_time(e, now)) for device, e, now in new if e["kind"] == "rating"]
        if rated:
            conn.execute(insert(ratings), [
                {"event": e["id"], "device": device, "item": str(e["payload"].get("item", "")),
                 "channel": str(e["payload"].get("channel", "kiosk")), "level": e["payload"]["level"],
                 "case_ref": e["payload"].get("case"), "received_at": now, "rated_at": at}
                for device, e, now, at in rated])
            low = [{"device": device, "rating": e["id"], "opened_at": at, "due_at": self.follow_up_due(at)}
                   for device, e, _now, at in rated if e["payload"]["level"] <= 2]
            if low:
                conn.execute(insert(follow_ups), low)
        for device, e, now in new:
            if e["kind"] == "submission":
                self._open_case(conn, device, e, now)
        used = [(device, e["payload"]) for device, e, _ in new if e["kind"] == "usage"]
        if used:
            regions = dict(conn.execute(select(devices.c.id, devices.c.region).where(
                devices.c.id.in_({device for device, _ in used}))).all())
            usage_totals.add_reports(conn, [(device, regions.get(device, ""), payload) for device, payload in used])
        return new

    def _open_case(self, conn: Connection, device: str, envelope: dict[str, Any], now: float) -> None:
        case_id = conn.execute(insert(cases).values(
            receipt=envelope["id"], device=device, item=str(envelope["payload"].get("item", "")),
            status=FIRST_CASE_STATUS, updated_at=now)).inserted_primary_key[0]
        year = time.strftime("%Y", time.localtime(now))
        conn.execute(update(cases).where(cases.c.id == case_id).values(case_no=f"{year}{case_id:08d}"))

    def seq_gaps(self, conn: Connection, device: str) -> list[tuple[int, int]]:
        """Ranges of `seq` this device used that never arrived (its events start at seq 1)."""
        seqs = [row[0] for row in conn.execute(
            select(events.c.seq).where(events.c.device == device).order_by(events.c.seq))]
        gaps, expected = [], 1
        for seq in seqs:
            if seq > expected:
                gaps.append((expected, seq - 1))
            expected = max(expected, seq + 1)
        return gaps

    # -- what could never be recorded ----------------------------------------------------------------
    def add_dead_letter(self, conn: Connection, topic: str, device: str | None, event: tuple[int, str] | None,
                        reason: str, payload: bytes, now: float) -> None:
        """Keep a message central will never record, with why (a resend of the same event is kept once)."""
        seq, event_id = event if event is not None else (None, None)
        conn.execute(self._add_dead_letter, {
            "device": device, "topic": topic[:256], "event": event_id, "seq": seq, "reason": reason[:1000],
            "size": len(payload), "payload": payload, "received_at": now})

    def dead_letters(self, conn: Connection, limit: int = 100, device: str | None = None) -> list[dict[str, Any]]:
        """The newest dead letters, without their payload (which may hold personal data)."""
        shown = [c for c in dead_letters.columns if c.name != "payload"]
        query = select(*shown).order_by(dead_letters.c.received_at.desc(), dead_letters.c.id.desc()).limit(limit)
        if device is not None:
            query = query.where(dead_letters.c.device == device)
        return [dict(row) for row in conn.execute(query).mappings()]

    # -- cases and progress -------------------------------------------------------------------------
    def progress(self, conn: Connection, receipt: str, device: str | None = None) -> dict[str, Any] | None:
        """The case of a receipt number; asked at `device`, that booth's own case first (a citizen may ask
        at any booth; a receipt id reused by another booth never hides the one it printed)."""
        query = select(cases).where(cases.c.receipt == receipt)
        if device is not None:
            query = query.order_by((cases.c.device != device), cases.c.id)
        else:
            query = query.order_by(cases.c.id)
        row = conn.execute(query).mappings().first()
        if row is None:
            return None
        return {"case_no": row["case_no"], "status": row["status"], "updated_at": row["updated_at"],
                "note": row["note"], "item": row["item"]}

    def set_case_status(self, conn: Connection, case_no: str, status: str, note: str, now: float) -> bool:
        return bool(conn.execute(update(cases).where(cases.c.case_no == case_no).values(
            status=status, note=note, updated_at=now)).rowcount)

    def close_follow_up(self, conn: Connection, follow_up: int, by: str, note: str, now: float) -> bool:
        return bool(conn.execute(update(follow_ups).where(
            and_(follow_ups.c.id == follow_up, follow_ups.c.closed_at.is_(None))).values(
            closed_at=now, closed_by=by, note=note)).rowcount)

    # -- alerts -------------------------------------------------------------------------------------
    def open_alerts(self, conn: Connection, device: str | None = None) -> list[dict[str, Any]]:
        if device is not None:
            return [dict(row) for row in conn.execute(self._open_alerts_of, {"device_id": device}).mappings()]
        query = select(alerts).where(alerts.c.closed_at.is_(None)).order_by(alerts.c.opened_at)
        return [dict(row) for row in conn.execute(query).mappings()]

    def sync_alerts(self, conn: Connection, device: str, source: str, active: dict[str, Condition],
                    now: float, open_now: list[dict[str, Any]] | None = None) -> None:
        """Make the open alerts from `source` exactly `active`: new conditions open, cleared ones close,
        ongoing ones stay open as they are. `open_now`: the device's open alerts, if already read."""
        if open_now is None:
            open_now = self.open_alerts(conn, device)
        opened = {row["code"]: row["id"] for row in open_now if row["source"] == source}
        for code, condition in active.items():
            if code not in opened:
                self._add_alert(conn, device, source, code, condition, now)
        cleared = [alert_id for code, alert_id in opened.items() if code not in active]
        if cleared:
            conn.execute(update(alerts).where(alerts.c.id.in_(cleared)).values(closed_at=now))

    def open_alert(self, conn: Connection, device: str, source: str, code: str, condition: Condition,
                   now: float) -> None:
        """Open one alert that ends by itself (`condition.until`), unless it is open already."""
        if not any(a["code"] == code and a["source"] == source for a in self.open_alerts(conn, device)):
            self._add_alert(conn, device, source, code, condition, now)

    def close_ended_alerts(self, conn: Connection, now: float) -> int:
        """Close the alerts whose known end (`until`) has come."""
        return conn.execute(update(alerts).where(alerts.c.closed_at.is_(None), alerts.c.until < now)
                            .values(closed_at=now)).rowcount

    @staticmethod
    def _add_alert(conn: Connection, device: str, source: str, code: str, condition: Condition, now: float) -> None:
        conn.execute(insert(alerts).values(device=device, code=code, source=source, opened_at=now,
                                           severity=condition.severity, message=condition.message,
                                           until=condition.until))

    # -- commands -----------------------------------------------------------------------------------
    def add_command(self, conn: Connection, request_id: str, batch: str, device: str, name: str,
                    args: dict[str, Any], now: float, expires_at: float, sent_by: str | None = None) -> None:
        conn.execute(insert(commands).values(id=request_id, batch=batch, device=device, name=name, args=args,
                                             sent_at=now, expires_at=expires_at, sent_by=sent_by))

    def record_command_result(self, conn: Connection, device: str, result: dict[str, Any], now: float) -> bool:
        outcome = result.get("result") if result.get("ok") else result.get("error")
        return bool(conn.execute(update(commands).where(
            and_(commands.c.id == result.get("id"), commands.c.device == device)).values(
            answered_at=now, ok=bool(result.get("ok")), result=outcome)).rowcount)

    def command(self, conn: Connection, request_id: str) -> dict[str, Any] | None:
        row = conn.execute(select(commands).where(commands.c.id == request_id)).mappings().first()
        return dict(row) if row else None

    # -- the fleet ----------------------------------------------------------------------------------
    def fleet(self, conn: Connection, device: str | None = None) -> list[dict[str, Any]]:
        """Every booth (or just `device`) with its count of open alerts."""
        counting = select(alerts.c.device, func.count()).where(alerts.c.closed_at.is_(None))
        booths = select(devices).order_by(devices.c.region, devices.c.id)
        if device is not None:
            counting, booths = counting.where(alerts.c.device == device), booths.where(devices.c.id == device)
        open_counts = dict(conn.execute(counting.group_by(alerts.c.device)).all())
        rows = []
        for row in conn.execute(booths).mappings():
            rows.append({**row, "open_alerts": open_counts.get(row["id"], 0)})
        return rows


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for PostgreSQL, or SQLite in memory)."""
    found = make_url(url)
    if found.get_backend_name() != "sqlite" or found.database in (None, "", ":memory:"):
        return None
    return Path(found.database)


def _private_file(database: str | None) -> None:
    """A new SQLite file is made readable by its owner only: it holds password hashes and, for the case
    pages, citizens' personal data (its -wal and -shm files take the same mode from it)."""
    if database in (None, "", ":memory:"):
        return
    # there already; or no such folder, which SQLite then says
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def citizen_time(envelope: dict[str, Any], received: float) -> float:
    """When the citizen did it (rated, asked for help): the booth's stamp if its clock was synchronised
    then (never later than central received it), else the receipt."""
    created = envelope.get("created")
    if envelope.get("created_clock_synced") is True and isinstance(created, str):
        try:
            return min(datetime.fromisoformat(created).timestamp(), received)
        except ValueError:
            pass
    return received


def _sqlite_pragmas(busy_timeout_ms: int):
    def on_connect(dbapi_connection, _record) -> None:
        """WAL lets the dashboard read while the intake writes; NORMAL sync is still crash-safe in WAL."""
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={busy_timeout_ms}",
                       "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
    return on_connect


# -- upgrading a database made before events were keyed by (device, id) ----------------------------------
_KEYED_BY_EVENT = ("follow_ups", "ratings", "cases", "events")  # children first


def upgrade_event_keys(engine: Engine) -> bool:
    """Re-key a database whose events were keyed by `id` alone to (device, id), with the tables that
    refer to events (cases, ratings, follow-ups), keeping every row; True if it did. One transaction:
    either the whole step is done or none of it. It brings such a database to central 0.1's schema, from
    which Alembic's revisions go on (central.migrations runs it first)."""
    # The tables as 0.1 had them, frozen, never today's central.tables (its columns move on).
    from central.migrations.legacy import cases, events, follow_ups, metadata, ratings

    with engine.connect() as probe:
        found = inspect(probe)
        if not found.has_table("events") or found.get_pk_constraint("events")["constrained_columns"] != ["id"]:
            return False
        columns = {name: [c["name"] for c in found.get_columns(name)] for name in _KEYED_BY_EVENT}
        indexes = {name: [i["name"] for i in found.get_indexes(name)] for name in _KEYED_BY_EVENT}
    sqlite_db = engine.dialect.name == "sqlite"
    with _write_transaction(engine) as conn:
        for name in _KEYED_BY_EVENT:
            if sqlite_db:  # RENAME keeps SQLite's declared types (CREATE TABLE AS would not); the
                for index in indexes[name]:  # indexes keep their names, so they go first
                    conn.execute(text(f'DROP INDEX "{index}"'))
                conn.execute(text(f'ALTER TABLE "{name}" RENAME TO "{name}_v1"'))
            else:  # PostgreSQL keeps constraint names global: copy aside, then drop
                conn.execute(text(f'CREATE TABLE "{name}_v1" AS SELECT * FROM "{name}"'))
                conn.execute(text(f'DROP TABLE "{name}"'))
        metadata.create_all(conn, tables=[events, cases, ratings, follow_ups])
        for name, new in (("events", events), ("cases", cases), ("ratings", ratings)):
            old = table(f"{name}_v1", *(column(c) for c in columns[name]))
            names = [c.name for c in new.columns]
            conn.execute(insert(new).from_select(names, select(*(old.c[c] for c in names))))
        old_f = table("follow_ups_v1", *(column(c) for c in columns["follow_ups"]))
        old_r = table("ratings_v1", column("event"), column("device"))
        conn.execute(insert(follow_ups).from_select(
            ["id", "device", "rating", "opened_at", "closed_at", "closed_by", "note"],
            select(old_f.c.id, old_r.c.device, old_f.c.rating, old_f.c.opened_at, old_f.c.closed_at,
                   old_f.c.closed_by, old_f.c.note).join(old_r, old_r.c.event == old_f.c.rating)))
        for name in _KEYED_BY_EVENT:
            conn.execute(text(f'DROP TABLE "{name}_v1"'))
        if not sqlite_db:  # the copied ids were explicit: the serial counters continue after them
            for serial in (cases, follow_ups):
                conn.execute(select(func.setval(func.pg_get_serial_sequence(serial.name, "id"),
                                                func.coalesce(select(func.max(serial.c.id)).scalar_subquery(), 0)
                                                + 1, False)))
    return True


@contextmanager
def _write_transaction(engine: Engine) -> Iterator[Connection]:
    """One writing transaction on either database. On SQLite it is begun explicitly with BEGIN IMMEDIATE:
    no other writer gets in between its reads and its writes, and Python's sqlite3 cannot commit DDL by
    itself half-way."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.exec_driver_sql("COMMIT")
        except BaseException:
            if conn.connection.driver_connection.in_transaction:  # SQLite may have rolled back itself (disk full)
                conn.exec_driver_sql("ROLLBACK")
            raise


# -- telling failures apart, and saying what they were without saying what was in them ----------------------
def is_transient(exc: BaseException) -> bool:
    """A failure of the database, not of the message: it passes (lock released, server back, disk freed),
    so the batch is held and retried rather than split or dead-lettered."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout)


def describe(exc: BaseException) -> str:
    """An error for a log line: its class and, for the database's own operational errors, the first line
    of the driver's message (\"database is locked\", \"connection refused\"). Never the statement's
    parameters, never a message that can quote a value (an integrity or data error can), and for a bug
    in central the place it happened instead of its text (a ValueError can quote a payload)."""
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        kind = f"{type(exc).__name__}/{type(orig).__name__}"
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        if code:
            kind += f" SQLSTATE {code}"
        if is_transient(exc):
            first = str(orig).strip().splitlines()[0][:200] if str(orig).strip() else ""
            return f"{kind}: {first}" if first else kind
        return kind
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f"{f.filename.rsplit('/', 2)[-2]}/{f.filename.rsplit('/', 1)[-1]}:{f.lineno}"
                  for f in reversed(frames) if "/central/" in f.filename), None)
    return type(exc).__name__ + (f" at {where}" if where else "")
