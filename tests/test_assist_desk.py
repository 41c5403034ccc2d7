"""The assist desk (帮办代办, central.assist_desk) against real parts: central's intake and dashboard on a real
Mosquitto, its database on SQLite and PostgreSQL, and a raw MQTT client playing the booth — it publishes
assist events as the contract has them and listens on its assist/answer topic, where every answer must
match the AsyncAPI document. What counts is what landed in the database, what the API answers (each
refusal beside its matching success) and what the booth heard; the citizen's phone number must be nowhere
but sealed in its desk row, and gone once the request is closed."""

from __future__ import annotations

import json
import logging
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from datetime import time as clock
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select, text, update

from appliance import cli
from appliance.contract import assist_answer_topic, encode, event_topic, stamped, status_topic
from appliance.state.ids import UlidGenerator
from appliance.state.sealing import SealError
from central.assist_desk import PhoneSeal, asked_at
from central.settings import SettingsError
from central.tables import alerts, assists, audit_log, dead_letters, events, users
from central.workdays import next_staffed
from tests.central_web import add_user, logged_in, start_central
from tests.support import new_postgres_database, wait_until
from tests.test_contract import validator

new_ulid = UlidGenerator().new
PHONE = "13912345678"
XC, DC = "xc-0001", "dc-0001"  # booths in 110102 (西城) and 110101 (东城)
ANSWER = validator("AssistAnswer")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.sqlite3'}"
    return new_postgres_database(request.getfixturevalue("postgres").url)


class Booth:
    """A booth on a plain MQTT client: publishes its birth and assist events, hears its assist answers."""

    def __init__(self, port: int, device: str, region: str) -> None:
        self.device = device
        self.answers: list[dict[str, Any]] = []
        self.seq = 0
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"booth-{device}", protocol=mqtt.MQTTv5)
        self.client.on_message = self._heard
        self.client.on_subscribe = lambda *_args: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(assist_answer_topic(device), qos=1)
        assert subscribed.wait(10)
        birth = {"status": "online", "boot": 1, "software": "1", "site": f"网点 {device}", "region": region}
        self.client.publish(status_topic(device), encode(stamped(device, True, birth)), qos=1).wait_for_publish(10)

    def _heard(self, _client, _userdata, message) -> None:
        with self._lock:
            self.answers.append(json.loads(message.payload))

    def ask(self, payload: dict[str, Any], event_id: str | None = None, *, age_s: float = 0,
            clock_off_s: float | None = None) -> str:
        """Publish an assist event (a resend when `event_id` is given); its id. `age_s`: how long it waited in
        the booth's outbox; `clock_off_s`: the booth's clock, not synchronised, is off by this much."""
        if event_id is None:
            self.seq += 1
            event_id = new_ulid()
        synced = clock_off_s is None
        clock = time.time() + (clock_off_s or 0)
        body = {"id": event_id, "seq": self.seq, "kind": "assist",
                "created": datetime.fromtimestamp(clock - age_s).astimezone().isoformat(),
                "created_clock_synced": synced, "boot": 1, "payload": payload}
        sent = {**stamped(self.device, synced, body), "ts": datetime.fromtimestamp(clock).astimezone().isoformat()}
        self.client.publish(event_topic(self.device, "assist"), encode(sent), qos=1).wait_for_publish(10)
        return event_id

    def heard(self, request: str, state: str, timeout: float = 10) -> dict[str, Any]:
        """The newest answer about `request` in `state`, waited for."""
        def found():
            with self._lock:
                return next((a for a in reversed(self.answers) if a["request"] == request and a["state"] == state),
                            None)
        answer = wait_until(found, timeout=timeout)
        self.states(request)
        return answer

    def states(self, request: str) -> list[str]:
        """The states the booth heard for `request`, in order; every answer it heard matches the contract."""
        with self._lock:
            heard = list(self.answers)
        for answer in heard:
            errors = sorted(ANSWER.iter_errors(answer), key=str)
            assert not errors, f"{answer}: {errors[0].message} at {list(errors[0].absolute_path)}"
        return [a["state"] for a in heard if a["request"] == request]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def call_back(item: str | None = "GA-001", screen: str = "guide", phone: str = PHONE) -> dict[str, Any]:
    return {"item": item, "screen": screen, "mode": "call_back", "phone": phone, "session": new_ulid(),
            "site": "西城区政务服务中心 24小时自助区"}


