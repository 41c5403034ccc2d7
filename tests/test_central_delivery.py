"""Central's side of end-to-end delivery, against real parts: the production Mosquitto config with test
certificates, central's intake (in-process, or `kiosk central serve` where a process must die), and its
database on SQLite and PostgreSQL. What counts is what is in central's database and what central
confirmed to the booths, not what crossed the wire.

Booths here are plain MQTT clients holding a booth's certificate that publish envelopes as the contract
has them and listen for central's confirmations (the real booth's outbox is tested on its own side).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from appliance.contract import confirmation_topic, encode, event_topic, heartbeat_topic, stamped, status_topic
from appliance.state.ids import UlidGenerator
from central.catalogue_names import CatalogueNames
from central.database import Database
from central.fleet import FleetSnapshot
from central.intake import Intake
from central.messages import MAX_DRIVERS, MAX_USAGE_COUNTS
from central.metrics import render
from central.settings import build_settings
from central.tables import alerts, dead_letters, events
from central.web.app import Dashboard
from central.web.context import WebContext
from tests.central_schemas import pre_key_schema
from tests.central_web import add_user, logged_in
from tests.support import TEST_ID_NUMBER, TEST_NAME, Mosquitto, Postgres, make_test_ca, wait_until

new_ulid = UlidGenerator().new


# -- the rig ------------------------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path):
    """Central's database URL, and the PostgreSQL cluster behind it (None for SQLite) to stop and start."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.sqlite3'}", None
        return
    postgres = Postgres().start()
    yield postgres.url, postgres
    postgres.stop()


def pg_ctl(postgres: Postgres, action: str) -> None:
    """Stop or start the test cluster in place (its data stays), as an operator's restart does."""
    command = [*postgres._as, str(postgres.bin / "pg_ctl"), "-D", str(postgres.data), "-w"]
    if action == "start":
        command += ["-l", str(postgres.data / "server.log"), "-o",
                    f"-p {postgres.port} -c listen_addresses=127.0.0.1 -k {postgres.data} -c fsync=off"]
    else:
        command += ["-m", "fast"]
    subprocess.run([*command, action], check=True, capture_output=True, timeout=60)


