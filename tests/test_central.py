"""Central's intake against a real Mosquitto over TLS, with real booths (in-process kiosks) and raw
publishers standing in for misbehaving or faked ones; records in a real SQLite file."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from appliance.contract import (
    AssistMode,
    assist_answer_topic,
    encode,
    event_topic,
    heartbeat_topic,
    stamped,
    status_topic,
)
from appliance.state.ids import UlidGenerator
from central.database import Database
from central.intake import Intake
from central.settings import build_settings
from central.tables import assists, events, follow_ups, ratings, status_history
from tests.support import (
    TEST_ID_NUMBER,
    TEST_NAME,
    Mosquitto,
    kiosk_config,
    make_test_ca,
    place_card,
    set_printer,
    wait_until,
)


@pytest.fixture
def site(tmp_path: Path, database: str):
    """The production broker config (TLS, a certificate per booth, the ACL), a central on it, and a way
    to start booths and raw publishers, each with its own certificate."""
    tls = make_test_ca(tmp_path / "tls", "test-kiosk-0001")
    broker = Mosquitto(tmp_path / "broker", tls=tls, production=True).start()
    cert, key = tls.issue("central-1")
    settings = build_settings(broker_host="localhost", broker_port=broker.port, ca_file=tls.ca, cert_file=cert,
                              key_file=key, database=database, personal_data_key=tmp_path / "personal-data.key",
                              thresholds={"offline_after_min": 0.02, "heartbeat_interval_s": 1})
    central = Intake(settings, Database(database))
    central.start()
    wait_until(central.connected.is_set)
    started: list = []

    class Site:
        def __init__(self) -> None:
            self.broker, self.central, self.db, self.tls, self.settings = broker, central, central.db, tls, settings

        def booth(self, device: str = "test-kiosk-0001", **sections):
            from appliance.kiosk import Kiosk

            cert, key = tls.issue(device)
            tls_section = {"ca_file": str(tls.ca), "cert_file": str(cert), "key_file": str(key)}
            sections.setdefault("heartbeat", {"interval_s": 1})
            config = kiosk_config(tmp_path / f"state-{device}", broker.port, broker={"tls": tls_section}, **sections)
            kiosk = Kiosk(config.model_copy(update={"device": config.device.model_copy(update={"id": device})}))
            kiosk.start()
            started.append(kiosk)
            wait_until(lambda: kiosk.link.connected)
            return kiosk

        def publisher(self, device: str) -> mqtt.Client:
            """A raw client holding `device`'s certificate: it may publish only as that booth."""
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"raw-{device}", protocol=mqtt.MQTTv5)
            cert, key = tls.issue(device)
            client.tls_set(ca_certs=str(tls.ca), certfile=str(cert), keyfile=str(key))
            client.connect("localhost", broker.port)
            client.loop_start()
            started.append(client)
            return client

    yield Site()
    for thing in started:
        if isinstance(thing, mqtt.Client):
            thing.disconnect()
            thing.loop_stop()
        else:
            thing.stop()  # a kiosk stops once, however often asked
    central.stop()
    broker.stop()


new_ulid = UlidGenerator().new


def rows(db: Database, query) -> list[dict]:
    with db.read() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def envelope(device: str, seq: int, kind: str, payload: dict, event_id: str | None = None) -> bytes:
    body = {"id": event_id or new_ulid(), "seq": seq, "kind": kind, "created": "2026-11-23T10:00:00.000+08:00",
            "created_clock_synced": True, "boot": 1, "payload": payload}
    return encode(stamped(device, True, body))