def on_site(item: str | None = "RS-002", screen: str = "apply") -> dict[str, Any]:
    return {"item": item, "screen": screen, "mode": "on_site", "session": new_ulid(), "site": "东城区某银行网点"}


@pytest.fixture
def desk(broker, url: str, tmp_path: Path):
    """Central with two booths (two regions), the desk's users, and a fast sweep."""
    (tmp_path / "keys").mkdir()
    central = start_central(broker.port, url, personal_data_key=tmp_path / "keys" / "personal-data.key",
                            assist_escalation_s=1)
    central.intake.sweep_s = 0.2
    booths = {device: Booth(broker.port, device, region) for device, region in ((XC, "110102"), (DC, "110101"))}
    wait_until(lambda: central.intake.counts["status"] == 2)
    add_user(central.db, "admin", "admin")
    add_user(central.db, "wang", "operator", display_name="王芳")
    add_user(central.db, "li", "operator")
    add_user(central.db, "xc-li", "operator", ("110102",))
    add_user(central.db, "viewer", "viewer")
    central.booths = booths
    central.key = tmp_path / "keys" / "personal-data.key"
    yield central
    for booth in booths.values():
        booth.close()
    central.stop()


def count(central, query) -> int:
    with central.db.read() as conn:
        return conn.execute(query).scalar_one()


def row_of(central, request: str) -> dict[str, Any]:
    with central.db.read() as conn:
        return dict(conn.execute(select(assists).where(assists.c.request == request)).mappings().one())


def audit_of(central, action: str) -> list[dict[str, Any]]:
    with central.db.read() as conn:
        return [dict(r) for r in conn.execute(select(audit_log).where(audit_log.c.action == action)
                                              .order_by(audit_log.c.id)).mappings()]


def everything_stored(central, *besides: str) -> str:
    """Every row of every table (but `besides`) as text: what a dump of the database shows."""
    with central.db.read() as conn:
        names = [n for n in conn.dialect.get_table_names(conn) if n not in ("alembic_version", *besides)]
        return "\n".join(str(row) for name in names for row in conn.execute(text(f'SELECT * FROM "{name}"')))


