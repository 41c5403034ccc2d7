"""Receipt numbers end to end (issue 18, point 2): real booths with their simulated card reader, printer and
scanner → the production Mosquitto (TLS, a certificate per booth, the ACL) → central's intake and database
(SQLite and PostgreSQL). A citizen files at one booth; the number printed on the receipt (decoded from the
printer simulator's bytes, its QR read back from the paper's PNG) finds the case by the number, by the QR held
under the scanner, and by the ID card placed again — at another booth too; central answers only that citizen's
cases, with nothing beyond what the receipt shows, and never sees the ID number for a lookup."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import zxingcpp
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image
from sqlalchemy import select

from appliance.contract import encode, event_topic, stamped
from appliance.events import CardRemoved, Scanned
from appliance.receipt_numbers import grouped, valid
from appliance.services.errors import CitizenError
from appliance.state.ids import UlidGenerator
from central import receipts
from central.accounts import User
from central.backoffice import CaseSearch, case_detail, find_cases
from central.catalogue_names import CatalogueNames
from central.database import Database
from central.intake import Intake
from central.retention import erase_expired
from central.settings import build_settings
from central.tables import alerts, dead_letters, receipt_numbers
from drivers.card_reader_pty_sim import TEST_CITIZENS
from tests.support import Mosquitto, kiosk_config, make_test_ca, wait_until
from tests.test_contract import validator

LOSS_REPORT = {"reason": "遗失", "phone": "13800000000"}


@pytest.fixture
def site(tmp_path: Path, database: str):
    """The production broker, central on it, booths (each with its own certificate, booth code and UI events)
    and a listener holding central-2's certificate (it may read what booths send central)."""
    tls = make_test_ca(tmp_path / "tls", "test-kiosk-0001")
    broker = Mosquitto(tmp_path / "broker", tls=tls, production=True).start()
    cert, key = tls.issue("central-1")
    settings = build_settings(broker_host="localhost", broker_port=broker.port, ca_file=tls.ca, cert_file=cert,
                              key_file=key, database=database, personal_data_key=tmp_path / "personal-data.key")
    central = Intake(settings, Database(database))
    central.start()
    wait_until(central.connected.is_set)
    started: list = []

    class Site:
        def __init__(self) -> None:
            self.central, self.db, self.settings = central, central.db, settings
            self.requests: list[dict] = []

        def booth(self, device: str, booth_code: str | None):
            from appliance.kiosk import Kiosk

            cert, key = tls.issue(device)
            heard: list = []
            config = kiosk_config(tmp_path / f"state-{device}", broker.port, broker={"tls": {
                "ca_file": str(tls.ca), "cert_file": str(cert), "key_file": str(key)}},
                device={"id": device, "booth_code": booth_code})
            kiosk = Kiosk(config, notify=heard.append)
            kiosk.start()
            kiosk.heard = heard
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

        def listen(self) -> None:
            """What booths ask central, as central-2 may read it."""
            cert, key = tls.issue("central-2")
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="central-2", protocol=mqtt.MQTTv5)
            client.tls_set(ca_certs=str(tls.ca), certfile=str(cert), keyfile=str(key))
            client.on_message = lambda _c, _u, message: self.requests.append(json.loads(message.payload))
            client.connect("localhost", broker.port)
            client.subscribe("kiosk/v1/+/progress/request", qos=1)
            client.loop_start()
            started.append(client)
            time.sleep(0.5)

    yield Site()
    for thing in started:
        if isinstance(thing, mqtt.Client):
            thing.disconnect()
            thing.loop_stop()
        else:
            thing.stop()
    central.stop()
    broker.stop()


def place(kiosk, citizen) -> None:
    kiosk.hardware.card_reader_sim.place(citizen)
    wait_until(lambda: kiosk.session is not None and kiosk.session.card is not None
               and kiosk.session.card.id_number == citizen.id_number, timeout=5)


