"""Personal data is kept no longer than needed (central.retention): an applicant's name, ID number and
phone go a set time after their case closed (or their appointment's day), dead letters lose their bytes,
and every case, status and statistic stays. On SQLite and PostgreSQL; then by itself, in a running intake."""

from __future__ import annotations

import itertools
import json
import logging
import time
from datetime import date, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, insert, select, update

from appliance.contract import encode, event_topic, stamped
from appliance.state.ids import UlidGenerator
from central import audit, intake, retention
from central.database import Database
from central.intake import Intake
from central.retention import erase_expired
from central.settings import build_settings
from central.tables import assists, audit_log, cases, dead_letters, events, follow_ups, ratings
from tests.support import TEST_ID_NUMBER, TEST_NAME, citizen_card, new_postgres_database, wait_until

DAY = 86_400
DAYS = 180
PHONE = "13800000000"
PERSONAL = (TEST_NAME, TEST_ID_NUMBER, PHONE)
CARD = citizen_card()
DEVICE = "test-kiosk-0001"
new_ulid = UlidGenerator().new
_seq = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return Database(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    return Database(new_postgres_database(request.getfixturevalue("postgres").url))


def envelope(kind: str, payload: dict) -> dict:
    return {"id": new_ulid(), "seq": next(_seq), "kind": kind, "created": "2026-01-05T10:00:00.000+08:00",
            "payload": payload}


def applicant() -> dict:
    return {"name": TEST_NAME, "id_number": TEST_ID_NUMBER, "sex": CARD.sex, "nation": CARD.nation,
            "birth_date": CARD.birth_date, "address": "山东省青岛市市南区香港中路1号"}


def submission(item: str = "RS-002") -> dict:
    return envelope("submission", {"item": item, "session": new_ulid(), "applicant": applicant(),
                                   "form": {"reason": "遗失", "phone": PHONE}})


def appointment(day: date) -> dict:
    return envelope("appointment", {"item": "GA-001", "day": day.isoformat(), "half": "am", "session": new_ulid(),
                                    "applicant": {"name": TEST_NAME, "id_number": TEST_ID_NUMBER}})


def record(db: Database, envelope: dict, at: float) -> dict:
    with db.transaction() as conn:
        db.record_events(conn, [(DEVICE, envelope, at)])
    return envelope


def close_case(db: Database, receipt: str, at: float, status: str = "已办结") -> str:
    with db.transaction() as conn:
        conn.execute(update(cases).where(cases.c.receipt == receipt).values(status=status, closed_at=at,
                                                                             updated_at=at))
        return conn.execute(select(cases.c.case_no).where(cases.c.receipt == receipt)).scalar_one()


def payload(db: Database, event_id: str) -> dict:
    with db.read() as conn:
        return conn.execute(select(events.c.payload).where(events.c.id == event_id)).scalar_one()


def holds_personal_data(value) -> bool:
    shown = json.dumps(value, ensure_ascii=False)
    return any(secret in shown for secret in PERSONAL)


def statistics(db: Database) -> dict:
    """What the office counts and reports: none of it may change when personal data goes."""
    with db.read() as conn:
        return {
            "cases": sorted(tuple(r) for r in conn.execute(select(cases.c.case_no, cases.c.item, cases.c.status,
                                                                  cases.c.closed_at))),
            "ratings": sorted(tuple(r) for r in conn.execute(select(ratings.c.event, ratings.c.item,
                                                                    ratings.c.level))),
            "follow_ups": conn.execute(select(func.count()).select_from(follow_ups)).scalar_one(),
            "events": sorted(tuple(r) for r in conn.execute(select(events.c.id, events.c.kind))),
            "usage": [r[0] for r in conn.execute(select(events.c.payload).where(events.c.kind == "usage"))],
        }


def erased_lines(db: Database) -> list[dict]:
    with db.read() as conn:
        return audit.lines(conn, action="personal_data_erased")


def test_personal_data_goes_after_its_time_and_nothing_else_changes(db: Database) -> None:
    now = time.time()
    today = date.fromtimestamp(now)
    old = record(db, submission(), now - 400 * DAY)  # closed 181 days ago: erased
    recent = record(db, submission(), now - 400 * DAY)  # closed 179 days ago: kept
    still_open = record(db, submission(), now - 400 * DAY)  # never closed, however old: kept
    rating = envelope("rating", {"item": "RS-002", "level": 1, "case": old["id"]})
    record(db, rating, now - 399 * DAY)
    record(db, envelope("usage", {"window_start": "2026-01-05T10:00:00+08:00", "counts": [
        {"action": "submission", "item": "RS-002", "count": 3}]}), now - 399 * DAY)
    past = record(db, appointment(today - timedelta(days=DAYS + 1)), now - 200 * DAY)
    just_past = record(db, appointment(today - timedelta(days=DAYS - 1)), now - 200 * DAY)
    future = record(db, appointment(today + timedelta(days=3)), now - DAY)
    case_old = close_case(db, old["id"], now - (DAYS + 1) * DAY)
    close_case(db, recent["id"], now - (DAYS - 1) * DAY, status="不予受理")
    with db.transaction() as conn:
        db.add_dead_letter(conn, "kiosk/v1/x/events/submission", DEVICE, (90, new_ulid()), "bad",
                           json.dumps(submission()["payload"], ensure_ascii=False).encode(), now - (DAYS + 1) * DAY)
        db.add_dead_letter(conn, "kiosk/v1/x/events/submission", DEVICE, (91, new_ulid()), "bad", b"{recent}",
                           now - (DAYS - 1) * DAY)
    before = statistics(db)

    with db.transaction() as conn:
        erased = erase_expired(db, conn, now, DAYS)

    assert erased.cases == (case_old,) and erased.appointments == 1 and erased.dead_letters == 1
    assert not erased.more
    gone = payload(db, old["id"])
    assert not holds_personal_data(gone)
    assert gone == {"item": "RS-002", "session": old["payload"]["session"], "applicant": {"erased": True},
                    "form": {"reason": "(erased)", "phone": "(erased)"}}  # which fields were filled stays
    for kept in (recent, still_open, just_past, future):  # refused beside the success: all still there
        assert payload(db, kept["id"]) == kept["payload"] and holds_personal_data(kept["payload"])
    assert payload(db, past["id"]) == {**past["payload"], "applicant": {"erased": True}}
    with db.read() as conn:
        stamped_cases = dict(conn.execute(select(cases.c.receipt, cases.c.personal_erased_at)).all())
        letters = sorted(conn.execute(select(dead_letters.c.seq, dead_letters.c.payload, dead_letters.c.size)).all())
    assert stamped_cases == {old["id"]: now, recent["id"]: None, still_open["id"]: None}
    assert letters[0][0] == 90 and letters[0][1] is None and letters[0][2] > 0  # its size and reason stay
    assert tuple(letters[1]) == (91, b"{recent}", 8)
    assert statistics(db) == before

    [line] = erased_lines(db)
    assert line["actor"] == audit.SYSTEM and line["ok"]
    assert line["details"] == {"cases": 1, "case_numbers": [case_old], "appointments": 1, "dead_letters": 1,
                               "assist_numbers": 0, "days": DAYS}
    assert not holds_personal_data(line)

    with db.transaction() as conn:  # again: nothing more to do, and no line saying so
        again = erase_expired(db, conn, now + 60, DAYS)
    assert again.total == 0 and not again.more
    assert len(erased_lines(db)) == 1
    assert payload(db, recent["id"]) == recent["payload"]

    with db.transaction() as conn:  # two days on, the recently closed case and the appointment follow
        later = erase_expired(db, conn, now + 2 * DAY, DAYS)
    assert len(later.cases) == 1 and later.appointments == 1 and later.dead_letters == 1
    assert not any(holds_personal_data(payload(db, e["id"])) for e in (recent, just_past))
    assert holds_personal_data(payload(db, still_open["id"])) and holds_personal_data(payload(db, future["id"]))
    assert statistics(db) == before


def test_each_call_does_bounded_work_and_says_there_is_more(db: Database) -> None:
    now = time.time()
    numbers = []
    for _ in range(5):
        filed = record(db, submission(), now - 300 * DAY)
        numbers.append(close_case(db, filed["id"], now - 200 * DAY))
    calls = []
    while True:
        with db.transaction() as conn:
            erased = erase_expired(db, conn, now, DAYS, limit=2)
        calls.append(erased.cases)
        if not erased.more:
            break
    assert [len(c) for c in calls] == [2, 2, 1]
    assert sorted(itertools.chain(*calls)) == sorted(numbers)
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(audit_log)).scalar_one() == 3
        assert conn.execute(select(func.count()).where(cases.c.personal_erased_at.is_(None))).scalar_one() == 0


