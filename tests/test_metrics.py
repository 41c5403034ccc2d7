"""Central's Prometheus metrics (central.metrics): what a scrape says against a database filled here and an
intake's counts, parsed back with prometheus_client's own parser; a database that is down still answers."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert, update

from appliance.contract import encode, event_topic, heartbeat_topic, stamped, status_topic
from appliance.state.ids import UlidGenerator
from central.alerts import Condition
from central.assist_desk import AssistDesk
from central.database import Database
from central.intake import Intake
from central.metrics import render
from central.settings import build_settings
from central.tables import devices, follow_ups
from tests.support import Postgres, wait_until

new_ulid = UlidGenerator().new
_seq = itertools.count(1)


def scrape(intake: Intake | None, db: Database | None) -> dict[tuple[str, tuple], float]:
    body, content_type = render(intake, db)
    assert content_type.startswith("text/plain; version=0.0.4")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode()) for sample in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def add_device(db: Database, device: str, status: str) -> None:
    with db.transaction() as conn:
        conn.execute(insert(devices).values(id=device, status=status, first_seen=time.time()))


def rate(db: Database, device: str, level: int) -> str:
    envelope = {"id": new_ulid(), "seq": next(_seq), "kind": "rating", "created": "2026-01-05T10:00:00+08:00",
                "payload": {"item": "GA-001", "level": level}}
    with db.transaction() as conn:
        db.record_events(conn, [(device, envelope, time.time())])
    return envelope["id"]


def fill(db: Database) -> None:
    """3 online, 1 offline, 1 in maintenance; open alerts 2 errors and 1 warning (and one closed);
    follow-ups: 2 open of which 1 overdue, 1 closed; 1 assist request, open on the desk; 2 dead letters."""
    now = time.time()
    for n, status in enumerate(["online", "online", "online", "offline", "maintenance"], 1):
        add_device(db, f"test-kiosk-{n:04d}", status)
    with db.transaction() as conn:
        db.open_alert(conn, "test-kiosk-0004", "clock", "offline", Condition("error", "offline"), now)
        db.open_alert(conn, "test-kiosk-0001", "heartbeat", "printer_paper_end", Condition("error", "paper"), now)
        db.open_alert(conn, "test-kiosk-0002", "heartbeat", "disk_low", Condition("warning", "disk"), now)
        db.open_alert(conn, "test-kiosk-0003", "heartbeat", "disk_low", Condition("warning", "disk"), now - 60)
        db.close_ended_alerts(conn, now)  # none has an end yet
        db.sync_alerts(conn, "test-kiosk-0003", "heartbeat", {}, now)  # this one clears
    overdue, due_later, closed = (rate(db, "test-kiosk-0001", level) for level in (1, 2, 1))
    rate(db, "test-kiosk-0001", 5)  # no follow-up
    with db.transaction() as conn:
        for rating, due in ((overdue, now - 3600), (due_later, now + 86_400), (closed, now - 86_400)):
            conn.execute(update(follow_ups).where(follow_ups.c.rating == rating).values(due_at=due))
        follow_up = conn.execute(follow_ups.select().where(follow_ups.c.rating == closed)).mappings().one()
        assert db.close_follow_up(conn, follow_up["id"], "operator 7", "called back", now)
        assist = {"id": new_ulid(), "seq": 1, "kind": "assist", "created": "x",
                  "payload": {"item": None, "screen": "help", "mode": "on_site"}}
        db.record_events(conn, [("test-kiosk-0002", assist, now)])
        AssistDesk(db, build_settings()).record(conn, "test-kiosk-0002", assist, now, None)  # as the intake does
        for n in range(2):
            db.add_dead_letter(conn, "kiosk/v1/test-kiosk-0001/events/rating", "test-kiosk-0001", None, "bad",
                               b"{}", now + n)


def test_a_scrape_reports_the_fleet_from_the_database_and_the_intake_from_its_counts(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    fill(db)
    intake = Intake(build_settings(database=str(db.engine.url)), db)  # not started: not connected
    intake.counts.update({"received": 20, "event_submission": 2, "event_rating": 4, "duplicate": 3, "heartbeat": 7,
                          "status": 2, "stale_will": 1, "rejected": 1, "dead_letter": 1, "confirmed": 9,
                          "database_failures": 5, "database_recoveries": 1})
    samples = scrape(intake, db)

    assert value(samples, "central_database_up") == 1
    assert [value(samples, "central_booths", status=s) for s in ("online", "offline", "maintenance", "unknown")] \
        == [3, 1, 1, 0]
    assert value(samples, "central_alerts_open", severity="error") == 2
    assert value(samples, "central_alerts_open", severity="warning") == 1
    assert value(samples, "central_follow_ups_open") == 2 and value(samples, "central_follow_ups_overdue") == 1
    assert value(samples, "central_assist_requests_open") == 1
    assert value(samples, "central_assist_requests_escalated") == 0
    assert value(samples, "central_assist_requests_recorded_total") == 1
    assert value(samples, "central_dead_letters") == 2

    assert value(samples, "central_messages_received_total") == 20
    assert value(samples, "central_messages_total", kind="event", outcome="recorded") == 6
    assert value(samples, "central_events_recorded_total", kind="rating") == 4
    assert value(samples, "central_events_recorded_total", kind="submission") == 2
    assert value(samples, "central_messages_total", kind="event", outcome="duplicate") == 3
    assert value(samples, "central_messages_total", kind="status", outcome="stale") == 1
    assert value(samples, "central_messages_total", kind="unreadable", outcome="rejected") == 1
    assert value(samples, "central_database_failures_total") == 5
    assert value(samples, "central_dead_letters_written_total") == 1
    assert value(samples, "central_events_confirmed_total") == 9
    assert value(samples, "central_broker_connected") == 0 and value(samples, "central_held_messages") == 0
    assert value(samples, "central_intake_database_ok") == 1


def test_a_running_intake_counts_what_it_received_and_recorded(broker, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    central = Intake(build_settings(broker_host="127.0.0.1", broker_port=broker.port, database=url), Database(url))
    central.start()
    booth = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-booth", protocol=mqtt.MQTTv5)
    try:
        wait_until(central.connected.is_set)
        device = "test-kiosk-0009"
        booth.connect("127.0.0.1", broker.port)
        booth.loop_start()
        birth = {"status": "online", "boot": 1, "software": "1", "site": "A", "region": "370203"}
        booth.publish(status_topic(device), encode(stamped(device, True, birth)), qos=1)
        for seq in (1, 2, 2):  # the second 2 is a redelivery
            body = {"id": f"01JCZ0000000000000000000{seq:02d}", "seq": seq, "kind": "assist", "boot": 1,
                    "created": "2026-01-05T10:00:00+08:00", "payload": {"item": None, "topic": "x"}}
            booth.publish(event_topic(device, "assist"), encode(stamped(device, True, body)), qos=1)
        booth.publish(heartbeat_topic(device), b"not json", qos=1)
        wait_until(lambda: central.counts["dead_letter"] == 1 and central.counts["duplicate"] == 1, timeout=15)
        samples = scrape(central, central.db)
    finally:
        booth.disconnect()
        booth.loop_stop()
        central.stop()
    assert value(samples, "central_messages_received_total") == 5
    assert value(samples, "central_messages_total", kind="status", outcome="recorded") == 1
    assert value(samples, "central_events_recorded_total", kind="assist") == 2
    assert value(samples, "central_messages_total", kind="event", outcome="duplicate") == 1
    assert value(samples, "central_messages_total", kind="unreadable", outcome="rejected") == 1
    assert value(samples, "central_broker_connected") == 1 and value(samples, "central_threads_alive") == 1
    assert value(samples, "central_booths", status="online") == 1
    assert value(samples, "central_assist_requests_recorded_total") == 2
    assert value(samples, "central_assist_requests_open") == 2  # booths before issue 15: on the desk too
    assert value(samples, "central_dead_letters") == 1


@pytest.fixture
def postgres():
    cluster = Postgres().start()
    yield cluster
    cluster.stop()


def test_a_database_that_is_down_still_gets_an_answer(postgres, caplog) -> None:
    db = Database(postgres.url)
    fill(db)
    intake = Intake(build_settings(database=postgres.url), db)
    intake.counts.update({"received": 3, "heartbeat": 3})
    assert value(scrape(intake, db), "central_booths", status="online") == 3  # the same queries on PostgreSQL
    postgres.stop()
    for _ in range(2):
        samples = scrape(intake, db)
        assert value(samples, "central_database_up") == 0
        assert value(samples, "central_messages_received_total") == 3
        assert value(samples, "central_messages_total", kind="heartbeat", outcome="recorded") == 3
        assert not any(name == "central_booths" for name, _ in samples)
    said = [r for r in caplog.records if "cannot be read" in r.getMessage()]
    assert len(said) == 1  # once per outage
    assert scrape(None, db)[("central_database_up", ())] == 0  # a dashboard-only process: no intake