def leave(kiosk) -> None:
    """The citizen takes their card and goes: the reader has seen the card leave before the next one comes."""
    heard = getattr(kiosk, "heard", None)
    before = None if heard is None else sum(isinstance(e, CardRemoved) for e in heard)
    kiosk.hardware.card_reader_sim.remove()
    if heard is None:
        time.sleep(0.5)
    else:
        wait_until(lambda: sum(isinstance(e, CardRemoved) for e in heard) > before, timeout=5)
    kiosk.end_session("finish")


def file_at(kiosk, citizen, code: str = "RS-002"):
    place(kiosk, citizen)
    receipt = kiosk.submit_application(code, LOSS_REPORT if code == "RS-002" else {"kind": "户籍信息证明"})
    leave(kiosk)
    return receipt


def printed_number(kiosk) -> tuple[str, list[str]]:
    """The receipt number as the paper shows it (the line after 受理编号, decoded from the printer's bytes) and
    what the QR code on the paper's picture says (read back with zxing-cpp, as a phone or a scanner would)."""
    paper = kiosk.hardware.printer_sim.receipts[-1]
    lines = [line.strip() for line in paper.lines]
    shown = lines[lines.index("受理编号") + 1]
    return shown, [result.text for result in zxingcpp.read_barcodes(Image.open(paper.png))]