def test_an_appointment_whose_day_cannot_be_read_goes_after_its_receipt_plus_the_slack(db: Database) -> None:
    now = time.time()
    far = record(db, appointment(date(2099, 1, 1)), now - (DAYS + retention.APPOINTMENT_SLACK_DAYS + 1) * DAY)
    odd = envelope("appointment", {"item": "GA-001", "day": "someday", "applicant": {"name": TEST_NAME}})
    record(db, odd, now - (DAYS + retention.APPOINTMENT_SLACK_DAYS - 1) * DAY)  # "someday" > any ISO date: kept
    with db.transaction() as conn:
        assert erase_expired(db, conn, now, DAYS).appointments == 1
    assert not holds_personal_data(payload(db, far["id"]))
    assert holds_personal_data(payload(db, odd["id"]))


def test_a_call_back_number_nobody_closed_goes_after_its_time(db: Database) -> None:
    """Closing a request erases its number (central.assist_desk); one never closed loses it here."""
    now = time.time()

    def asked(days_ago: int) -> int:
        request = record(db, envelope("assist", {"item": None, "screen": "help", "mode": "call_back",
                                                 "session": new_ulid(), "site": "x"}), now - days_ago * DAY)
        made = now - days_ago * DAY
        with db.transaction() as conn:
            return conn.execute(insert(assists).values(
                device=DEVICE, request=request["id"], site="x", region="370203", screen="help",
                requested_mode="call_back", mode="call_back", phone_sealed=b"sealed number", made_at=made,
                received_at=made, desk_from=made, outside_hours=False).returning(assists.c.id)).scalar_one()

    old, recent = asked(DAYS + 1), asked(DAYS - 1)
    with db.transaction() as conn:
        erased = erase_expired(db, conn, now, DAYS)
    assert erased.assist_numbers == 1 and erased.total == 1
    with db.read() as conn:
        sealed = dict(conn.execute(select(assists.c.id, assists.c.phone_sealed)).all())
    assert sealed == {old: None, recent: b"sealed number"}  # the recent one is still waiting for its call
    assert erased_lines(db)[0]["details"]["assist_numbers"] == 1