def test_a_booths_day_is_recorded_once_with_cases_progress_and_follow_ups(site) -> None:
    booth = site.booth()
    db = site.db
    wait_until(lambda: any(r["status"] == "online" for r in rows(db, select(status_history))))
    place_card(booth)
    receipt = booth.submit_application("RS-002", {"reason": "遗失", "phone": "13800000000"})
    booth.rate("RS-002", 1, "排队太久", reasons=("排队等候时间长",), case_ref=receipt.case_ref)
    booth.rate("GA-001", 5)
    booth.request_assist("guide", AssistMode.CALL_BACK, "13800000001", "GA-001")
    wait_until(lambda: len(rows(db, select(events).where(events.c.kind != "usage"))) == 4, timeout=20)
    wait_until(lambda: booth.assist_status().code == "queued")  # central's answer, through the ACL
    assert [(a["item"], a["mode"], a["phone_sealed"] is not None) for a in rows(db, select(assists))] == [
        ("GA-001", "call_back", True)]
    assert "13800000001" not in str(rows(db, select(events.c.payload).where(events.c.kind == "assist")))

    with db.read() as conn:
        fleet = db.fleet(conn)
        progress = db.progress(conn, receipt.case_ref)
    assert [(d["id"], d["site"], d["region"], d["status"]) for d in fleet] == [
        ("test-kiosk-0001", booth.config.device.site, booth.config.device.region, "online")]
    assert progress["status"] == "已受理" and progress["case_no"].startswith(time.strftime("%Y"))

    answer = booth.query_progress(receipt.case_ref, timeout_s=5)  # the citizen asks at the booth
    assert answer["found"] and answer["status"] == "已受理" and progress["case_no"] in answer["note"]
    unknown = booth.query_progress(new_ulid(), timeout_s=5)
    assert unknown["found"] is False
    moved = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "case", progress["case_no"], "已办结",
                            "--note", "请到一楼3号窗口领取", "--database", site.settings.database],
                           capture_output=True, text=True, timeout=60)
    assert moved.returncode == 0, moved.stderr
    answer = booth.query_progress(receipt.case_ref, timeout_s=5)
    assert answer["status"] == "已办结" and answer["note"].endswith("请到一楼3号窗口领取")

    levels = sorted(r["level"] for r in rows(db, select(ratings)))
    assert levels == [1, 5]
    follow = rows(db, select(follow_ups))
    assert len(follow) == 1 and follow[0]["closed_at"] is None  # only the lowest level opened one
    with db.transaction() as conn:
        assert db.close_follow_up(conn, follow[0]["id"], "operator 7", "called back", time.time())
        assert not db.close_follow_up(conn, follow[0]["id"], "operator 7", "again", time.time())
    wait_until(lambda: rows(db, select(ratings).where(ratings.c.level == 1))[0]["case_ref"] == receipt.case_ref)


def test_redelivered_events_count_once_and_seq_gaps_show(site) -> None:
    device = "test-kiosk-0042"
    raw = site.publisher(device)
    twice = new_ulid()
    for seq, event_id in [(1, twice), (1, twice), (2, None), (5, None), (6, None), (9, None)]:
        raw.publish(event_topic(device, "assist"), envelope(device, seq, "assist", {"item": None, "topic": "x"},
                                                             event_id), qos=1)
    wait_until(lambda: site.central.counts["event_assist"] + site.central.counts["duplicate"] == 6)
    assert site.central.counts["duplicate"] == 1
    with site.db.read() as conn:
        assert site.db.seq_gaps(conn, device) == [(3, 4), (7, 8)]
    raw.publish(event_topic(device, "assist"), envelope(device, 3, "assist", {"item": None, "topic": "late"}), qos=1)
    wait_until(lambda: site.central.counts["event_assist"] == 6)
    with site.db.read() as conn:
        assert site.db.seq_gaps(conn, device) == [(4, 4), (7, 8)]  # a late arrival fills its place