class Booth:
    """A booth's certificate on a plain client: publishes envelopes, collects central's confirmations."""

    def __init__(self, broker: Mosquitto, device: str, client_id: str | None = None) -> None:
        self.device = device
        self.sent: dict[str, tuple[str, bytes]] = {}  # event id → (topic, payload) until confirmed
        self.confirmed: list[tuple[int, str]] = []
        self.lost_connection = threading.Event()
        self.refused: list[str] = []
        self.ready = threading.Event()
        self._lock = threading.Lock()
        cert, key = broker.tls.issue(device)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or device, protocol=mqtt.MQTTv5)
        self.client.tls_set(ca_certs=str(broker.tls.ca), certfile=str(cert), keyfile=str(key))
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_a: (self.ready.clear(), self.lost_connection.set())
        self.client.on_message = self._on_message
        self.client.connect_async("localhost", broker.port)
        self.client.loop_start()

    def _on_connect(self, client, _userdata, _flags, reason, _properties) -> None:
        if reason.is_failure:
            self.refused.append(str(reason))
            return
        client.subscribe(confirmation_topic(self.device), qos=1)
        self.ready.set()

    def _on_message(self, _client, _userdata, message) -> None:
        body = json.loads(message.payload)
        with self._lock:
            self.confirmed += [(seq, event_id) for seq, event_id in body["confirmed"]]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def event(self, seq: int, kind: str, payload: dict, event_id: str | None = None,
              device: str | None = None) -> str:
        """Publish an event (kept until confirmed); its id."""
        event_id = event_id or new_ulid()
        body = {"id": event_id, "seq": seq, "kind": kind, "created": "2026-11-23T10:00:00.000+08:00",
                "created_clock_synced": True, "boot": 1, "payload": payload}
        data = json.dumps(stamped(device or self.device, True, body)).encode()  # \u escapes: a surrogate too
        topic = event_topic(self.device, kind)
        self.sent[event_id] = (topic, data)
        self.publish(topic, data)
        return event_id

    def confirmed_ids(self) -> set[str]:
        with self._lock:
            return {event_id for _seq, event_id in self.confirmed}

    def resend_unconfirmed(self) -> int:
        """What a booth's outbox does: an event not confirmed yet is sent again."""
        waiting = [self.sent[i] for i in set(self.sent) - self.confirmed_ids()]
        for topic, data in waiting:
            self.publish(topic, data)
        return len(waiting)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Rig:
    def __init__(self, tmp_path: Path, url: str, session_expiry_s: int = 60) -> None:
        self.tmp_path, self.url = tmp_path, url
        self.tls = make_test_ca(tmp_path / "tls", "kiosk-a")
        self.broker = Mosquitto(tmp_path / "broker", tls=self.tls, production=True).start()
        self.booths: list[Booth] = []
        self.central = self.start_central("central-1", session_expiry_s)
        self.db = self.central.db
        context = WebContext(db=self.db, settings=self.central.settings, names=CatalogueNames.load(None),
                             send_command=self.central.send_command, health=self.central.health,
                             metrics=lambda: render(self.central, self.db),
                             fleet=FleetSnapshot(self.db), desk=self.central.desk, publish=self.central.publish)
        self.dashboard = Dashboard(context)
        self.dashboard.start()
        add_user(self.db, "admin", "admin")
        self.web = logged_in(self.dashboard.url, "admin")

    def settings(self, name: str, session_expiry_s: int):
        cert, key = self.tls.issue(name)
        return build_settings(broker_host="localhost", broker_port=self.broker.port, ca_file=self.tls.ca,
                              cert_file=cert, key_file=key, database=self.url, client_id=name,
                              session_expiry_s=session_expiry_s, http_port=0)

    def start_central(self, name: str, session_expiry_s: int) -> Intake:
        central = Intake(self.settings(name, session_expiry_s), Database(self.url, busy_timeout_s=0.3))
        central.sweep_s = 0.5
        central.start()
        wait_until(central.connected.is_set)
        return central

    def booth(self, device: str, client_id: str | None = None) -> Booth:
        booth = Booth(self.broker, device, client_id)
        self.booths.append(booth)
        assert booth.ready.wait(10), booth.refused
        return booth

    def count(self, query) -> int:
        with self.db.read() as conn:
            return conn.execute(query).scalar_one()

    def events_of(self, device: str) -> set[str]:
        with self.db.read() as conn:
            return set(conn.execute(select(events.c.id).where(events.c.device == device)).scalars())

    def api(self, path: str) -> tuple[int, object]:
        """GET an API route; its status and its body, parsed as strict JSON (no NaN, no Infinity)."""
        def strict(name: str):
            raise AssertionError(f"{path} answered {name}, which is not JSON")

        answer = self.web.get(path)
        return answer.status_code, json.loads(answer.content.decode("utf-8"), parse_constant=strict)

    def close(self) -> None:
        for booth in self.booths:
            booth.close()
        self.web.close()
        self.dashboard.stop()
        self.central.stop()
        self.broker.stop()


@pytest.fixture
def rig(tmp_path: Path, store):
    made = Rig(tmp_path, store[0])
    made.postgres = store[1]
    yield made
    made.close()


def submission(n: int) -> dict:
    return {"item": "RS-002", "session": f"s{n}", "applicant": {"name": TEST_NAME, "id_number": TEST_ID_NUMBER},
            "form": {"reason": "遗失"}}


