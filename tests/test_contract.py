"""One busy day at a booth over TLS: every payload it publishes is checked against docs/asyncapi.yaml,
and none but a submission carries the citizen's name or ID number — not on the wire, not on disk;
none but the call-back request carries the phone number the citizen keyed in for it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from appliance.contract import AssistMode, AssistState, assist_answer
from appliance.kiosk import Kiosk
from appliance.services.errors import CitizenError
from tests.support import (
    TEST_ID_NUMBER,
    TEST_NAME,
    Collector,
    Confirmer,
    Mosquitto,
    kiosk_config,
    make_test_ca,
    place_card,
    printed,
    set_printer,
    wait_until,
)

CALL_BACK_PHONE = "13912345678"  # not the submission's number: this one may travel only in the assist event
ASYNCAPI = yaml.safe_load((Path(__file__).resolve().parent.parent / "docs" / "asyncapi.yaml").read_text())


def validator(schema: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{schema}", "components": ASYNCAPI["components"]})


def schema_for(topic: str) -> str:
    suffix = topic.split("/", 3)[3]
    if suffix.startswith("events/"):
        return suffix.removeprefix("events/").capitalize() + "Event"
    if suffix.startswith("cmd/"):
        return "Command"
    return {"status": "Status", "heartbeat": "Heartbeat", "cmd-result": "CommandResult", "ack": "Confirmation"}[suffix]


@pytest.fixture(scope="module")
def busy_day(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("busy-day")
    device = "test-kiosk-0001"
    tls = make_test_ca(tmp / "tls", device)
    broker = Mosquitto(tmp / "broker", tls=tls).start()
    collector = Collector(broker)
    confirmer = Confirmer(broker)  # plays central's confirming role; its confirmations are checked too
    handler = _CaptureLogs()
    logging.getLogger().addHandler(handler)
    logging.getLogger("kiosk").setLevel(logging.DEBUG)
    kiosk = Kiosk(kiosk_config(tmp / "state", broker.port, broker={
        "tls": {"ca_file": str(tls.ca), "cert_file": str(tls.client_cert), "key_file": str(tls.client_key)}},
        assist={"on_site": True}))
    kiosk.start()
    wait_until(lambda: kiosk.link.connected)

    kiosk.view_guide("GA-001")
    kiosk.print_notice("GA-001")
    with pytest.raises(CitizenError) as refused:
        kiosk.submit_application("RS-002", {"reason": "遗失", "phone": "13800000000"})
    assert refused.value.code == "not_identified"
    place_card(kiosk)
    receipt = kiosk.submit_application("RS-002", {"reason": "遗失", "phone": "13800000000"})
    kiosk.rate("GA-001", 1, "排队太久")
    kiosk.request_assist("guide", AssistMode.CALL_BACK, phone=CALL_BACK_PHONE, code="GA-001")
    kiosk.end_session()
    kiosk.request_assist("help")  # the next citizen asks for someone to come, from the help screen
    kiosk.end_session()
    set_printer(kiosk, "paper_end")
    kiosk.refresh_health()
    set_printer(kiosk, None)
    kiosk.refresh_health()
    kiosk.ledger.flush()
    kiosk.publish_heartbeat()
    for name, payload in [
        ("ping", {"id": "c-1"}),
        ("status", {"id": "c-2"}),
        ("maintenance", {"id": "c-3", "args": {"on": True}}),
        ("maintenance", {"id": "c-4", "args": {"on": False}}),
        ("print-test", {"id": "c-5"}),
        ("nonsense", {"id": "c-6"}),
    ]:
        collector.client.publish(f"kiosk/v1/{device}/cmd/{name}", json.dumps(payload), qos=1)
    collector.wait_for(lambda c: len(c.on("/cmd-result")) == 6)
    wait_until(lambda: kiosk.outbox.stats()["depth"] == 0, timeout=15)
    assert kiosk.health_snapshot()["counters"]["confirmed"] >= 5
    kiosk.publish_heartbeat()  # one heartbeat with a confirmation-era outbox in it, too
    collector.wait_for(lambda c: {"submission", "rating", "assist", "usage", "alert"}
                       <= {m.topic.rsplit("/", 1)[1] for m in c.messages})
    kiosk.stop()
    collector.wait_for(lambda c: c.on("/status")[-1].json()["status"] == "offline")
    yield {"kiosk": kiosk, "messages": list(collector.messages), "receipt": receipt, "logs": handler.lines,
           "state": tmp / "state"}
    logging.getLogger().removeHandler(handler)
    logging.getLogger("kiosk").setLevel(logging.NOTSET)
    confirmer.close()
    collector.close()
    broker.stop()


class _CaptureLogs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_every_published_payload_matches_the_contract(busy_day) -> None:
    kinds = set()
    for message in busy_day["messages"]:
        schema = schema_for(message.topic)
        errors = sorted(validator(schema).iter_errors(message.json()), key=str)
        assert not errors, f"{message.topic}: {errors[0].message} at {list(errors[0].absolute_path)}"
        kinds.add(schema)
    assert kinds == {"Command", "Status", "Heartbeat", "CommandResult", "SubmissionEvent", "RatingEvent", "AssistEvent",
                     "UsageEvent", "AlertEvent", "Confirmation"}


def test_personal_data_only_in_the_submission(busy_day) -> None:
    submissions = [m for m in busy_day["messages"] if m.topic.endswith("/events/submission")]
    assert len(submissions) == 1
    applicant = submissions[0].json()["payload"]["applicant"]
    assert applicant["name"] == TEST_NAME and applicant["id_number"] == TEST_ID_NUMBER
    for message in busy_day["messages"]:
        if message is submissions[0]:
            continue
        text = message.payload.decode()
        assert TEST_NAME not in text and TEST_ID_NUMBER not in text, message.topic
        assert TEST_ID_NUMBER[-8:] not in text
    assert len(busy_day["logs"]) > 10, "the log capture saw too little to prove anything"
    for line in busy_day["logs"]:
        assert TEST_NAME not in line and TEST_ID_NUMBER not in line and CALL_BACK_PHONE not in line


def test_assist_requests_of_both_modes_match_the_contract(busy_day) -> None:
    requests = [m.json() for m in busy_day["messages"] if m.topic.endswith("/events/assist")]
    payloads = {r["payload"]["mode"]: r["payload"] for r in requests}
    assert payloads["call_back"]["phone"] == CALL_BACK_PHONE and payloads["call_back"]["item"] == "GA-001"
    assert "phone" not in payloads["on_site"] and payloads["on_site"]["screen"] == "help"
    for request in requests:  # each also passed test_every_published_payload_matches_the_contract
        assert not list(validator("AssistEvent").iter_errors(request))
    others = [m for m in busy_day["messages"] if not m.topic.endswith("/events/assist")]
    assert others and not [m.topic for m in others if CALL_BACK_PHONE in m.payload.decode()]
    wrong = dict(payloads["on_site"], phone=CALL_BACK_PHONE)  # the schema itself refuses a phone with on_site
    assert list(validator("AssistEvent").iter_errors({**requests[0], "payload": wrong}))


def test_assist_answers_as_central_makes_them_match_the_contract() -> None:
    request = "01JD5X3K7Q8M2N4P6R8T0V2W4Y"
    answers = [
        assist_answer(request, AssistState.QUEUED, AssistMode.ON_SITE, escalate_after_s=180, waited_s=3),
        assist_answer(request, AssistState.QUEUED, AssistMode.CALL_BACK, outside_hours=True,
                      staffed_from="2026-12-02T08:30:00+08:00"),
        assist_answer(request, AssistState.TAKEN, AssistMode.CALL_BACK, operator="李明", call_back_within_min=10),
        assist_answer(request, AssistState.ESCALATED, AssistMode.ON_SITE, waited_s=181),
        assist_answer(request, AssistState.CLOSED, AssistMode.ON_SITE, operator="王芳", outcome="helped_on_site"),
    ]
    for answer in answers:
        assert not list(validator("AssistAnswer").iter_errors(answer)), answer
    assert list(validator("AssistAnswer").iter_errors({**answers[0], "phone": CALL_BACK_PHONE}))


def test_outbox_file_holds_no_personal_data_in_the_clear(busy_day, tmp_path) -> None:
    from appliance.contract import EventKind
    from appliance.delivery.outbox import Outbox
    from appliance.state.sealing import Sealer, load_or_create_key
    from appliance.state.store import Store
    from tests.support import kiosk_config as cfg

    # Keep a submission on disk (no broker) and look at the raw bytes of every state file.
    state = tmp_path / "state"
    store = Store(state / "outbox.sqlite3")
    outbox = Outbox(store, Sealer(load_or_create_key(state / "device.key")), cfg(state, 1).outbox, boot=1,
                    clock_synced=lambda: False)
    outbox.enqueue(EventKind.SUBMISSION, {"item": "GA-001", "applicant": {"name": TEST_NAME,
                                                                          "id_number": TEST_ID_NUMBER}})
    store.close()
    for directory in (state, busy_day["state"]):
        for path in (p for p in directory.rglob("*") if p.is_file() and not p.is_symlink()):
            raw = path.read_bytes()
            for secret in (TEST_NAME.encode("utf-8"), TEST_NAME.encode("utf-16-le"), TEST_ID_NUMBER.encode()):
                assert secret not in raw, f"{path.name} holds personal data in the clear"
    assert oct((state / "device.key").stat().st_mode & 0o777) == "0o600"


def test_receipt_is_masked_and_names_the_case(busy_day) -> None:
    kiosk = busy_day["kiosk"]
    receipt = busy_day["receipt"]
    assert receipt.printed
    printed_docs = printed(kiosk)
    receipt_lines = next(doc for doc in printed_docs if any("受理回执" in line for line in doc))
    text = "\n".join(receipt_lines)
    assert "欧**娜" in text and "3702**********" in text and TEST_ID_NUMBER[-4:] in text
    assert TEST_NAME not in text and TEST_ID_NUMBER not in text
    assert receipt.number_shown in text and receipt.case_ref not in text, "the number a person uses, not the event id"
    notice = next(doc for doc in printed_docs if any("一次性告知单" in line for line in doc))
    assert any("原居民身份证" in line for line in notice)


def test_a_busy_day_is_counted_and_reported(busy_day) -> None:
    usage = [m.json() for m in busy_day["messages"] if m.topic.endswith("/events/usage")]
    counts = {(c["action"], c["item"]): c["count"] for c in usage[0]["payload"]["counts"]}
    assert counts[("guide_viewed", "GA-001")] == 1
    assert counts[("notice_printed", "GA-001")] == 1
    assert counts[("submission", "RS-002")] == 1
    assert counts[("rating", "GA-001")] == 1
    assert counts[("assist", "GA-001")] == 1 and counts[("assist", "")] == 1
    assert counts[("session_start", "")] == 2 and counts[("session_end", "")] == 2
    alerts = [m.json()["payload"]["code"] for m in busy_day["messages"] if m.topic.endswith("/events/alert")]
    assert alerts == ["printer_paper_end", "printer_recovered"]
    statuses = [m.json() for m in busy_day["messages"] if m.topic.endswith("0001/status")]
    assert [s["status"] for s in statuses] == ["online", "maintenance", "online", "offline"], statuses


def test_the_contract_names_what_the_kiosk_does(busy_day) -> None:
    from appliance.contract import COMMAND_NAMES, EventKind

    channels = ASYNCAPI["channels"]
    assert busy_day["kiosk"].commands.names == sorted(COMMAND_NAMES)
    assert channels["command"]["parameters"]["name"]["enum"] == list(COMMAND_NAMES)
    assert channels["events"]["parameters"]["kind"]["enum"] == [k.value for k in EventKind]


def test_iso_is_exactly_what_astimezone_gives() -> None:
    """`iso()` reuses the text of the last second and rounds the milliseconds itself (it is in every
    envelope the pump sends): the result must stay exactly datetime's, rounding edges included."""
    import math
    import random
    from datetime import datetime

    from appliance.contract import iso

    rng = random.Random(20261201)
    base = 1_764_590_000
    times = [rng.uniform(0, 2e9) for _ in range(20_000)] + [rng.randrange(0, 2 * 10**15) / 1e6 for _ in range(20_000)]
    times += [base + k + f for k in range(5) for f in (0.9994999, 0.9995, 0.9999994, 0.9999995, 0.9999996,
                                                        0.0004995, 0.0005, 0.0000005, 0.0)]
    times += [math.nextafter(base + 0.9999995, 0), math.nextafter(base + 0.9999995, 2e9), 0.0, 1e-7]
    for unix in sorted(times) + times:  # in order (the cache hit) and shuffled (the cache missed)
        for timespec in ("milliseconds", "seconds"):
            assert iso(unix, timespec) == datetime.fromtimestamp(unix).astimezone().isoformat(timespec=timespec), unix
