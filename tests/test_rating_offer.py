"""好差评 after each task: the booth offers the rating of an item as soon as a task is done (the notice printed,
the application filed, the booking made), with the item already chosen and one touch to skip; the usage ledger
counts rating_offered / rating_given / rating_skipped, and central's usage page shows the response rate.

The core without a display (what is offered, once per visit, and how each offer ends); the real app on Xvfb
driven by touch (tests/ui_driver.py) through each offer, with the task's result still in sight; a real booth
reporting to a real central (SQLite and PostgreSQL) whose usage page, in a real Chromium, shows the rate."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date, timedelta
from pathlib import Path

import pytest

from appliance.kiosk import Kiosk
from tests.browser import needs_chromium
from tests.browser import open_page as open_browser_page
from tests.central_web import add_user, logged_in, start_central
from tests.support import Mosquitto, free_port, kiosk_config_data, place_card, wait_until
from tests.test_screens import filed_event, play_scenario, receipt_number

LOSS_REPORT = {"reason": "遗失", "phone": "13800000000"}  # RS-002, social security card loss report
DIGITS = [["tap", f"phone_{d}"] for d in "13800000000"]
OFFER = ("rating_offered", "rating_given", "rating_skipped")


def offer_counts(kiosk: Kiosk) -> dict[tuple[str, str], int]:
    """The usage ledger's open window: (action, item) → count, for the rating offer's three actions."""
    with kiosk.store.read() as conn:
        rows = conn.execute("SELECT action, item, count FROM usage_counts").fetchall()
    return {(action, item): count for action, item, count in rows if action in OFFER}


def first_working_day() -> date:
    return next(d for d in (date.today() + timedelta(days=n) for n in range(1, 8)) if d.weekday() < 5)


# -- the core -------------------------------------------------------------------------------------------------
def test_each_task_offers_its_rating_once_and_every_offer_ends_given_or_skipped(make_kiosk) -> None:
    kiosk = make_kiosk(free_port())
    offers = kiosk.citizen
    kiosk.print_notice("GA-001")
    assert offers.rating_offered("GA-001"), "a notice printed offers the rating of its item"
    kiosk.print_notice("GA-001")  # another copy: the same task, asked once
    assert offer_counts(kiosk) == {("rating_offered", "GA-001"): 1}
    kiosk.rate("GA-001", 4)
    assert not offers.rating_offered("GA-001")
    kiosk.print_notice("GA-001")  # rated in this visit: a notice of it asks nothing more
    place_card(kiosk)
    receipt = kiosk.submit_application("RS-002", LOSS_REPORT)
    assert offers.rating_offered("RS-002", receipt.case_ref), "the application filed offers its rating, naming it"
    slip = kiosk.book_appointment("GA-001", kiosk.bookable_days()[0], "am")
    assert offers.rating_offered("GA-001", slip.case_ref), "a booking is a task of its own"
    offers.skip_rating("GA-001", slip.case_ref)
    offers.skip_rating("GA-001", slip.case_ref)  # a second touch counts nothing more
    assert not offers.rating_offered("GA-001", slip.case_ref)
    assert offer_counts(kiosk) == {("rating_offered", "GA-001"): 2, ("rating_given", "GA-001"): 1,
                                   ("rating_skipped", "GA-001"): 1, ("rating_offered", "RS-002"): 1}
    kiosk.end_session("finish")  # the receipt's offer still stood: skipped by leaving
    assert not offers.rating_offered("RS-002", receipt.case_ref), "the next citizen is offered nothing of the last"
    assert offer_counts(kiosk)[("rating_skipped", "RS-002")] == 1

    kiosk.print_notice("GA-006")  # the next citizen walks away from the offer: the idle timeout skips it
    session = kiosk.session
    assert session is not None and offers.rating_offered("GA-006")
    session.last_touch -= 10_000
    wait_until(lambda: kiosk.session is None, timeout=5)
    counts = offer_counts(kiosk)
    assert counts[("rating_offered", "GA-006")] == counts[("rating_skipped", "GA-006")] == 1
    offered = sum(n for (action, _item), n in counts.items() if action == "rating_offered")
    answered = sum(n for (action, _item), n in counts.items() if action != "rating_offered")
    assert offered == answered == 4, "once visits are over, offered = given + skipped"
    kiosk.rate("GA-001", 5)  # a rating nobody offered is a rating, not an answer
    assert offer_counts(kiosk) == counts
    assert kiosk.ledger.since_boot["rating_offered"] == 4 and kiosk.ledger.since_boot["rating"] == 2


def test_a_failed_print_offers_nothing(make_kiosk) -> None:
    from appliance.services.errors import CitizenError
    from tests.support import set_printer

    kiosk = make_kiosk(free_port())
    set_printer(kiosk, "paper_end")
    with pytest.raises(CitizenError):
        kiosk.print_notice("GA-001")
    assert not kiosk.citizen.rating_offered("GA-001") and offer_counts(kiosk) == {}


# -- the screens ------------------------------------------------------------------------------------------------
def test_the_rating_is_offered_after_each_task_with_the_result_in_sight(display, tmp_path: Path, broker,
                                                                          collector) -> None:
    """A notice printed, a booking made, two applications filed: each offers its rating below its result;
    "rate" opens the rate screen with the item chosen, "skip" leaves as the citizen would go next, and an offer
    left standing is skipped by the idle timeout. The ledger's counts follow each touch."""
    day = first_working_day()
    apply = [["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["card", 1], ["tap", "next"],
             ["tap", "reason=遗失"], *DIGITS, ["tap", "submit"], ["wait", 1]]
    steps = [
        # 1: the notice printed — offered on the guide; rate opens it for the item; back, then skip
        ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["tap", "print_notice"],
        ["until", "请评价本次服务", 30], ["look", "printed"], ["tap", "rate"], ["look", "rate from the guide"],
        ["tap", "back"], ["look", "back"], ["tap", "rate_skip"], ["look", "skipped"], ["wait", 6],
        ["tap", "print_notice"], ["wait", 1.5], ["look", "another copy"],
        # the booking made — its result with number and QR, the offer below; rated from it
        ["tap", "book"], ["tap", "identify"], ["card", 1], ["tap", "next"], ["tap", f"day_{day.isoformat()}"],
        ["tap", "half_pm"], ["tap", "book_confirm"], ["until", "预约编号", 30], ["fits", "booked"], ["card", 0],
        ["look", "card taken"], ["tap", "rate"], ["look", "rate the booking"], ["tap", "level_4"],
        ["tap", "rate_send"], ["wait", 3.5], ["look", "thanked"],
        # 2: an application filed — the receipt offers it; the citizen walks away: the idle timeout skips it
        *apply, ["fits", "receipt"], ["idle", 200], ["wait", 1], ["look", "timed out"], ["card", 0],
        # 3: filed again — "skip and finish"
        *apply, ["look", "receipt 2"], ["tap", "finish"], ["look", "finished"], ["card", 0],
        # 4: filed again — rated from the receipt, naming it
        *apply, ["tap", "rate"], ["look", "rate the receipt"], ["tap", "level_5"], ["tap", "rate_send"],
        ["wait", 3.5], ["look", "end"], ["card", 0],
    ]
    config = kiosk_config_data(tmp_path / "state", broker.port)
    played = play_scenario(display, tmp_path, config, steps, "800x480", timeout_s=300)

    def seen(label: str) -> dict:
        return next(step for step in played.steps if step["step"][0] in ("look", "fits") and step["step"][1] == label)

    printed = seen("printed")
    assert printed["screen"] == "guide" and "已打印，请在出纸口取走。" in printed["text"]
    assert {"请评价本次服务", "跳过", "预约办理"} <= set(printed["text"]), printed["text"]
    assert "评价" not in printed["text"], "the offer takes the plain 评价's place"
    rate = seen("rate from the guide")
    assert rate["screen"] == "rate" and "您对“居民身份证到期换领”的办理满意吗？" in rate["text"], "the item chosen"
    assert "请评价本次服务" in seen("back")["text"], "back from the rate screen: the offer still stands"
    skipped = seen("skipped")
    assert skipped["screen"] == "guide" and "请评价本次服务" not in skipped["text"] and "跳过" not in skipped["text"]
    assert "评价" in skipped["text"] and "预约办理" in skipped["text"], "one touch: the guide as it was"
    assert "请评价本次服务" not in seen("another copy")["text"], "another copy of the same notice asks nothing"

    booked = seen("booked")
    assert booked["screen"] == "book" and booked["overflow"] == [], booked["overflow"]
    assert f"已预约：{day.month}/{day.day} 周{'一二三四五六日'[day.weekday()]} 下午" in booked["text"]
    assert "凭条已打印，请带身份证按时到大厅取号。" in booked["text"]
    slip = booked["printed"][-1]
    number = receipt_number(slip, "预约编号")
    assert f"{number[:4]} {number[4:8]} {number[8:12]} {number[12:]}" in booked["text"], "the number as on the slip"
    assert {"请评价本次服务", "跳过并完成"} <= set(booked["text"]) and "返回" not in booked["text"]
    assert seen("card taken")["screen"] == "book" and "请评价本次服务" in seen("card taken")["text"], (
        "the card taken away: the booking made stays in sight, its offer too")
    assert "您对“居民身份证到期换领”的办理满意吗？" in seen("rate the booking")["text"]
    assert seen("thanked")["screen"] == "home" and seen("thanked")["session"] is False

    receipt = seen("receipt")
    assert receipt["screen"] == "receipt" and receipt["overflow"] == [], receipt["overflow"]
    filed = receipt_number(receipt["printed"][-1])
    assert f"{filed[:4]} {filed[4:8]} {filed[8:12]} {filed[12:]}" in receipt["text"]
    assert {"请评价本次服务", "跳过并完成", "回执已打印，请在出纸口取走。"} <= set(receipt["text"])
    timed_out = seen("timed out")
    assert timed_out["screen"] == "home" and timed_out["session"] is False
    assert not any(filed[:4] + " " + filed[4:8] in text or "请评价本次服务" in text for text in timed_out["text"])
    assert "请评价本次服务" in seen("receipt 2")["text"]
    assert seen("finished")["screen"] == "home" and seen("finished")["session"] is False, "skip and finish: home"
    assert "您对“社会保障卡挂失”的办理满意吗？" in seen("rate the receipt")["text"]
    assert seen("end")["screen"] == "home"

    with sqlite3.connect(tmp_path / "state" / "outbox.sqlite3") as db:
        counts = {(a, i): n for a, i, n in db.execute("SELECT action, item, count FROM usage_counts")
                  if a in OFFER}
    assert counts == {("rating_offered", "GA-001"): 2, ("rating_skipped", "GA-001"): 1,
                      ("rating_given", "GA-001"): 1, ("rating_offered", "RS-002"): 3,
                      ("rating_skipped", "RS-002"): 2, ("rating_given", "RS-002"): 1}, counts
    collector.wait_for(lambda c: len(c.events("rating")) == 2)
    by_booking, by_receipt = (event["payload"] for event in collector.events("rating"))
    last_number = receipt_number(seen("rate the receipt")["printed"][-1])
    assert by_receipt["item"] == "RS-002" and by_receipt["case"] == filed_event(tmp_path / "state", last_number)
    assert by_booking["item"] == "GA-001" and by_booking["level"] == 4 and by_booking["case"]


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
@pytest.mark.parametrize("size", ["800x480", "1080x1920"])
def test_the_offers_fit_at_both_sizes_and_modes(display, tmp_path: Path, size: str, elder: bool) -> None:
    """The booking made and the notice printed, each with its offer, in both modes and sizes: the booking's
    number, QR code and offer without scrolling; the guide's offer and its actions in sight; in English too."""
    again = [["tap", "elder"]] if elder else []
    day = first_working_day()

    def book(half: str, offered: str, booked: str) -> list:  # the offer and the booking, waited for in their words
        return [["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["tap", "print_notice"],
                ["until", offered, 30], ["look", "guide"], ["tap", "book"], ["tap", "identify"], ["card", 1],
                ["tap", "next"], ["tap", f"day_{day.isoformat()}"], ["tap", f"half_{half}"], ["tap", "book_confirm"],
                ["until", booked, 30]]

    in_chinese, in_english = book("am", "请评价本次服务", "预约编号"), book("pm", "Rate this service", "Booking number")
    steps = [*again, *in_chinese, ["fits", "booked"], ["tap", "need_help"], ["tap", "back"], ["fits", "booked again"],
             ["tap", "finish"], ["card", 0], *again, ["tap", "language"], *in_english, ["fits", "booked in English"],
             ["tap", "finish"], ["card", 0]]
    config = kiosk_config_data(tmp_path / "state", 1, device={"booth_code": "01234"})
    played = play_scenario(display, tmp_path, config, steps, size, timeout_s=400)
    guides = [step for step in played.steps if step["step"] == ["look", "guide"]]
    assert {"请评价本次服务", "跳过", "预约办理"} <= set(guides[0]["text"])
    assert {"Rate this service", "Skip", "Book a visit"} <= set(guides[1]["text"]), guides[1]["text"]
    booked, again_shown, english = (step for step in played.steps if step["step"][0] == "fits")
    assert [s["screen"] for s in (booked, again_shown, english)] == ["book"] * 3
    assert all(s["overflow"] == [] for s in (booked, again_shown, english)), [
        s["overflow"] for s in (booked, again_shown, english)]
    assert {"请评价本次服务", "跳过并完成", "预约编号"} <= set(booked["text"])
    assert set(again_shown["text"]) >= {"请评价本次服务", "预约编号"}, "a rebuild keeps the booking made and its offer"
    assert {"Rate this service", "Skip and finish", "Booking number"} <= set(english["text"]), english["text"]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package)")
def test_elder_mode_says_each_offer(display, tmp_path: Path) -> None:
    """Voice guidance in elder mode: the notice printed and its offer; the booking made (its half-day, its number
    digit by digit) and its offer — and the receipt's, where "完成并退出" was said before."""
    from appliance.services.voice import spelled
    from tests.test_voice_screens import journal

    day = first_working_day()
    steps = [["tap", "elder"], ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"],
             ["tap", "print_notice"], ["until", "请评价本次服务", 30], ["tap", "book"], ["tap", "identify"],
             ["card", 1], ["tap", "next"], ["tap", f"day_{day.isoformat()}"], ["tap", "half_am"],
             ["tap", "book_confirm"], ["until", "预约编号", 30],
             ["look", "booked"], ["tap", "finish"], ["card", 0]]
    config = kiosk_config_data(tmp_path / "state", 1, speech={"output": "files"})
    played = play_scenario(display, tmp_path, config, steps, "800x480", timeout_s=300)
    said = [(e["tag"], e["text"]) for e in journal(tmp_path) if e["event"] == "started"]
    offered = [text for tag, text in said if tag == "rate_offer"]
    assert offered and offered[0].startswith("已打印，请在出纸口取走。") and "请评价本次服务" in offered[0], said
    number = receipt_number(played.at(len(steps) - 3)["printed"][-1], "预约编号")
    booked = [text for tag, text in said if tag == "book" and "已预约" in text]
    assert booked, said
    weekday = "一二三四五六日"[day.weekday()]
    assert f"已预约：{day.month}月{day.day}日，星期{weekday} 上午" in booked[-1], booked[-1]
    assert spelled(number) in booked[-1] and booked[-1].endswith("请点“请评价本次服务”，或者点“跳过并完成”。")


# -- central ------------------------------------------------------------------------------------------------------
@needs_chromium
def test_the_usage_page_shows_the_response_rate(database: str, tmp_path: Path, make_kiosk, chromium) -> None:
    """A real booth's visits reach a real central as its usage report: the response rate (given ÷ offered) per
    item and overall, in the API and on the usage page."""
    broker = Mosquitto(tmp_path / "broker").start()
    central = start_central(broker.port, database)
    contexts = []
    try:
        add_user(central.db, "lina", "viewer")
        kiosk = make_kiosk(broker.port)
        wait_until(lambda: kiosk.link.connected, timeout=10)
        kiosk.print_notice("GA-001")  # offered, then rated: given
        kiosk.rate("GA-001", 5)
        kiosk.end_session("finish")
        kiosk.print_notice("GA-001")  # offered, then skipped
        kiosk.citizen.skip_rating("GA-001")
        place_card(kiosk)
        kiosk.submit_application("RS-002", LOSS_REPORT)  # offered, and the citizen leaves: skipped
        kiosk.end_session("finish")
        assert kiosk.ledger.flush()
        web = logged_in(central.url, "lina")

        def response() -> dict | None:
            shown = web.get("/api/usage?days=14").json()["ratings"]["response"]
            return shown if shown["offered"] == 3 else None

        shown = wait_until(response, timeout=20)
        assert (shown["offered"], shown["given"], shown["skipped"]) == (3, 1, 2)
        assert abs(shown["rate"] - 1 / 3) < 1e-9
        per_item = {entry["item"]: entry for entry in shown["per_item"]}
        assert [entry["item"] for entry in shown["per_item"]] == ["GA-001", "RS-002"], "most offered first"
        assert (per_item["GA-001"]["rate"], per_item["RS-002"]["rate"]) == (0.5, 0.0)
        assert per_item["GA-001"]["item_name"] == "居民身份证到期换领"

        problems: list[str] = []
        context, page = open_browser_page(chromium, central.url, "lina", {"width": 1280, "height": 800}, problems)
        contexts.append(context)
        page.goto(central.url + "/usage")
        page.wait_for_selector("#response-per-item tbody tr[data-response='GA-001']")
        assert page.inner_text("#response-rate") == "33.3%"
        assert "(1/3)" in page.inner_text(".count:has(#response-rate)")
        row = page.locator("#response-per-item tbody tr[data-response='GA-001']")
        assert [row.locator(f"td.{c}").inner_text() for c in ("offered", "given", "skipped", "rate")] == [
            "2", "1", "1", "50.0%"]
        assert "居民身份证到期换领" in row.inner_text()
        assert page.locator("#response-per-item tbody tr[data-response='RS-002'] td.rate").inner_text() == "0.0%"
        assert "邀请 3 次，应邀评价 1 次，跳过 2 次" in page.inner_text("#response-summary")
        assert not problems, problems
        web.close()
    finally:
        for context in contexts:
            context.close()
        central.stop()
        broker.stop()