def test_assist_answers_reach_their_own_booth_only(site) -> None:
    """Through the production broker's ACL: central answers a booth's call for help on that booth's
    assist/answer topic, which no other booth can read."""
    asking, other = "test-kiosk-0048", "test-kiosk-0049"
    heard: dict[str, list[dict]] = {asking: [], other: []}
    clients = {}
    for device in (asking, other):
        client = site.publisher(device)
        client.on_message = lambda _c, _u, message, d=device: heard[d].append(json.loads(message.payload))
        client.subscribe(assist_answer_topic(asking), qos=1)  # the other booth tries to listen in
        clients[device] = client
    time.sleep(0.5)  # the subscriptions are in place (the refused one is answered with a failure code)
    payload = {"item": "GA-001", "screen": "guide", "mode": "call_back", "phone": "13912345678", "session": "s",
               "site": "A"}
    request = new_ulid()
    clients[asking].publish(event_topic(asking, "assist"), envelope(asking, 1, "assist", payload, request), qos=1)
    wait_until(lambda: [a["state"] for a in heard[asking]] == ["queued"])
    assert heard[asking][0]["request"] == request and heard[asking][0]["mode"] == "call_back"
    time.sleep(0.5)
    assert heard[other] == []


def test_a_stale_will_does_not_mark_a_living_booth_offline(site) -> None:
    device = "test-kiosk-0043"
    raw = site.publisher(device)
    birth = {"status": "online", "boot": 7, "software": "1", "site": "A", "region": "110101"}
    raw.publish(status_topic(device), encode(stamped(device, True, birth)), qos=1)
    wait_until(lambda: site.central.counts["status"] == 1)
    old_will = {**birth, "status": "offline", "boot": 6, "reason": "connection_lost"}
    raw.publish(status_topic(device), encode(stamped(device, True, old_will)), qos=1)
    wait_until(lambda: site.central.counts["stale_will"] == 1)
    with site.db.read() as conn:
        assert [d["status"] for d in site.db.fleet(conn)] == ["online"]
    history = rows(site.db, select(status_history).order_by(status_history.c.id))
    assert [(h["status"], h["boot"], h["stale"]) for h in history] == [("online", 7, False), ("offline", 6, True)]


def test_malformed_messages_are_refused_and_change_nothing(site) -> None:
    device = "test-kiosk-0044"
    raw = site.publisher(device)
    good = envelope(device, 1, "rating", {"item": "GA-001", "level": 3})
    bad = [
        (event_topic(device, "rating"), b"\xff\xfe not json"),
        (event_topic(device, "rating"), b"[1, 2]"),
        (event_topic(device, "rating"), envelope("someone-else", 1, "rating", {"item": "GA-001", "level": 3})),
        (event_topic(device, "rating"), envelope(device, 1, "rating", {"item": "GA-001", "level": 9})),
        (event_topic(device, "rating"), envelope(device, 0, "rating", {"item": "GA-001", "level": 3})),
        (event_topic(device, "assist"), good),  # the kind in the topic and the envelope disagree
        (heartbeat_topic(device), encode(stamped(device, True, {"boot": "one"}))),
        (status_topic(device), encode(stamped(device, True, {"status": "sleeping", "boot": 1}))),
    ]  # another booth's topic never gets this far: the broker's ACL drops it (test_broker_config.py)
    for topic, payload in bad:
        raw.publish(topic, payload, qos=1)
    raw.publish(event_topic(device, "rating"), good, qos=1)  # and the intake still works after them
    wait_until(lambda: site.central.counts["event_rating"] == 1)
    wait_until(lambda: site.central.counts["rejected"] == len(bad))
    assert [r["level"] for r in rows(site.db, select(ratings))] == [3]