def test_a_citizen_finds_their_case_by_number_qr_and_card_at_any_booth(site) -> None:
    site.listen()
    booth_a, booth_b = site.booth("test-kiosk-0001", "01234"), site.booth("test-kiosk-0002", "01235")
    citizen, neighbour = TEST_CITIZENS[0], TEST_CITIZENS[1]
    receipt = file_at(booth_a, citizen)
    assert valid(receipt.number) and receipt.number[6:11] == "01234" and receipt.printed
    shown, qr = printed_number(booth_a)
    assert shown == grouped(receipt.number) == receipt.number_shown, "printed large, in groups of four"
    assert qr == [receipt.number], "the receipt's QR code carries the number"
    theirs = file_at(booth_b, neighbour, "GA-010")  # another citizen files at another booth
    wait_until(lambda: _rows(site.db, select(receipt_numbers)).__len__() == 2, timeout=20)

    answer = booth_b.query_progress(shown, timeout_s=5)  # keyed in at another booth, spaces and all
    assert answer["found"] and answer["status"] == "已受理" and answer["item"] == "RS-002"
    assert answer["note"].startswith("办件编号 ") and answer["number"] == receipt.number

    booth_a.hardware.scanner_sim.scan(qr[0])  # the receipt held under the scanner
    scanned = wait_until(lambda: next((e for e in booth_a.heard if isinstance(e, Scanned)), None), timeout=5)
    by_qr = booth_a.query_progress(scanned.text, timeout_s=5)
    assert by_qr["found"] and by_qr["number"] == receipt.number and by_qr["status"] == "已受理"
    booth_a.end_session("finish")

    mistyped = receipt.number[:5] + receipt.number[6] + receipt.number[5] + receipt.number[7:]
    if mistyped != receipt.number:  # two neighbours swapped: caught at the booth, central is not asked
        asked = len(site.requests)
        with pytest.raises(CitizenError) as refused:
            booth_b.query_progress(mistyped, timeout_s=5)
        assert refused.value.code == "number_mistyped" and len(site.requests) == asked

    place(booth_b, citizen)  # the citizen's own card, placed again at the other booth
    mine = booth_b.query_progress_by_card(timeout_s=5)
    leave(booth_b)
    assert mine["found"] and [c["number"] for c in mine["cases"]] == [receipt.number]
    [case] = mine["cases"]
    assert (case["item"], case["status"], case["kind"]) == ("RS-002", "已受理", "submission")
    place(booth_a, neighbour)
    other = booth_a.query_progress_by_card(timeout_s=5)
    leave(booth_a)
    assert [c["number"] for c in other["cases"]] == [theirs.number], "only that citizen's own cases"

    said = json.dumps(site.requests, ensure_ascii=False) + json.dumps([mine, other], ensure_ascii=False)
    for secret in (citizen.id_number, neighbour.id_number, citizen.name, neighbour.name, citizen.id_number[-8:],
                   "13800000000"):
        assert secret not in said, "no ID number, name or phone in a lookup, nor in central's answer"
    holders = [r["holder"] for r in site.requests if "holder" in r]
    assert len(holders) == 2 and len(set(holders)) == 2 and all(len(h) == 64 for h in holders)
    assert sum("want" in r for r in site.requests) == 2, "each booth asked for the key once"
    allowed = {"number", "kind", "filed", "item", "status", "updated", "note", "case_no", "filed_at"}
    assert set(case) <= allowed, set(case) - allowed
    for request in site.requests:  # the contract, on what really travelled
        assert not list(validator("ProgressRequest").iter_errors(request)), request
    assert not list(validator("ProgressAnswer").iter_errors(answer)) and not list(
        validator("ProgressAnswer").iter_errors(by_qr))
    with site.db.read() as conn:
        for holder in holders:
            [found] = receipts.by_holder(conn, holder)
            assert not list(validator("ProgressCase").iter_errors(found)), found

    case_no = answer["case_no"]
    operator, names = User("li", "operator", ()), CatalogueNames()  # 12345's operator, told the number on the phone
    with site.db.transaction() as conn:
        [listed] = find_cases(conn, operator, names, CaseSearch(text=shown))
        opened = case_detail(conn, operator, names, receipt.number, "127.0.0.1")
    assert listed["case_no"] == case_no and listed["number"] == receipt.number
    assert opened["case_no"] == case_no and opened["applicant"]["name"] == citizen.name
    moved = subprocess.run([sys.executable, "-m", "appliance.cli", "central", "case", case_no, "已办结",
                            "--note", "请到一楼3号窗口领取", "--database", site.settings.database],
                           capture_output=True, text=True, timeout=60)
    assert moved.returncode == 0, moved.stderr
    assert booth_b.query_progress(receipt.number, timeout_s=5)["status"] == "已办结"
    place(booth_a, citizen)
    again = booth_a.query_progress_by_card(timeout_s=5)
    leave(booth_a)
    assert again["cases"][0]["status"] == "已办结" and again["cases"][0]["note"].endswith("请到一楼3号窗口领取")

    with site.db.transaction() as conn:  # the case closed long ago: its personal data, and the digest, go
        erase_expired(site.db, conn, time.time() + 400 * 86_400, 180)
    place(booth_b, citizen)
    forgotten = booth_b.query_progress_by_card(timeout_s=5)  # central knows nothing of this card now
    leave(booth_b)
    assert forgotten == {"found": False, "source": "central", "cases": []}
    assert _rows(site.db, select(receipt_numbers.c.holder).where(receipt_numbers.c.device == "test-kiosk-0001")) == [
        {"holder": None}]
    assert booth_b.query_progress(receipt.number, timeout_s=5)["found"], "the number still finds the case"


def test_an_appointment_has_a_number_too_and_the_card_finds_it(site) -> None:
    from datetime import date

    booth = site.booth("test-kiosk-0001", "01234")
    place(booth, TEST_CITIZENS[0])
    day = booth.bookable_days()[0]
    slip = booth.book_appointment("GA-001", day, "pm")
    leave(booth)
    paper = [line.strip() for line in booth.hardware.printer_sim.receipts[-1].lines]
    assert paper[paper.index("预约编号") + 1] == slip.number_shown and valid(slip.number)
    wait_until(lambda: _rows(site.db, select(receipt_numbers)), timeout=20)
    answer = booth.query_progress(slip.number, timeout_s=5)
    assert answer["found"] and answer["status"] == "已预约" and answer["day"] == day.isoformat()
    assert answer["note"] == f"{day.isoformat()} 下午" and answer["kind"] == "appointment"
    place(booth, TEST_CITIZENS[0])
    mine = booth.query_progress_by_card(timeout_s=5)
    assert [c["number"] for c in mine["cases"]] == [slip.number] and day > date.today()


