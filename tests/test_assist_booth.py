"""帮办代办 at the booth, over a real TLS Mosquitto, with the test playing central's assist desk through
a raw paho client: the citizen is told only what is true at each step (saved, sending, queued, taken,
no answer, closed), an answer counts only for the open call, waiting for help holds the idle timeout
for a bounded while, and the call-back number travels only in the assist event itself."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator

import pytest

from appliance.contract import (
    QOS_ASSIST_ANSWERS,
    AssistMode,
    AssistState,
    assist_answer,
    assist_answer_topic,
    confirmation,
    confirmation_topic,
)
from appliance.events import AssistChanged, SessionEnded, UiEvent
from appliance.kiosk import Kiosk
from appliance.privacy import mask_phone
from appliance.services.assist import AssistCode
from appliance.services.errors import CitizenError
from tests.support import Collector, Confirmer, Mosquitto, TlsFiles, wait_until

DEVICE = "test-kiosk-0001"
PHONE = "13912345678"


class Desk(Collector):
    """Central's assist desk as the booth meets it: receives assist events, answers on assist/answer."""

    def requests(self) -> list[dict]:
        return self.events("assist")

    def answer(self, request: str, state: AssistState, mode: AssistMode = AssistMode.ON_SITE, **fields) -> None:
        self.send(json.dumps(assist_answer(request, state, mode, **fields)).encode())

    def send(self, payload: bytes) -> None:
        self.client.publish(assist_answer_topic(DEVICE), payload, qos=QOS_ASSIST_ANSWERS).wait_for_publish(5)


@pytest.fixture
def desk(tls_broker: Mosquitto) -> Iterator[Desk]:
    listening = Desk(tls_broker)
    yield listening
    listening.close()


@pytest.fixture
def booth(make_kiosk, tls_broker: Mosquitto, tls: TlsFiles):
    """A started booth on the TLS broker, its UI notifications recorded: booth(**config sections)."""

    def make(**sections) -> tuple[Kiosk, list[UiEvent]]:
        seen: list[UiEvent] = []
        broker = {"tls": {"ca_file": str(tls.ca), "cert_file": str(tls.client_cert),
                          "key_file": str(tls.client_key)}, **sections.pop("broker", {})}
        return make_kiosk(tls_broker.port, notify=seen.append, clock=clock, broker=broker, **sections), seen

    return make


class MovableClock:
    """The booth's monotonic clock for calls for help, which a test moves on (as the UI driver's `idle`
    ages a session's last touch)."""

    def __init__(self) -> None:
        self.ahead_s = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.ahead_s


clock = MovableClock()  # one per test process: only ever moved forward, as time is


def shown(seen: list[UiEvent]) -> list[AssistCode]:
    """The codes the UI was told, in order."""
    return [event.view.code for event in seen if isinstance(event, AssistChanged)]


def age(kiosk: Kiosk, seconds: float) -> None:
    """The call was made `seconds` earlier: the booth's clock moves on."""
    clock.ahead_s += seconds