def test_a_call_back_is_queued_taken_and_closed_and_its_number_kept_only_sealed(desk, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    booth = desk.booths[XC]
    request = booth.ask(call_back())
    queued = booth.heard(request, "queued")
    assert queued["mode"] == "call_back" and queued["escalate_after_s"] == 1 and queued["waited_s"] >= 0
    assert "outside_hours" not in queued  # no staff hours: always staffed
    row = row_of(desk, request)
    assert (row["device"], row["region"], row["item"], row["screen"], row["requested_mode"], row["mode"]) == (
        XC, "110102", "GA-001", "guide", "call_back", "call_back")
    assert row["site"] == "西城区政务服务中心 24小时自助区" and row["phone_sealed"] is not None
    with desk.db.read() as conn:
        payload = conn.execute(select(events.c.payload).where(events.c.id == request)).scalar_one()
    assert payload == {"item": "GA-001", "screen": "guide", "mode": "call_back", "session": payload["session"],
                       "site": row["site"]}  # the phone is not in the event
    assert PHONE not in everything_stored(desk)
    if desk.db.engine.dialect.name == "sqlite":  # the file's raw bytes, and its write-ahead log's
        for path in (Path(desk.db.engine.url.database), Path(f"{desk.db.engine.url.database}-wal")):
            assert PHONE.encode() not in path.read_bytes(), f"{path.name} holds the number in the clear"
    assert oct(desk.key.stat().st_mode & 0o777) == "0o600"

    viewer, wang, li, xc_li = (logged_in(desk.url, name) for name in ("viewer", "wang", "li", "xc-li"))
    shown = viewer.get("/api/assists")
    assert shown.status_code == 200 and PHONE not in shown.text
    listed = shown.json()
    assert listed["open_count"] == 1 and listed["escalate_after_s"] == 1 and listed["staffed_now"] is True
    item = listed["open"][0]
    assert (item["request"], item["device"], item["state"], item["has_phone"], item["item_name"]) == (
        request, XC, "open", True, "居民身份证到期换领")
    assert "phone" not in item and item["made_at"].startswith(time.strftime("%Y-"))
    assist_id = item["id"]

    assert viewer.get(f"/api/assists/{assist_id}/phone").status_code == 403
    assert xc_li.get(f"/api/assists/{assist_id}/phone").json() == {"phone": PHONE}
    assert [(a["actor"], a["target"]) for a in audit_of(desk, "assist_phone_viewed")] == [("xc-li", str(assist_id))]

    assert viewer.post(f"/api/assists/{assist_id}/take", json={}).status_code == 403
    no_token = httpx.Client(base_url=desk.url, cookies=wang.cookies).post(f"/api/assists/{assist_id}/take", json={})
    assert no_token.status_code == 403 and row_of(desk, request)["taken_at"] is None
    taken = wang.post(f"/api/assists/{assist_id}/take", json={"call_back_within_min": 30})
    assert taken.status_code == 200, taken.text
    assert (taken.json()["state"], taken.json()["taken_by"], taken.json()["taken_by_name"]) == ("taken", "wang", "王芳")
    answer = booth.heard(request, "taken")
    assert answer["operator"] == "王芳" and answer["call_back_within_min"] == 30
    assert li.post(f"/api/assists/{assist_id}/take", json={}).status_code == 409
    assert wang.post(f"/api/assists/{assist_id}/take", json={}).status_code == 200  # a double click: no change
    assert [a["actor"] for a in audit_of(desk, "assist_take")] == ["wang"]

    booth.ask(call_back(), event_id=request)  # the booth sends it again: it hears how it stands now
    wait_until(lambda: booth.states(request).count("taken") == 2)
    assert count(desk, select(func.count()).select_from(assists)) == 1

    bad = wang.post(f"/api/assists/{assist_id}/close", json={"outcome": "solved", "note": ""})
    assert bad.status_code == 422 and "called_back" in bad.json()["error"]
    assert wang.post(f"/api/assists/{assist_id}/close", json={"outcome": "called_back", "note": "x" * 501}
                     ).status_code == 422
    assert row_of(desk, request)["closed_at"] is None
    closed = wang.post(f"/api/assists/{assist_id}/close",
                       json={"outcome": "called_back", "note": f"已回电 {PHONE}，已告知所需材料"})
    assert closed.status_code == 200 and closed.json()["state"] == "closed" and PHONE not in closed.text
    assert booth.heard(request, "closed")["outcome"] == "called_back"
    assert wang.post(f"/api/assists/{assist_id}/close", json={"outcome": "no_answer"}).status_code == 409
    after = row_of(desk, request)
    assert after["phone_sealed"] is None and after["closed_by"] == "wang"
    assert after["note"] == "已回电 139****5678，已告知所需材料"  # the citizen's number, quoted, is masked
    assert wang.get(f"/api/assists/{assist_id}/phone").status_code == 404  # erased when it closed
    recent = viewer.get("/api/assists").json()
    assert recent["open"] == [] and [r["outcome"] for r in recent["recent"]] == ["called_back"]

    usage = viewer.get("/api/usage?days=1")
    counted = usage.json()["assists"]
    assert counted["total"]["requests"] == 1 and counted["total"]["taken"] == 1
    assert counted["total"]["outcomes"]["called_back"] == 1 and counted["per_item"][0]["item"] == "GA-001"
    assert counted["per_device"][0]["device"] == XC and counted["total"]["median_take_s"] is not None
    today = date.today().isoformat()
    exported = viewer.get(f"/api/export?start={today}&end={today}&format=csv&section=assists")
    assert exported.status_code == 200 and XC in exported.text and "已回电 Called back" in exported.text
    book = viewer.get(f"/api/export?start={today}&end={today}")
    with zipfile.ZipFile(BytesIO(book.content)) as xlsx:
        sheets = "".join(xlsx.read(n).decode("utf-8", "replace") for n in xlsx.namelist())
    assert "帮办代办" in sheets
    every_audit = json.dumps([audit_of(desk, a) for a in ("assist_take", "assist_close", "assist_phone_viewed")],
                             ensure_ascii=False)
    for said in (usage.text, exported.text, sheets, every_audit, everything_stored(desk),
                 *(record.getMessage() for record in caplog.records)):
        assert PHONE not in said
    assert caplog.records, "the log capture saw nothing: it proves nothing"


def test_a_booth_whose_clock_is_wrong_is_believed_on_how_long_it_held_the_request(desk) -> None:
    """The broker was down for 3 minutes and the booth's clock, never synchronised, is 2 days behind: the
    request was asked about 180 s before central received it (its `ts` minus its `created`, both from the
    same wrong clock), not when it arrived, and not 2 days ago. A synchronised booth's `created` is believed."""
    booth = desk.booths[DC]
    held = booth.ask(on_site(), age_s=180, clock_off_s=-2 * 86_400)
    fresh = booth.ask(on_site(), clock_off_s=-2 * 86_400)
    synced = booth.ask(on_site(), age_s=60)
    for request in (held, fresh, synced):
        booth.heard(request, "queued")
    listed = {a["request"]: a for a in logged_in(desk.url, "viewer").get("/api/assists").json()["open"]}
    assert 180 <= listed[held]["waited_s"] < 190
    assert listed[fresh]["waited_s"] < 10
    assert 60 <= listed[synced]["waited_s"] < 70
    row = row_of(desk, held)
    assert 179 <= row["received_at"] - row["made_at"] <= 181
    assert [a["request"] for a in listed.values()][:1] == [held]  # oldest first: the one the booth held


def test_the_time_a_request_was_asked_from_the_booths_stamps() -> None:
    def envelope(created: str, ts: str | None, created_synced: bool = False, synced: bool = False) -> dict:
        return {"created": created, "created_clock_synced": created_synced, "clock_synced": synced,
                **({"ts": ts} if ts is not None else {})}

    received = datetime.fromisoformat("2026-03-02T19:06:00+08:00").timestamp()
    wrong = "2026-01-01T07:00:00+08:00"  # the booth's clock, weeks behind
    assert asked_at(envelope(wrong, "2026-01-01T07:03:00+08:00"), received) == received - 180
    assert asked_at(envelope(wrong, "2026-01-01T06:59:00+08:00"), received) == received  # a negative age: none
    assert asked_at(envelope(wrong, "2026-02-01T07:00:00+08:00"), received) == received - 7 * 86_400  # at most
    assert asked_at(envelope(wrong, "2026-01-01T07:03:00+08:00", synced=True), received) == received  # a jump
    assert asked_at(envelope(wrong, None), received) == received
    assert asked_at(envelope(wrong, "not a time"), received) == received
    right = "2026-03-02T19:03:00+08:00"  # synchronised: the booth's own stamp
    assert asked_at(envelope(right, "2026-03-02T19:06:00+08:00", True, True), received) == received - 180


def test_the_recent_list_names_who_closed_a_request_nobody_took(desk) -> None:
    dc = desk.booths[DC]
    request = dc.ask(on_site())
    dc.heard(request, "queued")
    wang = logged_in(desk.url, "wang")
    assert wang.post(f"/api/assists/{row_of(desk, request)['id']}/close",
                     json={"outcome": "citizen_gone", "note": ""}).status_code == 200
    closed = next(a for a in wang.get("/api/assists").json()["recent"] if a["request"] == request)
    assert (closed["taken_by"], closed["taken_by_name"], closed["take_s"]) == (None, None, None)
    assert (closed["closed_by"], closed["closed_by_name"]) == ("wang", "王芳")


def test_regions_viewers_and_the_overview(desk) -> None:
    dc = desk.booths[DC]
    request = dc.ask(on_site())
    dc.heard(request, "queued")
    assist_id = row_of(desk, request)["id"]
    xc_li, li, viewer = (logged_in(desk.url, name) for name in ("xc-li", "li", "viewer"))
    assert xc_li.get("/api/assists").json()["open"] == []  # another region's request is not shown
    assert [i["id"] for i in li.get("/api/assists").json()["open"]] == [assist_id]
    assert xc_li.post(f"/api/assists/{assist_id}/take", json={}).status_code == 404
    assert xc_li.post(f"/api/assists/{assist_id}/close", json={"outcome": "citizen_gone"}).status_code == 404
    assert xc_li.get(f"/api/assists/{assist_id}/phone").status_code == 404
    assert li.get(f"/api/assists/{assist_id}/phone").status_code == 404  # an on-site request has no number
    assert xc_li.get("/api/fleet").json()["assists"]["open"] == 0
    assert viewer.get("/api/fleet").json()["assists"]["open"] == 1
    assert li.post("/api/assists/999999/take", json={}).status_code == 404
    taken = li.post(f"/api/assists/{assist_id}/take", json={"call_back_within_min": 30})
    assert taken.status_code == 200 and taken.json()["call_back_within_min"] is None  # on site: nobody calls
    answer = dc.heard(request, "taken")
    assert answer["operator"] == "li" and "call_back_within_min" not in answer  # no display name: the user name
    closed = li.post(f"/api/assists/{assist_id}/close", json={"outcome": "helped_on_site", "note": "已现场帮办"})
    assert closed.status_code == 200 and dc.heard(request, "closed")["operator"] == "li"
    assert viewer.get("/api/fleet").json()["assists"] == {"open": 0, "escalated": 0}
    lines = audit_of(desk, "assist_close")
    assert [(line["actor"], line["details"]["outcome"], line["details"]["note"]) for line in lines] == [
        ("li", "helped_on_site", "已现场帮办")]


def test_operators_taking_one_request_at_the_same_moment_get_one_yes_and_the_rest_a_clear_no(desk) -> None:
    """Four operators press 接单 at once, eight times over: each time one takes it and three hear 409
    (on SQLite too, where two transactions that both read before writing used to end in a 500)."""
    dc = desk.booths[DC]
    names = ("wang", "li", "admin", "op4")
    add_user(desk.db, "op4", "operator")
    clients = {name: logged_in(desk.url, name) for name in names}
    rounds = 8
    for _ in range(rounds):
        request = dc.ask(on_site())
        dc.heard(request, "queued")
        assist_id = row_of(desk, request)["id"]
        start = threading.Barrier(len(names))

        def take(name: str, assist_id: int = assist_id, start: threading.Barrier = start) -> int:
            start.wait()
            return clients[name].post(f"/api/assists/{assist_id}/take", json={}).status_code

        with ThreadPoolExecutor(len(names)) as pool:
            answers = list(pool.map(take, names))
        assert sorted(answers) == [200, 409, 409, 409], answers
        assert row_of(desk, request)["taken_by"] == names[answers.index(200)]
        assert dc.heard(request, "taken")["operator"]
    assert len(audit_of(desk, "assist_take")) == rounds


def test_nobody_takes_it_so_it_is_escalated_with_an_alert_that_taking_closes(desk) -> None:
    booth = desk.booths[XC]
    first, second = booth.ask(on_site("GA-001", "help")), booth.ask(call_back(None, "home"))
    for request in (first, second):
        escalated = booth.heard(request, "escalated", timeout=15)
        assert escalated["waited_s"] >= 1

    def desk_alerts() -> list[dict]:
        with desk.db.read() as conn:
            return [dict(r) for r in conn.execute(select(alerts).where(alerts.c.code == "assist_escalated")).mappings()]

    assert [(a["device"], a["source"], a["closed_at"]) for a in desk_alerts()] == [(XC, "desk", None)]
    viewer, wang = logged_in(desk.url, "viewer"), logged_in(desk.url, "wang")
    shown = viewer.get("/api/assists").json()
    assert shown["escalated_count"] == 2 and all(i["escalated"] for i in shown["open"])
    assert viewer.get("/api/fleet").json()["assists"] == {"open": 2, "escalated": 2}
    assert "central_assist_requests_escalated 2.0" in viewer.get("/metrics").text

    ids = {row_of(desk, r)["request"]: row_of(desk, r)["id"] for r in (first, second)}
    assert wang.post(f"/api/assists/{ids[first]}/take", json={}).status_code == 200
    assert desk_alerts()[0]["closed_at"] is None  # the second still waits
    assert wang.post(f"/api/assists/{ids[second]}/close", json={"outcome": "citizen_gone"}).status_code == 200
    assert desk_alerts()[0]["closed_at"] is not None and len(desk_alerts()) == 1
    assert viewer.get("/api/assists").json()["escalated_count"] == 0
    assert booth.states(first)[:2] == ["queued", "escalated"] and booth.states(first)[-1] == "taken"
    time.sleep(1.5)  # the sweep goes on: nothing is escalated twice
    assert booth.states(first).count("escalated") == 1 and len(desk_alerts()) == 1


def test_outside_staff_hours_a_request_becomes_a_call_back_escalated_only_once_staffed(broker, url, tmp_path) -> None:
    hours = "13:00-14:00" if datetime.now().hour < 12 else "01:00-02:00"  # now is outside them, whatever the day
    central = start_central(broker.port, url, personal_data_key=tmp_path / "pd.key", assist_escalation_s=1,
                            staff_hours=hours)
    central.intake.sweep_s = 0.2
    booth = Booth(broker.port, XC, "110102")
    try:
        request = booth.ask(on_site())
        queued = booth.heard(request, "queued")
        expected = next_staffed(time.time(), central.intake.settings.staff_hours)
        assert queued["mode"] == "call_back" and queued["outside_hours"] is True
        assert abs(datetime.fromisoformat(queued["staffed_from"]).timestamp() - expected) < 1
        row = row_of(central, request)
        assert (row["requested_mode"], row["mode"], row["outside_hours"]) == ("on_site", "call_back", True)
        time.sleep(2)  # past the escalation time, but the desk is not staffed: not escalated
        assert row_of(central, request)["escalated_at"] is None and booth.states(request) == ["queued"]
        add_user(central.db, "viewer", "viewer")
        shown = logged_in(central.url, "viewer").get("/api/assists").json()
        assert shown["staffed_now"] is False and shown["staff_hours"] == hours
        assert abs(datetime.fromisoformat(shown["staffed_from"]).timestamp() - expected) < 1
        with central.db.transaction() as conn:  # the staff hours have come (as they will, hours from now)
            conn.execute(update(assists).values(desk_from=time.time() - 1))
        assert booth.heard(request, "escalated", timeout=10)["mode"] == "call_back"
    finally:
        booth.close()
        central.stop()


def test_when_the_desk_is_staffed_next() -> None:
    hours = (clock(8, 30), clock(17, 30))
    friday, holiday_monday = date(2026, 12, 4), date(2026, 12, 7)

    def at(day: date, hour: int, minute: int = 0) -> float:
        return datetime(day.year, day.month, day.day, hour, minute).timestamp()

    assert next_staffed(at(friday, 9), hours) == at(friday, 9)
    assert next_staffed(at(friday, 8, 29), hours) == at(friday, 8, 30)
    assert next_staffed(at(friday, 17, 30), hours) == at(holiday_monday, 8, 30)  # the end is not staffed
    assert next_staffed(at(date(2026, 12, 5), 10), hours) == at(holiday_monday, 8, 30)  # a Saturday
    assert next_staffed(at(friday, 18), hours, {holiday_monday}) == at(date(2026, 12, 8), 8, 30)
    assert next_staffed(at(date(2026, 12, 5), 3), None) == at(date(2026, 12, 5), 3)  # no hours: always


def test_a_booth_from_before_issue_15_is_heard_and_bad_requests_become_dead_letters(desk, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    booth = desk.booths[XC]
    legacy = booth.ask({"item": None, "topic": f"请打我电话 {PHONE}", "session": new_ulid(), "site": "老网点"})
    queued = booth.heard(legacy, "queued")
    assert queued["mode"] == "on_site"
    row = row_of(desk, legacy)
    assert (row["screen"], row["mode"], row["item"], row["phone_sealed"]) == ("help", "on_site", None, None)
    with desk.db.read() as conn:
        payload = conn.execute(select(events.c.payload).where(events.c.id == legacy)).scalar_one()
    assert "topic" not in payload and payload["screen"] == "help"

    bad = [call_back(phone="12345"), {**call_back(), "mode": "on_site"}, {**on_site(), "phone": PHONE},
           {**call_back(), "phone": None}, {**on_site(), "screen": "Apply!"}, {**on_site(), "item": "X" * 33},
           {**on_site(), "mode": "walk_in"}, {key: v for key, v in call_back().items() if key != "screen"}]
    refused = [booth.ask(payload) for payload in bad]
    good = booth.ask(on_site())
    booth.heard(good, "queued")
    wait_until(lambda: count(desk, select(func.count()).select_from(dead_letters)) == len(bad))
    with desk.db.read() as conn:
        reasons = conn.execute(select(dead_letters.c.event, dead_letters.c.reason)).all()
        on_desk = set(conn.execute(select(assists.c.request)).scalars())
    assert {event for event, _ in reasons} == set(refused) and on_desk == {legacy, good}
    assert all(PHONE not in reason for _, reason in reasons)
    assert not any(booth.states(request) for request in refused)  # nothing was queued: the booth hears nothing
    assert all(PHONE not in record.getMessage() for record in caplog.records)
    assert PHONE not in everything_stored(desk, "dead_letters")  # whose raw bytes are kept, and erased on time


def test_the_key_file_seals_each_number_to_its_own_request(tmp_path: Path, capsys) -> None:
    seal = PhoneSeal(tmp_path / "personal-data.key")
    sealed = seal.seal(PHONE, XC, "01JD" + "0" * 22)
    assert PHONE.encode() not in sealed and oct((tmp_path / "personal-data.key").stat().st_mode & 0o777) == "0o600"
    assert PhoneSeal(tmp_path / "personal-data.key").open(sealed, XC, "01JD" + "0" * 22) == PHONE  # another instance
    with pytest.raises(SealError):
        seal.open(sealed, XC, "01JD" + "1" * 22)  # moved onto another request's row: refused
    (tmp_path / "short.key").write_bytes(b"too short")
    with pytest.raises(SettingsError, match=r"--personal-data-key .*short\.key"):
        PhoneSeal(tmp_path / "short.key").load()

    database = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    for flags, said in ((["--personal-data-key", str(tmp_path / "nowhere" / "k.key")], "--personal-data-key"),
                        (["--staff-hours", "17:30-08:30"], "--staff-hours takes HH:MM-HH:MM"),
                        (["--assist-escalation-s", "0"], "--assist-escalation-s takes 1 to")):
        code = cli.main(["central", "serve", "--database", database, "--http-port", "0", *flags])
        assert code == 2 and said in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_display_names_from_the_shell(tmp_path: Path, capsys, monkeypatch) -> None:
    database = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    monkeypatch.setenv("KIOSK_CENTRAL_PASSWORD", "a long enough password")
    assert cli.main(["central", "user", "add", "wang", "--role", "operator", "--display-name", "王芳",
                     "--database", database]) == 0
    assert cli.main(["central", "user", "add", "li", "--role", "operator", "--display-name", "x" * 33,
                     "--database", database]) == 2
    assert "at most 32" in capsys.readouterr().err
    assert cli.main(["central", "user", "set", "wang", "--display-name", "王芳（3号窗口）",
                     "--database", database]) == 0
    assert "shown to citizens as 王芳（3号窗口）" in capsys.readouterr().out
    assert cli.main(["central", "user", "list", "--database", database]) == 0
    assert "王芳（3号窗口）" in capsys.readouterr().out, "the list says what citizens will be shown"
    assert cli.main(["central", "user", "set", "wang", "--region", "1101", "--database", database]) == 2
    assert "give --role with --region" in capsys.readouterr().err
    from central.database import Database

    db = Database(database)
    with db.read() as conn:
        assert conn.execute(select(users.c.role, users.c.display_name)).all() == [("operator", "王芳（3号窗口）")]
    assert cli.main(["central", "user", "set", "wang", "--display-name", "", "--database", database]) == 0
    with db.read() as conn:
        assert conn.execute(select(users.c.display_name)).scalar_one() is None