def test_two_booths_given_one_code_are_flagged_and_each_citizen_still_finds_their_case(site) -> None:
    first, twin = site.booth("test-kiosk-0001", "01234"), site.booth("test-kiosk-0003", "01234")
    mine = file_at(first, TEST_CITIZENS[0])
    wait_until(lambda: _rows(site.db, select(receipt_numbers)), timeout=20)
    theirs = file_at(twin, TEST_CITIZENS[1])  # the same code, the same day: the same first number
    assert mine.number == theirs.number
    wait_until(lambda: len(_rows(site.db, select(receipt_numbers))) == 2, timeout=20)
    flagged = {r["device"]: r["conflict"] for r in _rows(site.db, select(receipt_numbers))}
    assert flagged == {"test-kiosk-0001": False, "test-kiosk-0003": True}
    [clash] = _rows(site.db, select(alerts).where(alerts.c.closed_at.is_(None), alerts.c.code == "booth_code_conflict"))
    assert clash["device"] == "test-kiosk-0003" and "test-kiosk-0001" in clash["message"]
    elsewhere = site.booth("test-kiosk-0004", "01236")
    assert elsewhere.query_progress(mine.number, timeout_s=5)["item"] == "RS-002", "the code's owner keeps it"
    elsewhere.end_session()
    assert twin.query_progress(theirs.number, timeout_s=5)["found"], "the booth that filed it still knows it"
    twin.end_session()
    place(elsewhere, TEST_CITIZENS[1])
    assert [c["number"] for c in elsewhere.query_progress_by_card(timeout_s=5)["cases"]] == [theirs.number]


def test_offline_the_card_finds_what_this_booth_filed(tmp_path: Path, make_kiosk) -> None:
    from tests.support import free_port

    booth = make_kiosk(free_port(), device={"booth_code": "01234"})
    receipt = file_at(booth, TEST_CITIZENS[0])
    file_at(booth, TEST_CITIZENS[1])
    place(booth, TEST_CITIZENS[0])
    mine = booth.query_progress_by_card(timeout_s=1)
    assert mine["source"] == "booth" and [(c["number"], c["waiting"]) for c in mine["cases"]] == [
        (receipt.number, True)]
    by_number = booth.query_progress(receipt.number_shown, timeout_s=1)
    assert by_number["source"] == "booth" and by_number["waiting"] and by_number["item"] == "RS-002"
    leave(booth)
    place(booth, TEST_CITIZENS[2])
    with pytest.raises(CitizenError) as nothing:
        booth.query_progress_by_card(timeout_s=1)
    assert nothing.value.code == "offline"


def test_central_refuses_a_number_that_fails_its_check_and_a_request_asking_two_ways(site) -> None:
    device = "test-kiosk-0042"
    raw = site.publisher(device)
    bad = "2611230123400071"
    assert not valid(bad)
    body = {"id": UlidGenerator().new(), "seq": 1, "kind": "submission", "created": "2026-11-23T10:00:00.000+08:00",
            "created_clock_synced": True, "boot": 1,
            "payload": {"item": "RS-002", "number": bad, "session": "s", "applicant": {"name": "x", "id_number": "y"},
                        "form": {}}}
    raw.publish(event_topic(device, "submission"), encode(stamped(device, True, body)), qos=1)
    raw.publish(f"kiosk/v1/{device}/progress/request",
                encode(stamped(device, True, {"id": "r1", "case": "A" * 26, "number": "1" * 16})), qos=1)
    wait_until(lambda: len(_rows(site.db, select(dead_letters))) == 2, timeout=20)
    reasons = {r["topic"].rsplit("/", 1)[1]: r["reason"] for r in _rows(site.db, select(dead_letters))}
    assert "field 'number' has an unusable value" in reasons["submission"]
    assert "asks by none or several" in reasons["request"]


def _rows(db: Database, query) -> list[dict]:
    with db.read() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