def test_on_site_is_told_truthfully_from_sending_to_taken_and_closed(booth, desk) -> None:
    kiosk, seen = booth(assist={"on_site": True})
    wait_until(lambda: kiosk.link.connected)
    view = kiosk.request_assist("guide", code="GA-001")
    assert view.code is AssistCode.SENDING and not view.hotline, "online over TLS, central silent: only sending"
    desk.wait_for(lambda d: d.requests())
    [event] = desk.requests()
    assert event["payload"] == {"item": "GA-001", "screen": "guide", "mode": "on_site",
                                "session": kiosk.session.id, "site": kiosk.config.device.site}
    assert kiosk.assist_status().code is AssistCode.SENDING, "delivered is not answered: still no staff called"

    desk.answer(event["id"], AssistState.QUEUED, escalate_after_s=180, waited_s=1)
    wait_until(lambda: kiosk.assist_status().code is AssistCode.QUEUED)
    desk.answer(event["id"], AssistState.TAKEN, operator="王芳")
    wait_until(lambda: kiosk.assist_status().code is AssistCode.TAKEN)
    taken = kiosk.assist_status()
    assert (taken.operator, taken.mode, taken.hotline) == ("王芳", AssistMode.ON_SITE, False)
    desk.answer(event["id"], AssistState.QUEUED, waited_s=40)  # the booth re-sent it: central says queued again
    desk.answer(event["id"], AssistState.CLOSED, operator="王芳", outcome="helped_on_site")
    wait_until(lambda: kiosk.assist_status().code is AssistCode.CLOSED)
    assert kiosk.assist_status().outcome == "helped_on_site"
    assert shown(seen) == [AssistCode.SENDING, AssistCode.QUEUED, AssistCode.TAKEN, AssistCode.CLOSED]
    again = kiosk.request_assist("help")
    assert again.request != event["id"] and again.code is AssistCode.SENDING, "a closed call can be made anew"


def test_central_confirming_the_call_says_it_arrived_even_when_its_answer_is_lost(booth, tls_broker) -> None:
    """Central commits a call and confirms it, but its `queued` answer never comes: the confirmation is
    the proof that the call is on the desk. A confirmation of another event is no such proof."""
    kiosk, seen = booth(assist={"on_site": True})
    confirmer = Confirmer(tls_broker, every_s=0.05)
    try:
        wait_until(lambda: kiosk.link.connected and confirmer.connected.is_set())
        kiosk.rate("GA-001", 5)
        wait_until(lambda: kiosk.pump.confirmed == 1)
        [rating] = confirmer.events("rating")
        confirmer.confirming.clear()
        view = kiosk.request_assist("help")
        confirmer.wait_for(lambda c: c.events("assist"))
        confirmer.client.publish(confirmation_topic(DEVICE), json.dumps(confirmation([(rating["seq"], rating["id"])])),
                                 qos=1).wait_for_publish(5)  # a confirmation again, of the rating only
        wait_until(lambda: kiosk.health_snapshot()["counters"]["confirmations_mismatched"] == 0 and
                   kiosk.pump.confirmed == 1)
        assert kiosk.assist_status().code is AssistCode.SENDING, "the rating's confirmation proves nothing"
        confirmer.confirming.set()
        wait_until(lambda: kiosk.assist_status().code is AssistCode.QUEUED)
        assert not kiosk.outbox.holds(view.request) and shown(seen) == [AssistCode.SENDING, AssistCode.QUEUED]
    finally:
        confirmer.close()


def test_a_call_back_taken_says_within_how_many_minutes(booth, desk) -> None:
    kiosk, _seen = booth()
    wait_until(lambda: kiosk.link.connected)
    view = kiosk.request_assist("apply", AssistMode.CALL_BACK, phone=PHONE, code="RS-002")
    assert view.phone == "139****5678" and view.mode is AssistMode.CALL_BACK
    desk.wait_for(lambda d: d.requests())
    event = desk.requests()[0]
    assert event["payload"]["phone"] == PHONE and event["payload"]["mode"] == "call_back"
    desk.answer(event["id"], AssistState.TAKEN, AssistMode.CALL_BACK, operator="李明", call_back_within_min=10)
    wait_until(lambda: kiosk.assist_status().code is AssistCode.TAKEN)
    taken = kiosk.assist_status()
    assert (taken.call_back_within_min, taken.phone, taken.hotline) == (10, "139****5678", False)
    assert kiosk.request_assist("apply", AssistMode.CALL_BACK, phone=PHONE).request == event["id"], (
        "a second press while the call is open shows it, and files nothing new")
    assert len({e["id"] for e in desk.requests()}) == 1