# -- a failing database holds the batch ------------------------------------------------------------------------
def test_a_failing_database_and_a_broker_restart_lose_nothing_and_log_no_content(rig, caplog) -> None:
    """The database fails while central is idle (its sweep must not kill the writer), a burst arrives and
    is held, the broker restarts while it is held; then the database comes back: every event is in
    the database, every one confirmed, none confirmed before its commit, one log line each way, and no
    ID number, name or SQL parameter in any log line."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # statements logged: parameters must not be
    booth = rig.booth("kiosk-a")
    first = booth.event(1, "submission", submission(0))
    wait_until(lambda: first in booth.confirmed_ids())

    locker = None
    if rig.postgres is None:  # another connection holds SQLite's write lock, as a long backup or vacuum does
        locker = sqlite3.connect(rig.url.removeprefix("sqlite:///"), timeout=5, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
    else:
        pg_ctl(rig.postgres, "stop")
    try:
        wait_until(lambda: not rig.central.health()["database_ok"], timeout=15)  # the idle sweep failed
        time.sleep(1.5)  # several sweeps fail while idle; the writer lives on
        assert rig.central.alive()
        burst = [booth.event(seq, "submission" if seq % 2 else "rating",
                             submission(seq) if seq % 2 else {"item": "GA-001", "level": 1 + seq % 5})
                 for seq in range(2, 62)]
        wait_until(lambda: rig.central.health()["held_messages"] >= 1)
        status, health = rig.api("/api/health")
        assert status == 503 and health["database_ok"] is False and health["database_last_error"]
        if rig.postgres is None:  # SQLite readers go on while a writer holds the lock: the overview says so
            status, fleet = rig.api("/api/fleet")
            assert status == 200 and fleet["intake"]["database_ok"] is False and fleet["intake"]["held_messages"]
        told = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "health", "--url", rig.dashboard.url],
                              capture_output=True, text=True, timeout=60)
        assert told.returncode == 1 and "central NOT ok: database failing" in told.stdout, told.stdout + told.stderr
        rig.broker.restart()  # held messages' acks now belong to a dead connection
        wait_until(rig.central.connected.is_set, timeout=15)
        wait_until(booth.ready.is_set, timeout=15)
        time.sleep(1)
        assert not set(burst) & booth.confirmed_ids()  # nothing confirmed that is not committed
    finally:
        if locker is not None:
            locker.execute("ROLLBACK")
            locker.close()
        else:
            pg_ctl(rig.postgres, "start")

    wait_until(lambda: rig.events_of("kiosk-a") == {first, *burst}, timeout=30)
    wait_until(lambda: rig.central.health()["ok"], timeout=15)
    assert rig.api("/api/health")[0] == 200
    told = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "health", "--url", rig.dashboard.url],
                          capture_output=True, text=True, timeout=60)
    assert told.returncode == 0 and told.stdout.startswith("central ok"), told.stdout + told.stderr

    def all_confirmed() -> bool:  # a confirmation sent while the booth was reconnecting is lost: it resends
        if {first, *burst} <= booth.confirmed_ids():
            return True
        booth.resend_unconfirmed()
        time.sleep(1)
        return False

    wait_until(all_confirmed, timeout=30)
    counts = rig.central.health()["counts"]
    assert counts["event_submission"] + counts["event_rating"] == 61
    assert counts.get("dead_letter", 0) == 0
    assert counts["ack_dropped_old_connection"] >= 1  # redelivered by the broker instead
    failing = [r for r in caplog.records if "database is failing" in r.getMessage()]
    back = [r for r in caplog.records if "database is back" in r.getMessage()]
    assert len(failing) == 1 and len(back) == 1, [r.getMessage() for r in failing + back]
    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert "SQL parameters hidden" in logged  # the statements were logged, and their values were not
    for secret in (TEST_ID_NUMBER, TEST_NAME, "遗失"):
        assert secret not in logged


# -- poison is refused with its reason; every page still answers ------------------------------------------------
POISON = {
    "NaN": (b'{"device":"kiosk-b","ts":"x","clock_synced":true,"boot":1,"drivers":{},'
            b'"system":{"cpu_temp_c":NaN}}', "heartbeat", "NaN or Infinity"),
    "Infinity": (b'{"device":"kiosk-b","ts":"x","clock_synced":true,"boot":1,"drivers":{},'
                 b'"outbox":{"depth":Infinity}}', "heartbeat", "NaN or Infinity"),
    "1e400": (b'{"device":"kiosk-b","ts":"x","clock_synced":true,"boot":1,"drivers":{},'
              b'"system":{"disk_free_mb":1e400}}', "heartbeat", "out of range"),
    "lone surrogate": (b'{"device":"kiosk-b","ts":"x","clock_synced":true,"status":"online","boot":1,'
                       b'"software":"1","site":"\\ud800","region":"110101"}', "status", "lone surrogate"),
    "UTF-16": ('{"device":"kiosk-b","ts":"x","clock_synced":true,"status":"online","boot":1}'.encode("utf-16"),
               "status", "not UTF-8"),
    "NUL": (b'{"device":"kiosk-b","ts":"x","clock_synced":true,"status":"online","boot":1,"site":"a\\u0000b"}',
            "status", "NUL"),
    "boolean depth": (b'{"device":"kiosk-b","ts":"x","clock_synced":true,"boot":1,"drivers":{},'
                      b'"outbox":{"depth":true}}', "heartbeat", "'depth'"),
    "too many drivers": (encode({"device": "kiosk-b", "ts": "x", "clock_synced": True, "boot": 1, "drivers": {
        f"d{n}": {"state": "fault", "reason": "gone"} for n in range(MAX_DRIVERS + 50)}}), "heartbeat", "'drivers'"),
    "seq beyond INTEGER": (None, "events/assist", "'seq'"),
}


def test_poison_is_dead_lettered_with_its_reason_and_every_page_still_answers(rig) -> None:
    booth = rig.booth("kiosk-b")
    for payload, suffix, _reason in POISON.values():
        if payload is not None:
            booth.publish(f"kiosk/v1/kiosk-b/{suffix}", payload)
    booth.event(2**31, "assist", {"item": None, "topic": "x"})
    poisoned_events = {  # events refused for their content: dead-lettered, and confirmed so the booth stops
        booth.event(1, "rating", {"item": "GA-001", "level": True}): "'level'",
        booth.event(2, "usage", {"window_start": "2026-11-22T00:00:00+08:00", "window_end": "x",
                                 "counts": [{"action": "guide_viewed", "item": "GA-001", "count": "many"}]}):
            "'counts'",
        booth.event(3, "usage", {"window_start": "2026-11-22T00:00:00+08:00", "window_end": "x",
                                 "counts": [{"action": "x", "item": "", "count": 1}] * (MAX_USAGE_COUNTS + 1)}):
            "'counts'",
        booth.event(4, "assist", {"item": "\udfff", "topic": "x"}): "lone surrogate",
    }
    # … and beside each refusal the same kind of message, well formed, is recorded
    birth = {"status": "online", "boot": 1, "software": "1", "site": "测试网点", "region": "110101"}
    booth.publish(status_topic("kiosk-b"), encode(stamped("kiosk-b", True, birth)))
    beat = {"boot": 1, "drivers": {"printer": {"state": "fault", "reason": "paper_end"}},
            "outbox": {"depth": 3, "oldest_age_s": 10}, "system": {"disk_free_mb": 9000, "cpu_temp_c": 48.5}}
    booth.publish(heartbeat_topic("kiosk-b"), encode(stamped("kiosk-b", True, beat)))
    good = {booth.event(5, "rating", {"item": "GA-001", "level": 4}),
            booth.event(6, "usage", {"window_start": "2026-11-22T00:00:00+08:00", "window_end": "x",
                                     "counts": [{"action": "guide_viewed", "item": "GA-001", "count": 7}]}),
            booth.event(7, "assist", {"item": None, "topic": "帮我"})}

    expected = len(POISON) + len(poisoned_events)
    wait_until(lambda: rig.count(select(func.count()).select_from(dead_letters)) == expected, timeout=20)
    wait_until(lambda: rig.events_of("kiosk-b") == good, timeout=20)
    wait_until(lambda: set(poisoned_events) | good <= booth.confirmed_ids(), timeout=20)
    with rig.db.read() as conn:
        letters = rig.db.dead_letters(conn)
        fleet = rig.db.fleet(conn)
    assert all(letter["device"] == "kiosk-b" for letter in letters)
    reasons = [letter["reason"] for letter in letters]
    for name, (_payload, suffix, reason) in POISON.items():
        assert any(reason in r and suffix in r for r in reasons), (name, reasons)
    by_event = {letter["event"]: letter["reason"] for letter in letters if letter["event"]}
    for event_id, reason in poisoned_events.items():
        assert reason in by_event[event_id]
    assert fleet[0]["site"] == "测试网点" and fleet[0]["heartbeat"]["system"]["cpu_temp_c"] == 48.5
    assert rig.count(select(func.count()).select_from(alerts).where(alerts.c.device == "kiosk-b")) <= MAX_DRIVERS + 4

    status, usage = rig.api("/api/usage?days=30")
    assert status == 200 and usage["per_day"] == {"2026-11-22": {"guide_viewed": 7}}
    assert rig.api("/api/fleet")[0] == 200 and rig.api("/api/devices/kiosk-b")[0] == 200
    status, listed = rig.api("/api/dead-letters?device=kiosk-b")
    assert status == 200 and len(listed) == expected and "payload" not in listed[0]

    # rows recorded before intake refused such things (an older central) do not break the pages either;
    # PostgreSQL never took NaN or a lone surrogate, SQLite did
    old_beat = {"boot": 1, "drivers": {}}
    if rig.postgres is None:
        old_beat.update(system={"cpu_temp_c": float("nan")}, note="\ud800")
    with rig.db.transaction() as conn:
        rig.db.record_heartbeats(conn, [("kiosk-old", old_beat, time.time())])
        rig.db.record_events(conn, [("kiosk-old", {"id": new_ulid(), "seq": 1, "kind": "usage", "created": "x",
                                                   "payload": {"window_start": 5, "counts": [1, {"count": "x"}]}},
                                     time.time())])
    for path in ("/api/fleet", "/api/usage", "/api/devices/kiosk-old"):
        assert rig.api(path)[0] == 200, path

    shown = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "dead-letters", "--database", rig.url],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert f"{expected} dead letters" in shown.stdout and "NaN or Infinity" in shown.stdout


def test_event_ids_are_one_booths_own(rig) -> None:
    """A booth reusing another booth's event id records its own event; neither shadows the other, and a
    redelivery is still kept once (and confirmed again)."""
    a, b = rig.booth("kiosk-a"), rig.booth("kiosk-b")
    shared = new_ulid()
    a.event(1, "submission", submission(1), shared)
    wait_until(lambda: shared in a.confirmed_ids())
    b.event(1, "submission", submission(2), shared)
    a.event(1, "submission", submission(1), shared)  # a redelivery of a's
    wait_until(lambda: rig.events_of("kiosk-b") == {shared})
    wait_until(lambda: len(a.confirmed) == 2 and shared in b.confirmed_ids())
    assert rig.events_of("kiosk-a") == {shared}
    assert rig.central.counts["event_submission"] == 2 and rig.central.counts["duplicate"] == 1
    with rig.db.read() as conn:
        mine, theirs = rig.db.progress(conn, shared, "kiosk-a"), rig.db.progress(conn, shared, "kiosk-b")
    assert mine["case_no"] != theirs["case_no"]


# -- a database made before events were keyed by (device, id) is upgraded in place ------------------------------
def test_an_older_database_is_upgraded_in_place_keeping_every_row(store) -> None:
    from sqlalchemy import create_engine, insert, inspect

    from central.tables import cases, follow_ups, ratings

    url, _postgres = store
    old = pre_key_schema()
    engine = create_engine(url)
    old.create_all(engine)
    submitted, rated, now = new_ulid(), new_ulid(), time.time()
    with engine.begin() as conn:
        conn.execute(insert(old.tables["devices"]).values(id="kiosk-a", site="", region="", software="",
                                                          status="online", boot=1, first_seen=now))
        conn.execute(insert(old.tables["events"]), [
            {"id": submitted, "device": "kiosk-a", "seq": 1, "kind": "submission", "created": "x", "received_at": now,
             "payload": submission(1)},
            {"id": rated, "device": "kiosk-a", "seq": 2, "kind": "rating", "created": "x", "received_at": now,
             "payload": {"item": "GA-001", "level": 1}}])
        conn.execute(insert(old.tables["cases"]).values(id=7, receipt=submitted, case_no="202600000007",
                                                        device="kiosk-a", item="RS-002", status="已受理", note="",
                                                        updated_at=now))
        conn.execute(insert(old.tables["ratings"]).values(event=rated, device="kiosk-a", item="GA-001",
                                                          channel="kiosk", level=1, received_at=now))
        conn.execute(insert(old.tables["follow_ups"]).values(id=3, rating=rated, opened_at=now))
    engine.dispose()

    db = Database(url)
    with db.read() as conn:
        assert inspect(conn).get_pk_constraint("events")["constrained_columns"] == ["device", "id"]
        assert {(r.device, r.id) for r in conn.execute(select(events))} == {("kiosk-a", submitted), ("kiosk-a", rated)}
        assert db.progress(conn, submitted)["case_no"] == "202600000007"
        assert [(r.device, r.rating, r.id) for r in conn.execute(select(follow_ups))] == [("kiosk-a", rated, 3)]
        assert conn.execute(select(ratings.c.level)).scalar_one() == 1
    other = {"id": submitted, "seq": 1, "kind": "submission", "created": "x", "payload": submission(2)}
    with db.transaction() as conn:  # another booth's event with the same id is its own; ids go on after the old
        assert len(db.record_events(conn, [("kiosk-b", other, now), ("kiosk-b", {**other, "id": rated,
                    "kind": "rating", "payload": {"item": "GA-001", "level": 2}}, now)])) == 2
    with db.read() as conn:
        assert sorted(conn.execute(select(cases.c.id)).scalars()) == [7, 8]
        assert sorted(conn.execute(select(follow_ups.c.id)).scalars()) == [3, 4]
        assert db.progress(conn, submitted, "kiosk-b")["case_no"].endswith("00000008")
        assert db.progress(conn, submitted, "kiosk-a")["case_no"] == "202600000007"
    db.engine.dispose()
    again = Database(url)  # a second start finds nothing to do
    with again.read() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 4
    again.engine.dispose()


# -- the broker binds a session to its certificate ---------------------------------------------------------------
def test_a_booth_certificate_cannot_take_centrals_session_or_another_booths(tmp_path: Path) -> None:
    """A booth asking for central's client id, or another booth's, gets its own session under its own
    name: central and the other booth stay connected, and central records everything meanwhile."""
    rig = Rig(tmp_path, f"sqlite:///{tmp_path / 'central.sqlite3'}")
    try:
        honest = rig.booth("kiosk-b")
        sent = {honest.event(seq, "assist", {"item": None, "topic": "x"}) for seq in range(1, 11)}
        as_central = rig.booth("kiosk-a", client_id="central-1")
        as_booth = rig.booth("kiosk-c", client_id="kiosk-b")
        sent |= {honest.event(seq, "assist", {"item": None, "topic": "x"}) for seq in range(11, 21)}
        own = as_central.event(1, "rating", {"item": "GA-001", "level": 5})  # the impostor's own session works
        wait_until(lambda: rig.events_of("kiosk-b") == sent and rig.events_of("kiosk-a") == {own}, timeout=15)
        wait_until(lambda: sent <= honest.confirmed_ids() and own in as_central.confirmed_ids(), timeout=15)
        assert rig.central.health()["broker_connections"] == 1  # never knocked off
        assert not honest.lost_connection.is_set() and not as_central.lost_connection.is_set()
        assert not as_booth.lost_connection.is_set()
        assert rig.broker.log_count("as kiosk-a ") + rig.broker.log_count("as kiosk-c ") >= 2  # renamed
    finally:
        rig.close()


# -- scaling out: a stopped instance parks the booths' events for its session's expiry, not for days -------------
def test_a_killed_instance_parks_nothing_beyond_its_short_session(tmp_path: Path, store) -> None:
    url, _postgres = store
    rig = Rig(tmp_path, url)
    second = None
    try:
        settings = rig.settings("central-2", 2)
        second = subprocess.Popen(
            [sys.executable, "-m", "appliance.cli", "central", "serve", "--database", url, "--broker-host", "localhost",
             "--broker-port", str(rig.broker.port), "--ca-file", str(settings.ca_file), "--cert-file",
             str(settings.cert_file), "--key-file", str(settings.key_file), "--client-id", "central-2",
             "--http-port", "0", "--session-expiry-s", "2", "--personal-data-key", str(tmp_path / "personal-data.key")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: rig.broker.log_count("Received SUBSCRIBE from central-2") >= 1, timeout=20)
        booth = rig.booth("kiosk-a")
        first = {booth.event(seq, "assist", {"item": None, "topic": "x"}) for seq in range(1, 21)}
        wait_until(lambda: first <= booth.confirmed_ids(), timeout=15)
        assert 0 < rig.central.counts["event_assist"] < 20  # both instances took their share

        second.kill()  # no goodbye: its session stays, and keeps being dealt its share, for 2 s
        second.wait(10)
        during = {booth.event(seq, "assist", {"item": None, "topic": "x"}) for seq in range(21, 41)}
        time.sleep(3)  # the session expires; what it held is dropped by the broker
        parked = during - rig.events_of("kiosk-a")
        assert parked and not parked & booth.confirmed_ids()  # never confirmed: the booth still has them
        after = {booth.event(seq, "assist", {"item": None, "topic": "x"}) for seq in range(41, 61)}
        wait_until(lambda: after <= rig.events_of("kiosk-a"), timeout=10)  # all to the live one, no resend
        assert booth.resend_unconfirmed() >= len(parked)
        wait_until(lambda: rig.events_of("kiosk-a") == first | during | after, timeout=15)
        wait_until(lambda: first | during | after <= booth.confirmed_ids(), timeout=15)
    finally:
        if second is not None and second.poll() is None:
            second.kill()
            second.wait(10)
        rig.close()


# -- what the database itself refuses costs only itself ------------------------------------------------------------
def test_a_message_the_database_refuses_is_a_dead_letter_and_costs_only_itself(rig, caplog) -> None:
    """The database refuses one event forever (here a trigger, as a constraint a DBA added would; on
    PostgreSQL its error quotes the row): the batch is recorded without it, it is kept as a dead letter,
    confirmed, and no log line quotes it."""
    from sqlalchemy import text

    caplog.set_level(logging.DEBUG)
    booth = rig.booth("kiosk-a")
    with rig.db.transaction() as conn:
        if rig.postgres is None:
            conn.execute(text("CREATE TRIGGER refuse_13 BEFORE INSERT ON events WHEN NEW.seq = 13 "
                              "BEGIN SELECT RAISE(ABORT, 'refused'); END"))
        else:
            conn.execute(text("CREATE FUNCTION refuse_13() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                              "IF NEW.seq = 13 THEN RAISE EXCEPTION USING ERRCODE = 'check_violation', "
                              "MESSAGE = 'refused ' || NEW.payload::text; END IF; RETURN NEW; END $$"))
            conn.execute(text("CREATE TRIGGER refuse_13 BEFORE INSERT ON events FOR EACH ROW "
                              "EXECUTE FUNCTION refuse_13()"))
    sent = [booth_event(booth, seq) for seq in range(10, 17)]  # a new booth's first events: in one batch, its
    for topic, data in sent:                                   # device row is added in the failing transaction
        booth.client.publish(topic, data, qos=1)
    wait_until(lambda: rig.count(select(func.count()).select_from(dead_letters)) == 1, timeout=15)
    wait_until(lambda: len(rig.events_of("kiosk-a")) == len(sent) - 1, timeout=15)
    wait_until(lambda: set(booth.sent) <= booth.confirmed_ids(), timeout=15)
    with rig.db.read() as conn:
        letter, = rig.db.dead_letters(conn)
    assert letter["seq"] == 13 and "central could not record it: IntegrityError" in letter["reason"]
    assert rig.central.counts["batch_split"] >= 1
    logged = caplog.text + "".join(r.exc_text or "" for r in caplog.records)
    assert TEST_ID_NUMBER not in logged and TEST_NAME not in logged and "refused {" not in logged


def booth_event(booth: Booth, seq: int) -> tuple[str, bytes]:
    """A submission envelope the booth keeps until confirmed, not yet published."""
    event_id = new_ulid()
    body = {"id": event_id, "seq": seq, "kind": "submission", "created": "2026-11-23T10:00:00.000+08:00",
            "created_clock_synced": True, "boot": 1, "payload": submission(seq)}
    booth.sent[event_id] = (event_topic(booth.device, "submission"), encode(stamped(booth.device, True, body)))
    return booth.sent[event_id]


def test_a_full_disk_holds_the_batch_until_there_is_room(tmp_path: Path) -> None:
    """SQLite told the disk is full (its page limit, as a full disk answers SQLITE_FULL): central holds
    the events, says so, and records every one once there is room again."""
    from sqlalchemy import event as sa_event

    rig = Rig(tmp_path, f"sqlite:///{tmp_path / 'central.sqlite3'}")
    room = {"pages": 0}  # 0: no limit

    def limit(dbapi_connection, _record) -> None:
        if room["pages"]:
            dbapi_connection.execute(f"PRAGMA max_page_count={room['pages']}")

    try:
        booth = rig.booth("kiosk-a")
        first = booth.event(1, "assist", {"item": None, "topic": "x"})
        wait_until(lambda: first in booth.confirmed_ids())
        with rig.db.read() as conn:
            room["pages"] = conn.exec_driver_sql("PRAGMA page_count").scalar_one() + 1
        sa_event.listen(rig.db.engine, "connect", limit)
        rig.db.engine.dispose()  # from now on every connection has no room to grow
        burst = {booth.event(seq, "submission", {**submission(seq), "form": {"note": "x" * 3000}})
                 for seq in range(2, 42)}
        wait_until(lambda: not rig.central.health()["database_ok"], timeout=15)
        assert "full" in rig.central.health()["database_last_error"]
        time.sleep(1)
        confirmed = booth.confirmed_ids()  # (read first: a confirmation only ever follows its commit)
        recorded = rig.events_of("kiosk-a")  # what still fitted in the pages' free space, and no more
        assert len(recorded) < 1 + len(burst) and confirmed <= recorded
        room["pages"] = 0
        rig.db.engine.dispose()  # room again
        wait_until(lambda: rig.events_of("kiosk-a") == {first, *burst}, timeout=20)
        wait_until(lambda: burst <= booth.confirmed_ids(), timeout=15)
        assert rig.central.health()["database_ok"] and rig.central.counts.get("dead_letter", 0) == 0
    finally:
        rig.close()