# -- by itself, in a running intake -------------------------------------------------------------------------
def publish_submission(broker_port: int, body: dict) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-booth", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    try:
        message = {**body, "created_clock_synced": True, "boot": 1}
        client.publish(event_topic(DEVICE, "submission"), encode(stamped(DEVICE, True, message)),
                       qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_running_intake_erases_by_itself(broker, tmp_path: Path, monkeypatch) -> None:
    """The real intake on a real broker: a case closed long ago is erased without anyone asking, at the
    first run after start and at the runs after it. (The first run comes 60 s after start and then
    hourly; here after 0.5 s and then every second.)"""
    monkeypatch.setattr(intake, "ERASE_FIRST_S", 0.5)
    monkeypatch.setattr(intake, "ERASE_EVERY_S", 1.0)
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    db = Database(url)
    now = time.time()
    before_start = record(db, submission(), now - 300 * DAY)
    close_case(db, before_start["id"], now - 200 * DAY)
    settings = build_settings(broker_host="127.0.0.1", broker_port=broker.port, database=url)
    central = Intake(settings, Database(url))
    central.start()
    try:
        wait_until(lambda: not holds_personal_data(payload(db, before_start["id"])), timeout=15)
        assert payload(db, before_start["id"])["applicant"] == {"erased": True}

        wait_until(central.connected.is_set)
        arriving = submission()  # through the broker, recorded by the intake, closed long ago afterwards
        publish_submission(broker.port, arriving)
        wait_until(lambda: central.counts["event_submission"] == 1, timeout=15)
        assert holds_personal_data(payload(db, arriving["id"]))
        close_case(db, arriving["id"], time.time() - 200 * DAY)
        wait_until(lambda: not holds_personal_data(payload(db, arriving["id"])), timeout=15)
        assert central.counts["personal_data_erased"] == 2 and not central.counts["erasure_failures"]
    finally:
        central.stop()
    lines = erased_lines(db)
    assert sorted(line["details"]["cases"] for line in lines) == [1, 1]
    assert not any(holds_personal_data(line) for line in lines)


def test_a_failing_erasure_is_said_once_and_tried_again_next_hour(tmp_path: Path, monkeypatch, caplog) -> None:
    db = Database(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    central = Intake(build_settings(database=str(db.engine.url)), db)  # not started: its sweep is called here

    def broken(*_args, **_kwargs):
        raise RuntimeError(f"would quote {TEST_ID_NUMBER}")

    monkeypatch.setattr(intake, "erase_expired", broken)
    caplog.set_level(logging.INFO, logger="central.intake")
    now = time.time()
    for hour in range(3):
        central.erase_personal_data(now + hour * 3600)
    assert central.counts["erasure_failures"] == 3
    assert central.next_erasure_at == now + 2 * 3600 + intake.ERASE_EVERY_S  # retried hourly
    failures = [r.getMessage() for r in caplog.records if "could not erase" in r.getMessage()]
    assert len(failures) == 1 and "RuntimeError" in failures[0]
    assert TEST_ID_NUMBER not in caplog.text

    monkeypatch.setattr(intake, "erase_expired", retention.erase_expired)
    central.erase_personal_data(now + 3 * 3600)
    assert "works again" in caplog.text