def test_escalated_or_unanswered_in_time_offers_the_hotline(booth, desk) -> None:
    kiosk, seen = booth(assist={"on_site": True})
    wait_until(lambda: kiosk.link.connected)
    first = kiosk.request_assist("search")
    desk.wait_for(lambda d: d.requests())
    desk.answer(first.request, AssistState.QUEUED, escalate_after_s=180)
    wait_until(lambda: kiosk.assist_status().code is AssistCode.QUEUED)
    desk.answer(first.request, AssistState.ESCALATED, waited_s=181)
    wait_until(lambda: kiosk.assist_status().code is AssistCode.NO_ANSWER)
    assert kiosk.assist_status().hotline
    desk.answer(first.request, AssistState.TAKEN, operator="王芳")  # taken late: that is the truth now
    wait_until(lambda: kiosk.assist_status().code is AssistCode.TAKEN)

    kiosk.end_session()
    second = kiosk.request_assist("book", code="GA-001")
    desk.wait_for(lambda d: len(d.requests()) == 2)
    desk.answer(second.request, AssistState.QUEUED, escalate_after_s=180)
    wait_until(lambda: kiosk.assist_status().code is AssistCode.QUEUED)
    age(kiosk, kiosk.config.assist.answer_timeout_s - 5)
    assert kiosk.assist_status().code is AssistCode.QUEUED, "before the booth's own wait is up"
    age(kiosk, 5)
    view = kiosk.assist_status()
    assert view.code is AssistCode.NO_ANSWER and view.hotline, "nobody took it in time: the booth says so itself"
    wait_until(lambda: shown(seen)[-1] is AssistCode.NO_ANSWER)


def test_outside_staff_hours_a_call_back_follows_and_without_a_phone_the_hotline(booth, desk) -> None:
    kiosk, _seen = booth(assist={"on_site": True})
    wait_until(lambda: kiosk.link.connected)
    view = kiosk.request_assist("help")
    desk.wait_for(lambda d: d.requests())
    desk.answer(view.request, AssistState.QUEUED, AssistMode.CALL_BACK, outside_hours=True,
                staffed_from="2026-12-02T08:30:00+08:00")
    wait_until(lambda: kiosk.assist_status().code is AssistCode.QUEUED)
    queued = kiosk.assist_status()
    assert queued.mode is AssistMode.CALL_BACK and queued.outside_hours and queued.staffed_from.startswith("2026-12-02")
    assert queued.phone is None and queued.hotline, "no number was left: nobody can call back, so 12345"
    age(kiosk, kiosk.config.assist.answer_timeout_s + 1)
    assert kiosk.assist_status().code is AssistCode.QUEUED, "a call back after hours is not 'nobody answered'"


def test_malformed_and_foreign_answers_change_nothing_beside_the_one_that_does(booth, desk, caplog) -> None:
    kiosk, seen = booth(assist={"on_site": True})
    wait_until(lambda: kiosk.link.connected)
    view = kiosk.request_assist("guide", code="GA-001")
    desk.wait_for(lambda d: d.requests())
    other = "01JD5X3K7Q8M2N4P6R8T0V2W4Y"  # another (an earlier citizen's) call
    desk.answer(other, AssistState.TAKEN, operator="王芳")
    desk.send(b"{not json")
    desk.send(json.dumps({**assist_answer(view.request, AssistState.TAKEN, AssistMode.ON_SITE),
                          "operator": "x" * 65}).encode())
    desk.send(json.dumps({**assist_answer(view.request, AssistState.QUEUED, AssistMode.ON_SITE),
                          "state": "on_the_way"}).encode())
    desk.answer(view.request, AssistState.QUEUED, escalate_after_s=180)  # the good one, sent after them all
    wait_until(lambda: kiosk.assist_status().code is AssistCode.QUEUED)
    assert kiosk.assist_status().operator is None and shown(seen) == [AssistCode.SENDING, AssistCode.QUEUED]
    assert kiosk.help.answers_ignored == 3
    warnings = [r.getMessage() for r in caplog.records if "assist answer ignored" in r.getMessage()]
    assert len(warnings) == 1 and "not json" not in warnings[0], "the first is logged, never its payload"