def test_alerts_open_and_close_by_themselves(site) -> None:
    booth = site.booth()
    db = site.db

    def open_codes() -> set[str]:  # the clock's alert depends on this machine's NTP: checked apart
        with db.read() as conn:
            return {a["code"] for a in db.open_alerts(conn, booth.device_id)} - {"clock_unsynced"}

    wait_until(lambda: site.central.counts["heartbeat"] >= 1, timeout=10)
    wait_until(lambda: open_codes() == set(), timeout=10)
    with db.read() as conn:
        synced = db.fleet(conn)[0]["heartbeat"]["clock_synced"]
        assert any(a["code"] == "clock_unsynced" for a in db.open_alerts(conn)) is not synced
    set_printer(booth, "paper_end")
    wait_until(lambda: "printer_paper_end" in open_codes(), timeout=10)
    set_printer(booth, "paper_near_end")
    wait_until(lambda: open_codes() == {"printer_paper_near_end"}, timeout=10)
    set_printer(booth, None)
    wait_until(lambda: open_codes() == set(), timeout=10)

    booth.stop()  # a clean stop says offline; after offline_after_min (1.2 s here) it is an alert
    wait_until(lambda: "offline" in open_codes(), timeout=15)
    booth = site.booth()
    wait_until(lambda: open_codes() == set(), timeout=15)
    with db.read() as conn:
        closed = [a for a in conn.execute(select(db_alerts())).mappings() if a["closed_at"] is not None]
    assert {a["code"] for a in closed} >= {"printer_paper_end", "printer_paper_near_end", "offline"}


def db_alerts():
    from central.tables import alerts

    return alerts


def test_an_overdue_heartbeat_and_a_pin_lockout_are_alerts_until_they_clear(site) -> None:
    device = "test-kiosk-0045"
    raw = site.publisher(device)
    beat = {"boot": 1, "drivers": {"printer": {"state": "ok", "reason": "ok"}},
            "outbox": {"depth": 0, "oldest_age_s": None}, "system": {"disk_free_mb": 9000}}
    birth = {"status": "online", "boot": 1, "software": "1", "site": "B", "region": "110101"}
    raw.publish(status_topic(device), encode(stamped(device, True, birth)), qos=1)
    raw.publish(heartbeat_topic(device), encode(stamped(device, False, beat)), qos=1)

    def open_codes() -> set[str]:
        with site.db.read() as conn:
            return {a["code"] for a in site.db.open_alerts(conn, device)}

    wait_until(lambda: open_codes() == {"clock_unsynced"})
    wait_until(lambda: "heartbeat_overdue" in open_codes(), timeout=15)  # 2 intervals of 1 s pass
    troubled = {**beat, "drivers": {"printer": {"state": "fault", "reason": "cover_open"},
                                    "card_reader": {"state": "absent", "reason": "port_missing"}},
                "outbox": {"depth": 900, "oldest_age_s": 7200}, "system": {"disk_free_mb": 120}}
    raw.publish(heartbeat_topic(device), encode(stamped(device, True, troubled)), qos=1)
    wait_until(lambda: open_codes() == {"printer_cover_open", "card_reader_port_missing", "outbox_backlog",
                                        "disk_low"})
    raw.publish(heartbeat_topic(device), encode(stamped(device, True, beat)), qos=1)
    wait_until(lambda: open_codes() == set())
    until = time.time() + 3
    lockout = {"code": "admin_pin_lockout", "severity": "warning", "message": "5 wrong PINs",
               "details": {"until": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(until))}}
    raw.publish(event_topic(device, "alert"), envelope(device, 1, "alert", lockout), qos=1)
    raw.publish(heartbeat_topic(device), encode(stamped(device, True, beat)), qos=1)
    wait_until(lambda: "admin_pin_lockout" in open_codes())
    wait_until(lambda: "admin_pin_lockout" not in open_codes(), timeout=15)
    assert time.time() >= until - 1


def latest_beat(db: Database, device: str) -> dict:
    with db.read() as conn:
        return (db.fleet(conn, device) or [{}])[0].get("heartbeat") or {}


def fleet_row(db: Database, device: str) -> dict:
    from central.fleet import fleet_rows

    with db.read() as conn:
        return (fleet_rows(db, conn, time.time(), device) or [{}])[0]


