"""The core's citizen-facing behaviour without a display: sessions, timeouts, LEDs, held personal data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from appliance.contract import EventKind
from appliance.events import CardRead, CardRemoved, SessionCountdown, SessionEnded, UiEvent
from appliance.services.errors import CitizenError
from tests.support import TEST_ID_NUMBER, free_port, place_card, printed, set_printer, wait_until

LOSS_REPORT = {"reason": "遗失", "phone": "13800000000"}  # RS-002, social security card loss report


def test_idle_session_times_out_and_forgets_the_card(make_kiosk) -> None:
    seen: list[UiEvent] = []
    kiosk = make_kiosk(free_port(), notify=seen.append, session={"idle_timeout_s": 15, "countdown_s": 5})
    place_card(kiosk)
    session = kiosk.session
    assert session is not None and session.card is not None
    read = CardRead(name="欧**娜", id_number="3702**********" + TEST_ID_NUMBER[-4:], returning=False)
    wait_until(lambda: read in seen, timeout=5)
    session.last_touch -= 12  # 3 s left: the countdown shows
    wait_until(lambda: any(isinstance(event, SessionCountdown) for event in seen), timeout=5)
    session.last_touch -= 10
    wait_until(lambda: SessionEnded(reason="timeout") in seen, timeout=5)
    assert kiosk.session is None and session.card is None, "the citizen's card data must go with the session"
    assert kiosk.ledger.since_boot["timeout"] == 1 and kiosk.ledger.since_boot["session_end"] == 1
    with pytest.raises(CitizenError) as refused:
        kiosk.submit_application("RS-002", LOSS_REPORT)
    assert refused.value.code == "not_identified"


def test_elder_mode_waits_longer(make_kiosk) -> None:
    kiosk = make_kiosk(free_port())
    assert kiosk.begin_session(elder=True).idle_timeout_s == kiosk.config.session.elder_idle_timeout_s > 60


def test_the_kiosk_knows_before_printing_whether_it_can(make_kiosk) -> None:
    kiosk = make_kiosk(free_port())
    wait_until(kiosk.can_print, timeout=5)
    set_printer(kiosk, "paper_near_end")
    assert kiosk.can_print(), "paper near end still prints"
    set_printer(kiosk, "cover_open")
    assert not kiosk.can_print()
    kiosk.hardware.printer_sim.vanish()
    wait_until(lambda: not kiosk.can_print() and kiosk.hardware.printer.health().state == "absent", timeout=5)
    kiosk.hardware.printer_sim.come_back()
    set_printer(kiosk, None)
    assert kiosk.can_print()


def test_a_failed_receipt_print_keeps_the_application(make_kiosk) -> None:
    kiosk = make_kiosk(free_port())
    place_card(kiosk)
    kiosk.hardware.printer_sim.set_state(paper_end=True)  # the print itself finds out
    receipt = kiosk.submit_application("RS-002", LOSS_REPORT)
    assert not receipt.printed and receipt.print_problem == "paper_end", "the screens say which part failed"
    waiting = kiosk.outbox.take(10)
    assert ("submission", receipt.case_ref) in [(p.kind, p.id) for p in waiting], "stored even without a receipt"
    alerts = [json.loads(p.envelope)["payload"]["code"] for p in waiting if p.kind == "alert"]
    assert alerts == ["printer_paper_end"], "the paper fault is alerted"
    with pytest.raises(CitizenError) as failed:
        kiosk.print_notice("RS-001")
    assert failed.value.code == "print_failed"
    with pytest.raises(CitizenError) as bad:
        kiosk.rate("RS-001", 6)
    assert bad.value.code == "bad_level"
    with pytest.raises(CitizenError) as unknown:
        kiosk.view_guide("NOPE-1")
    assert unknown.value.code == "unknown_item"


def test_submissions_wait_for_tls_while_other_events_flow(broker, confirmer, make_kiosk) -> None:
    collector = confirmer  # plays central: the rating leaves the outbox only on its confirmation
    kiosk = make_kiosk(broker.port)
    place_card(kiosk)
    kiosk.submit_application("RS-002", LOSS_REPORT)
    kiosk.rate("GA-002", 5)
    collector.wait_for(lambda c: c.events("rating"))
    wait_until(lambda: kiosk.outbox.stats()["depth"] == 1)
    assert not collector.events("submission")
    assert kiosk.outbox.take(10)[0].kind == EventKind.SUBMISSION


def test_an_appointment_needs_the_card_a_working_day_and_prints_a_slip(make_kiosk) -> None:
    kiosk = make_kiosk(free_port())
    days = kiosk.bookable_days()
    assert days and all(day.weekday() < 5 for day in days) and len(days) <= 10
    with pytest.raises(CitizenError) as anonymous:
        kiosk.book_appointment("GA-001", days[0], "am")
    assert anonymous.value.code == "not_identified"
    place_card(kiosk)
    with pytest.raises(CitizenError) as not_bookable:
        kiosk.book_appointment("RS-002", days[0], "am")
    assert not_bookable.value.code == "not_bookable"
    saturday = next(day for day in (days[0] + timedelta(days=n) for n in range(7)) if day.weekday() == 5)
    for day, half in [(saturday, "am"), (days[0], "evening"), (days[0] - timedelta(days=30), "pm")]:
        with pytest.raises(CitizenError) as refused:
            kiosk.book_appointment("GA-001", day, half)
        assert refused.value.code == "bad_slot"
    slip = kiosk.book_appointment("GA-001", days[0], "pm")
    assert slip.printed
    lines = printed(kiosk)[-1]
    assert lines[0] == "预约凭条" and any(line.endswith(f"{days[0].isoformat()} 下午") for line in lines)
    assert any("欧**娜" in line for line in lines) and not any(TEST_ID_NUMBER in line for line in lines)
    waiting = kiosk.outbox.take(10)
    assert [p.kind for p in waiting if p.id == slip.case_ref] == ["appointment"]
    assert kiosk.ledger.since_boot["appointment"] == 1


def test_progress_is_asked_live_and_offline_is_said_plainly(broker, collector, make_kiosk) -> None:
    kiosk = make_kiosk(broker.port)
    wait_until(lambda: kiosk.link.connected)
    case = "01JD5X3K7Q8M2N4P6R8T0V2W4Y"
    requests: list[dict] = []

    def central(client, userdata, message) -> None:  # stands in for central: answers every request
        request = json.loads(message.payload)
        requests.append(request)
        answer = {"id": request["id"], "case": request["case"], "found": True, "status": "审核中",
                  "note": "预计 3 个工作日内办结"}
        client.publish(message.topic.replace("/request", "/answer"), json.dumps(answer, ensure_ascii=False), qos=1)
        client.publish(message.topic.replace("/request", "/answer"), b"{not json", qos=1)  # ignored, logged

    collector.client.message_callback_add("kiosk/v1/+/progress/request", central)
    answer = kiosk.query_progress(case.lower(), timeout_s=5)
    assert (answer["case"], answer["status"]) == (case, "审核中")
    assert [(r["case"], r["device"]) for r in requests] == [(case, kiosk.device_id)]
    for bad in ("12345", "01JD5X3K7Q8M2N4P6R8T0V2W4I", ""):
        with pytest.raises(CitizenError) as refused:
            kiosk.query_progress(bad)
        assert refused.value.code == "bad_number"
    collector.client.message_callback_remove("kiosk/v1/+/progress/request")
    with pytest.raises(CitizenError) as silent:
        kiosk.query_progress(case, timeout_s=0.5)
    assert silent.value.code == "no_answer"
    broker.stop()
    wait_until(lambda: not kiosk.link.connected, timeout=10)
    with pytest.raises(CitizenError) as offline:
        kiosk.query_progress(case)
    assert offline.value.code == "offline"


def test_a_rating_names_only_a_receipt_of_this_visit(make_kiosk) -> None:
    kiosk = make_kiosk(free_port())
    place_card(kiosk)
    receipt = kiosk.submit_application("RS-002", LOSS_REPORT)
    kiosk.rate("RS-002", 2, reasons=("排队等候时间长",), case_ref=receipt.case_ref)  # the same visit: yes
    kiosk.end_session("finish")
    with pytest.raises(CitizenError) as refused:
        kiosk.rate("RS-002", 5, case_ref=receipt.case_ref)  # the next citizen: not theirs
    assert refused.value.code == "not_your_case"
    ratings = [json.loads(p.envelope)["payload"] for p in kiosk.outbox.take(50) if p.kind == "rating"]
    assert [(r["level"], r.get("case")) for r in ratings] == [(2, receipt.case_ref)]


def test_a_lifted_card_is_known_again_and_another_is_not(make_kiosk) -> None:
    from drivers.card_reader_pty_sim import TEST_CITIZENS

    seen: list[UiEvent] = []
    kiosk = make_kiosk(free_port(), notify=seen.append)
    place_card(kiosk)
    kiosk.lift_card()  # the screens' grace period begins: nothing can be filed meanwhile
    with pytest.raises(CitizenError) as waiting:
        kiosk.submit_application("RS-002", LOSS_REPORT)
    assert waiting.value.code == "not_identified"
    kiosk.hardware.card_reader_sim.remove()
    wait_until(lambda: seen.count(CardRemoved()) == 1, timeout=5)
    place_card(kiosk)
    wait_until(lambda: [e.returning for e in seen if isinstance(e, CardRead)] == [False, True], timeout=5)
    kiosk.submit_application("RS-002", LOSS_REPORT)  # the same card back: the form files
    kiosk.lift_card()
    kiosk.hardware.card_reader_sim.remove()
    wait_until(lambda: seen.count(CardRemoved()) == 2, timeout=5)
    place_card(kiosk, TEST_CITIZENS[1])
    wait_until(lambda: [e.returning for e in seen if isinstance(e, CardRead)] == [False, True, False], timeout=5)


def test_personal_data_held_without_tls_is_said_not_hidden(make_kiosk, broker, caplog) -> None:
    """Without TLS a submission waits on the booth: the log says so once, the status lines name it and the
    LEDs go amber — while a rating (no personal data) is delivered over the same link."""
    from appliance.monitor.status_file import snapshot_lines
    from drivers.leds import LedPattern

    kiosk = make_kiosk(broker.port)
    wait_until(lambda: kiosk.link.connected, timeout=10)
    wait_until(lambda: kiosk.hardware.leds.pattern == LedPattern.READY, timeout=10)
    place_card(kiosk)
    kiosk.submit_application("RS-002", LOSS_REPORT)
    kiosk.rate("RS-002", 5)
    kiosk.end_session("finish")
    wait_until(lambda: kiosk.hardware.leds.pattern == LedPattern.DEGRADED, timeout=5)
    snapshot = kiosk.health_snapshot()
    assert snapshot["link"]["held_for_tls"] == 1
    held = "1 applications, bookings or calls for help held until the broker link is TLS"
    assert any(held in line for line in snapshot_lines(snapshot))
    held = [r for r in caplog.records if "held: they leave only over TLS" in r.getMessage()]
    assert len(held) == 1 and "欧阳" not in held[0].getMessage()
    assert kiosk.outbox.waiting(["rating"]) == 0 and kiosk.outbox.waiting(["submission"]) == 1
