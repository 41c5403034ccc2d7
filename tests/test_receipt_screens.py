"""Receipt numbers on the real booth app (Xvfb, touch events, tests/ui_driver.py): the receipt shows the number
large with its QR code whole; the progress screen's digit pad; the citizen's own cases when they place their ID
card, answered by a real central over the production broker (TLS, ACL); and every screen of these flows fits
without scrolling at 800×480 and 1080×1920, in normal and in elder mode (the ["fits"] step reports a scroll
view with more than it shows, a widget reaching outside the screen's body, or text taller than its label)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from central.database import Database
from central.intake import Intake
from central.settings import build_settings
from central.tables import cases
from tests.support import Mosquitto, kiosk_config_data, make_test_ca, wait_until
from tests.test_screens import play_scenario, receipt_number

DIGITS = [["tap", f"phone_{d}"] for d in "13800000000"]


def apply_here(elder: bool = False, short: bool = False) -> list:
    """Citizen 1 applies at the booth: a loss report (a choice and a phone number), or (`short`) a certificate of
    household registration, one choice only (what the slower portrait runs take)."""
    again = [["tap", "elder"]] if elder else []
    form = [["tap", "kind=户籍信息证明"]] if short else [["tap", "reason=遗失"], ["wait", 0.5], *DIGITS, ["wait", 0.5]]
    return [*again, ["tap", "tile_do_here"], ["tap", "item_GA-010" if short else "item_RS-002"], ["tap", "apply"],
            ["card", 1], ["tap", "next"], *form, ["tap", "submit"], ["wait", 1.5]]


def fits_everywhere(elder: bool, short: bool = False) -> list:
    """A citizen's receipt, rating with reasons, progress by number and by card — each screen checked."""
    again = [["tap", "elder"]] if elder else []
    return [*apply_here(elder, short), ["fits"], ["tap", "rate"], ["tap", "level_1"], ["tap", "why_排队等候时间长"],
            ["fits"], ["tap", "home"], *again, ["tap", "tile_progress"], ["fits"], ["key_in_receipt"],
            ["tap", "progress_ask"], ["wait", 1], ["fits"], ["card", 0], ["card", 1], ["wait", 1.5], ["fits"],
            ["tap", "home"], ["card", 0], *again, ["tap", "language"], ["tap", "tile_browse"], ["tap", "dept_公安"],
            ["tap", "item_GA-006"], ["tap", "rate"], ["fits"], ["tap", "level_1"], ["fits"], ["tap", "home"]]


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
@pytest.mark.parametrize("size", ["800x480", "1080x1920"])
def test_receipt_rating_and_progress_fit_without_scrolling(display, tmp_path: Path, size: str, elder: bool) -> None:
    """Offline (the banner takes its room too): nothing scrolls, nothing reaches outside the body; the receipt's
    QR code is on screen whole, the rating's seven reasons and "send" at once, a citizen's two cases by card."""
    config = kiosk_config_data(tmp_path / "state", 1, device={"booth_code": "01234"})
    short = size != "800x480"
    twice = [*apply_here(elder, short), ["tap", "finish"], ["card", 0]]  # the same citizen twice: two cases by card
    played = play_scenario(display, tmp_path, config, twice + fits_everywhere(elder, short), size, timeout_s=400)
    checked = [step for step in played.steps if step["step"] == ["fits"]]
    assert [step["screen"] for step in checked] == ["receipt", "rate", "progress", "progress", "progress", "rate",
                                                     "rate"], "and the rating in English, before and after a low level"
    assert all(step["overflow"] == [] for step in checked), [(s["screen"], s["overflow"]) for s in checked
                                                             if s["overflow"]]
    receipt, rating = checked[0], checked[1]
    assert any(len(text) == 19 and text.replace(" ", "").isdigit() for text in receipt["text"]), "the number large"
    assert {"排队等候时间长", "办事指南不清楚", "未能办结", "提交评价"} <= set(rating["text"])
    by_card = "\n".join(checked[4]["text"])
    assert "您的办件（共 2 件，最新的在前）：" in by_card and by_card.count("本机已受理，等待上报") == 2, (
        "offline, the booth's own notes answer")