def test_a_booths_heartbeat_is_made_whole_from_the_facts_of_its_birth(site) -> None:
    """A heartbeat leaves out the booth's facts, ok drivers, zeros and nulls; central holds the facts from the
    birth and lays each heartbeat over them: its latest heartbeat is the booth's whole snapshot again."""
    booth = site.booth(heartbeat={"interval_s": 3600})  # the heartbeat at the connect, then when the test says
    device = booth.device_id
    wait_until(lambda: all(h.state.value == "ok" for h in booth.driver_health().values()), timeout=10)
    booth.publish_heartbeat()
    wait_until(lambda: latest_beat(site.db, device).get("drivers", {}).get("printer") == {"state": "ok",
                                                                                          "reason": "ok"}, timeout=10)
    whole, snapshot = latest_beat(site.db, device), booth.health_snapshot()
    assert "fitted" not in whole and "catalog_version" in whole and whole["facts_stale"] is False
    assert set(whole) >= set(snapshot)
    for key in ("software", "catalog_version", "update", "mode", "leds", "drivers", "boot"):
        assert whole[key] == snapshot[key], key
    assert whole["outbox"] == {**snapshot["outbox"], "oldest_age_s": None, "oldest_unconfirmed_age_s": None}
    assert whole["link"] == {**snapshot["link"], "connected": True}
    assert set(whole["system"]) == set(snapshot["system"])
    assert whole["system"]["pi"] == snapshot["system"]["pi"]
    assert whole["system"]["disk_total_mb"] == snapshot["system"]["disk_total_mb"]
    counted = {key: value for key, value in snapshot["counters"].items() if value and key != "heartbeats"}
    assert {key: value for key, value in whole["counters"].items() if key != "heartbeats"} == counted  # 0: left out
    row = fleet_row(site.db, device)
    assert (row["site"], row["region"], row["software"]) == ("测试网点 自助服务区", "370203", snapshot["software"])
    assert (row["printer"], row["card_reader"], row["outbox"], row["unconfirmed"]) == ("ok", "ok", 0, 0)