def test_broker_down_the_call_is_saved_and_moves_on_after_reconnect(booth, desk, tls_broker) -> None:
    kiosk, seen = booth(assist={"on_site": True})
    wait_until(lambda: kiosk.link.connected)
    tls_broker.stop()  # the desk's session and subscription outlive the stop (persistence)
    wait_until(lambda: not kiosk.link.connected, timeout=10)
    view = kiosk.request_assist("progress")
    assert view.code is AssistCode.SAVED and view.hotline
    assert not desk.requests()

    tls_broker.start()
    desk.wait_for(lambda d: d.requests(), timeout=20)
    assert desk.requests()[0]["id"] == view.request
    desk.answer(view.request, AssistState.QUEUED, escalate_after_s=180)
    wait_until(lambda: kiosk.assist_status().code is AssistCode.QUEUED)
    assert shown(seen) == [AssistCode.SAVED, AssistCode.SENDING, AssistCode.QUEUED]


def test_without_tls_the_call_is_held_and_said_to_be_saved(make_kiosk, broker, collector) -> None:
    kiosk = make_kiosk(broker.port, assist={"on_site": True})
    wait_until(lambda: kiosk.link.connected)
    view = kiosk.request_assist("help")
    kiosk.rate("GA-001", 5)  # no personal data: it leaves over the same link
    collector.wait_for(lambda c: c.events("rating"))
    assert view.code is AssistCode.SAVED and kiosk.assist_status().code is AssistCode.SAVED, "never 'sending'"
    assert kiosk.assist_status().held, "online without TLS: the screen must not say 'sent once online'"
    assert kiosk.outbox.waiting(["assist"]) == 1 and not collector.events("assist")


def test_a_request_is_refused_beside_the_one_that_is_taken(booth) -> None:
    kiosk, _seen = booth()
    refusals = [
        ({"screen": "guide"}, "no_staff_on_site"),  # on_site where the config says nobody can come
        ({"screen": "guide", "mode": AssistMode.CALL_BACK}, "bad_phone"),
        ({"screen": "guide", "mode": AssistMode.CALL_BACK, "phone": "1391234567a"}, "bad_phone"),
        ({"screen": "guide", "mode": AssistMode.CALL_BACK, "phone": "12345"}, "bad_phone"),
        ({"screen": "guide", "mode": AssistMode.CALL_BACK, "phone": PHONE + "9"}, "bad_phone"),
        ({"screen": "guide", "mode": AssistMode.CALL_BACK, "phone": "10000000000"}, "bad_phone"),  # no such mobile
        ({"screen": "guide", "mode": AssistMode.CALL_BACK, "phone": "88889999"}, "bad_phone"),  # no area code
        ({"screen": "Guide!", "mode": AssistMode.CALL_BACK, "phone": PHONE}, "bad_screen"),
    ]
    for kwargs, code in refusals:
        with pytest.raises(CitizenError) as refused:
            kiosk.request_assist(**kwargs)
        assert refused.value.code == code and PHONE not in str(refused.value), kwargs
    assert kiosk.assist_status() is None and kiosk.outbox.waiting(["assist"]) == 0
    for phone in (PHONE, "053288889999"):  # a mobile, a landline with its area code
        kiosk.end_session()
        assert kiosk.request_assist("guide", AssistMode.CALL_BACK, phone=phone).phone == mask_phone(phone)
    assert mask_phone("053288889999") == "053*****9999" and mask_phone("88889999") == "88****99"
    kiosk.end_session()
    assert kiosk.assist_status() is None, "the call went with the session"