def test_with_the_printer_out_too_the_7_inch_elder_screens_say_both_in_one_line_and_fit(display, tmp_path: Path
                                                                                         ) -> None:
    """Offline and the printer out: on the 7-inch panel in elder mode both are said in one status line (two lines
    left a receipt that did not print, and the rating's reasons, no room); a receipt not printed and the rating
    after a low level fit, in Chinese and in English. Normal mode keeps the two banners in full."""
    config = kiosk_config_data(tmp_path / "state", 1, device={"booth_code": "01234"})
    steps = [["printer", "paper_end", True], *apply_here(), ["look"], ["tap", "finish"], ["card", 0],
             *apply_here(elder=True), ["fits"], ["tap", "rate"], ["tap", "level_2"], ["fits"], ["tap", "home"],
             ["card", 0], ["tap", "elder"], ["tap", "language"], *apply_here(), ["fits"], ["tap", "rate"],
             ["tap", "level_2"], ["fits"], ["tap", "home"], ["card", 0]]
    played = play_scenario(display, tmp_path, config, steps, "800x480", timeout_s=300)
    normal = next(step for step in played.steps if step["step"] == ["look"])
    assert {"网络暂时中断：您的办理会保存在本机，恢复后自动上报。", "打印机暂不可用（缺纸），可用手机拍照或到窗口打印。"
            } <= set(normal["text"]), normal["text"]
    checked = [step for step in played.steps if step["step"] == ["fits"]]
    assert [step["screen"] for step in checked] == ["receipt", "rate", "receipt", "rate"]
    assert all(step["overflow"] == [] for step in checked), [(s["screen"], s["overflow"]) for s in checked
                                                             if s["overflow"]]
    receipt, rating, english, english_rating = checked
    assert "网络中断，办理会保存；打印机暂不可用（缺纸）" in receipt["text"], receipt["text"]
    assert any(text.startswith("回执未能打印") for text in receipt["text"]), receipt["text"]
    assert {"排队等候时间长", "提交评价"} <= set(rating["text"])
    assert "Offline, your work is kept; Printer unavailable (out of paper)" in english["text"], english["text"]
    assert any(text.startswith("Not printed") for text in english["text"]) and "Send" in " ".join(
        english_rating["text"]), english_rating["text"]


@pytest.fixture
def central_site(tmp_path: Path, display):
    """The production broker (TLS, ACL) and a real central on it; the booth app is test-kiosk-0001."""
    tls = make_test_ca(tmp_path / "tls", "test-kiosk-0001")
    broker = Mosquitto(tmp_path / "broker", tls=tls, production=True).start()
    cert, key = tls.issue("central-1")
    database = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    settings = build_settings(broker_host="localhost", broker_port=broker.port, ca_file=tls.ca, cert_file=cert,
                              key_file=key, database=database, personal_data_key=tmp_path / "personal-data.key")
    central = Intake(settings, Database(database))
    central.start()
    wait_until(central.connected.is_set)
    config = kiosk_config_data(tmp_path / "state", broker.port, device={"booth_code": "01234"}, broker={"tls": {
        "ca_file": str(tls.ca), "cert_file": str(tls.client_cert), "key_file": str(tls.client_key)}})
    yield central, config
    central.stop()
    broker.stop()


def test_placing_the_id_card_shows_the_citizens_own_cases_from_central(display, tmp_path: Path, central_site) -> None:
    central, config = central_site
    steps = [*apply_here(), ["tap", "finish"], ["card", 0], ["wait", 2],  # central records the application
             ["tap", "tile_progress"], ["card", 1], ["until", "已受理", 15], ["look"], ["fits"],
             ["tap", "home"], ["card", 0], ["tap", "tile_progress"], ["card", 2], ["until", "没有查到", 15], ["look"],
             ["tap", "progress_key_in"], ["key_in_receipt"], ["tap", "progress_ask"], ["until", "办件编号", 15],
             ["look"], ["tap", "home"], ["card", 0]]
    played = play_scenario(display, tmp_path, config, steps, "800x480")
    filed = next(step for step in played.steps if step["screen"] == "receipt")
    number = receipt_number(filed["printed"][-1])
    shown = f"{number[:4]} {number[4:8]} {number[8:12]} {number[12:]}"
    looks = [step for step in played.steps if step["step"] == ["look"]]
    mine = "\n".join(looks[0]["text"])
    assert "您的办件（共 1 件，最新的在前）：" in mine and "社会保障卡挂失　已受理" in mine and shown in mine, mine
    assert "欧**娜" not in mine and "欧阳娜娜" not in mine, "a case is shown as its receipt shows it, without a name"
    assert [s["overflow"] for s in played.steps if s["step"] == ["fits"]] == [[]]
    theirs = "\n".join(looks[1]["text"])
    assert "没有查到您在自助终端办理的事项。" in theirs and shown not in theirs, "another card: none of the first's"
    with central.db.read() as conn:
        case_no = conn.execute(select(cases.c.case_no)).scalar_one()
    by_number = "\n".join(looks[2]["text"])
    assert f"办件编号 {case_no}" in by_number and "已受理" in by_number and shown in by_number