def test_a_central_that_missed_heartbeats_ends_up_with_the_booths_facts(site, tmp_path: Path) -> None:
    """Heartbeats are QoS 0: the ones that carry a change of the booth's facts can be lost while central is
    away. `facts_rev` tells central that what it holds is behind, and every tenth heartbeat carries every
    fact; a central that starts afresh has the retained birth's at once. Counted in central's database."""
    from appliance.monitor.heartbeat import FACTS_REPEATS, FULL_EVERY

    booth = site.booth(heartbeat={"interval_s": 3600})  # heartbeats when the test says
    device = booth.device_id

    def recorded(intake: Intake) -> Callable[[], bool]:
        def one_more() -> bool:  # QoS 0: a heartbeat before an intake's subscription is lost, so try again
            counted = intake.counts["heartbeat"]
            booth.publish_heartbeat()
            deadline = time.monotonic() + 2
            while intake.counts["heartbeat"] <= counted and time.monotonic() < deadline:
                time.sleep(0.05)
            return intake.counts["heartbeat"] > counted
        return one_more

    def catch_up(intake: Intake, db: Database) -> int:
        """Heartbeats until central holds the booth's latest facts again; how many it took."""
        for sent in range(1, FULL_EVERY + 1):
            wait_until(recorded(intake), timeout=20)
            if not latest_beat(db, device)["facts_stale"]:
                return sent
        raise AssertionError(f"central still behind after {FULL_EVERY} heartbeats")

    wait_until(recorded(site.central), timeout=20)
    known = latest_beat(site.db, device)
    assert known["facts_stale"] is False and known["catalog_version"] == booth.catalog.version

    # A rare fact changes while central is away: the heartbeats that carry the change are lost.
    site.central.stop()
    before = booth.catalog.version
    booth.catalog.install(booth.catalog.current.model_copy(update={"version": "2026.12-9"}))
    for _ in range(FACTS_REPEATS):
        booth.publish_heartbeat()
    back = Intake(site.settings, Database(site.settings.database))  # the same central: its session resumes
    fresh = None
    back.start()
    try:
        wait_until(recorded(back), timeout=20)
        behind = latest_beat(site.db, device)
        assert behind["facts_stale"] is True and behind["catalog_version"] == before  # the last it heard
        assert 1 <= catch_up(back, site.db) <= FULL_EVERY - 1
        assert latest_beat(site.db, device)["catalog_version"] == "2026.12-9"
        with site.db.read() as conn:
            assert site.db.device(conn, device)["facts"]["rare"]["said"]["catalog_version"] == "2026.12-9"

        # A central that starts afresh (its own database): the retained birth gives it the fixed facts at
        # once; the rare ones in it are older than the booth's, which it knows until the booth repeats them.
        cert, key = site.tls.issue("central-2")
        settings = site.settings.model_copy(update={
            "client_id": "central-2", "cert_file": cert, "key_file": key, "share_group": "fresh",
            "database": f"sqlite:///{tmp_path / 'fresh.sqlite3'}"})
        fresh = Intake(settings, Database(settings.database))
        fresh.start()
        wait_until(lambda: fresh.counts["status"] >= 1, timeout=20)
        wait_until(recorded(fresh), timeout=20)
        row, first = fleet_row(fresh.db, device), latest_beat(fresh.db, device)
        assert (row["site"], row["region"], row["printer"], row["card_reader"]) == ("测试网点 自助服务区", "370203",
                                                                                   "ok", "ok")
        assert row["software"] == booth.health_snapshot()["software"]
        assert first["facts_stale"] is True and first["catalog_version"] == before
        assert catch_up(fresh, fresh.db) <= FULL_EVERY
        assert latest_beat(fresh.db, device)["catalog_version"] == "2026.12-9"
    finally:
        back.stop()
        if fresh is not None:
            fresh.stop()


def test_commands_reach_one_booth_or_a_region_and_their_results_come_back(site) -> None:
    first = site.booth("test-kiosk-0001")
    second = site.booth("test-kiosk-0002")
    wait_until(lambda: site.central.counts["status"] >= 2)
    sent = site.central.send_command([first.device_id], "ping")

    def answered(request_id: str):
        with site.db.read() as conn:
            command = site.db.command(conn, request_id)
        return command if command["answered_at"] else None

    result = wait_until(lambda: answered(sent[first.device_id]))
    assert result["ok"] is True
    from central.fleet import devices_in

    with site.db.read() as conn:
        region = devices_in(conn, first.config.device.region)
    assert region == ["test-kiosk-0001", "test-kiosk-0002"]
    group = site.central.send_command(region, "maintenance", {"on": "yes"})  # bad args: each booth says so
    for device in region:
        outcome = wait_until(lambda d=device: answered(group[d]))
        assert outcome["ok"] is False and outcome["result"]["code"] == "bad_args"
    assert second.link.connected


def test_central_restarting_loses_nothing_the_booths_sent_meanwhile(site, tmp_path: Path) -> None:
    device = "test-kiosk-0046"
    raw = site.publisher(device)
    site.central.stop()
    for seq in range(1, 51):
        raw.publish(event_topic(device, "assist"), envelope(device, seq, "assist", {"item": None, "topic": "x"}),
                    qos=1)
    time.sleep(1)
    again = Intake(site.settings, site.db)
    again.start()
    try:
        wait_until(lambda: again.counts["event_assist"] == 50, timeout=20)
        with site.db.read() as conn:
            assert site.db.seq_gaps(conn, device) == []
    finally:
        again.stop()
        site.central = again  # the fixture stops it again harmlessly