def test_on_site_with_a_phone_is_refused_beside_on_site_without(booth) -> None:
    kiosk, _seen = booth(assist={"on_site": True})
    with pytest.raises(CitizenError) as refused:
        kiosk.request_assist("guide", AssistMode.ON_SITE, phone=PHONE)
    assert refused.value.code == "phone_not_asked"
    assert kiosk.request_assist("guide", AssistMode.ON_SITE, code="NO-SUCH").item is None, (
        "an item the catalogue does not know never stands between a citizen and help")


def test_waiting_for_help_holds_the_idle_timeout_for_a_bounded_while(booth, desk) -> None:
    kiosk, seen = booth(assist={"on_site": True}, session={"idle_timeout_s": 15, "countdown_s": 5})
    wait_until(lambda: kiosk.link.connected)
    view = kiosk.request_assist("guide")
    session = kiosk.session
    session.last_touch -= 100  # the citizen stands and waits, touching nothing
    wait_until(lambda: session.remaining_s() > 10, timeout=5)
    assert kiosk.session is session, "waiting for help is not walking away"
    desk.wait_for(lambda d: d.requests())
    desk.answer(view.request, AssistState.TAKEN, operator="王芳")
    wait_until(lambda: kiosk.assist_status().code is AssistCode.TAKEN)
    session.last_touch -= 100
    wait_until(lambda: session.remaining_s() > 10, timeout=5)
    assert kiosk.session is session, "staff are on their way: the citizen is kept"
    age(kiosk, kiosk.config.assist.answer_timeout_s)  # the helper's walk took the whole bound
    session.last_touch -= 100
    wait_until(lambda: SessionEnded(reason="timeout") in seen, timeout=5)  # told after it ended
    assert kiosk.session is None and kiosk.assist_status() is None

    kiosk.request_assist("help")
    unanswered = kiosk.session
    age(kiosk, kiosk.config.assist.answer_timeout_s)  # nobody took it in time: the hold ends with the wait
    unanswered.last_touch -= 100
    wait_until(lambda: kiosk.session is None, timeout=5)


def test_the_phone_is_only_in_the_assist_event(booth, desk, tls_broker, tmp_path) -> None:
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Capture(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    logging.getLogger("kiosk").setLevel(logging.DEBUG)
    everything = Collector(tls_broker, client_id="test-everything")
    try:
        kiosk, seen = booth()
        wait_until(lambda: kiosk.link.connected)
        with pytest.raises(CitizenError):
            kiosk.request_assist("guide", AssistMode.CALL_BACK, phone=PHONE + "0")
        view = kiosk.request_assist("guide", AssistMode.CALL_BACK, phone=PHONE, code="GA-001")
        desk.wait_for(lambda d: d.requests())
        desk.answer(view.request, AssistState.TAKEN, AssistMode.CALL_BACK, operator="李明", call_back_within_min=5)
        wait_until(lambda: kiosk.assist_status().code is AssistCode.TAKEN)
        kiosk.publish_heartbeat()
        kiosk.ledger.flush()
        everything.wait_for(lambda c: c.on("/heartbeat") and c.events("usage"))
        usage = everything.events("usage")[0]["payload"]["counts"]
        assert {"action": "assist", "item": "GA-001", "count": 1} in usage
        assert [e["payload"]["phone"] for e in everything.events("assist")] == [PHONE]
        for message in everything.messages:
            if not message.topic.endswith("/events/assist"):
                assert PHONE not in message.payload.decode(), message.topic
        assert records and not [line for line in records if PHONE in line or PHONE[-8:] in line]
        assert not [event for event in seen if PHONE in repr(event)], "the UI hears only the masked number"
        kiosk.stop()
        for path in (p for p in (tmp_path / "state").rglob("*") if p.is_file()):
            assert PHONE.encode() not in path.read_bytes(), f"{path.name} holds the number in the clear"
    finally:
        everything.close()
        logging.getLogger().removeHandler(handler)
        logging.getLogger("kiosk").setLevel(logging.NOTSET)