def test_operator_cli_lists_the_fleet_and_sends_a_command(site) -> None:
    booth = site.booth()
    wait_until(lambda: site.central.counts["heartbeat"] >= 1, timeout=10)
    common = ["--database", site.settings.database]
    shown = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "devices", *common],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    header, line = (re.split(r"\s{2,}", text) for text in shown.stdout.splitlines()[:2])
    assert header[:4] == ["device", "region", "site", "state"]
    with site.db.read() as conn:  # this machine's clock may not be NTP-synchronised: a true alert then
        state = "degraded" if site.db.open_alerts(conn) else "ok"
    assert line[:4] == [booth.device_id, booth.config.device.region, booth.config.device.site, state]
    broker = ["--broker-host", "localhost", "--broker-port", str(site.broker.port), "--ca-file", str(site.tls.ca)]
    no_cert = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "send", booth.device_id, "ping",
                              *broker, *common], capture_output=True, text=True, timeout=60)
    assert no_cert.returncode == 2 and "did not accept us" in no_cert.stderr
    cli_cert, cli_key = site.tls.issue("central-cli")  # its own: central's would take over central's session
    broker += ["--cert-file", str(cli_cert), "--key-file", str(cli_key)]
    sent = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "send", booth.device_id, "ping",
                           *broker, "--wait", "15", *common],
                          capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    assert f"{booth.device_id}: ok" in sent.stdout
    wrong = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "send", booth.device_id, "format-disk",
                            *broker, *common], capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "unknown command 'format-disk'" in wrong.stderr
    nowhere = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "devices", "--database",
                              "sqlite:////nonexistent/dir/central.sqlite3"], capture_output=True, text=True, timeout=60)
    assert nowhere.returncode == 2 and nowhere.stderr.startswith("kiosk central: no database at /nonexistent/dir")
    assert not Path("/nonexistent").exists(), "a mistyped path is not made into a new, empty database"
    unreachable = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "serve", "--database",
                                  "sqlite:////nonexistent/dir/central.sqlite3", "--http-port", "0"],
                                 capture_output=True, text=True, timeout=60)
    assert unreachable.returncode == 2 and "cannot open the database" in unreachable.stderr
    bad_limit = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "serve", "--offline-after-min", "-1",
                                "--heartbeat-interval-s", "30", *common], capture_output=True, text=True, timeout=60)
    assert bad_limit.returncode == 2 and "thresholds.offline_after_min = -1.0" in bad_limit.stderr
    assert TEST_NAME not in shown.stdout + sent.stdout and TEST_ID_NUMBER not in shown.stdout


def test_a_command_waits_for_an_offline_booth_until_it_expires(site) -> None:
    booth = site.booth()
    booth.stop()  # its session stays on the broker: commands for it are kept, unless they expire
    wait_until(lambda: site.central.counts["status"] >= 2)
    short = site.central.send_command([booth.device_id], "ping", expires_in_s=1)[booth.device_id]
    long = site.central.send_command([booth.device_id], "status", expires_in_s=600)[booth.device_id]
    time.sleep(2.5)
    site.booth()

    def answered(request_id: str) -> bool:
        with site.db.read() as conn:
            return site.db.command(conn, request_id)["answered_at"] is not None

    wait_until(lambda: answered(long), timeout=20)
    time.sleep(2)
    assert not answered(short)  # the broker dropped it at its expiry; the booth never ran it


def test_heartbeats_are_kept_for_the_retention_period(site) -> None:
    from central.tables import heartbeats

    device = "test-kiosk-0047"
    beat = {"boot": 1, "drivers": {}}
    old, recent = time.time() - 31 * 86_400, time.time() - 29 * 86_400
    with site.db.transaction() as conn:
        site.db.record_heartbeats(conn, [(device, beat, old), (device, beat, recent)])
    wait_until(lambda: [round(r["received_at"]) for r in rows(site.db, select(heartbeats))] == [round(recent)],
               timeout=15)  # the intake's sweep (every 5 s) prunes past the default 30 days
