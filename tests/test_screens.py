"""The real booth app in a real window on Xvfb, driven by touch events through the citizen's flows;
each test asserts what was on screen, what was printed (decoded by the printer simulator) and what
reached the broker."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support import kiosk_config_data, write_toml

DRIVER = Path(__file__).with_name("ui_driver.py")
pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (Debian package xvfb)")


class Played:
    def __init__(self, lines: list[dict]) -> None:
        self.steps = lines

    def at(self, index: int) -> dict:
        return self.steps[index]

    def shown(self, index: int) -> str:
        return "\n".join(self.steps[index]["text"])

    @property
    def last(self) -> dict:
        return self.steps[-1]


def receipt_number(printed: list[str], label: str = "受理编号") -> str:
    """The number on a printed receipt: the line after its label, large, in groups of four."""
    lines = [line.strip() for line in printed]
    return lines[lines.index(label) + 1].replace(" ", "")


def filed_event(state: Path, number: str) -> str:
    """The event id the booth filed under a receipt number (its own note, appliance/state/filed_here.py)."""
    with sqlite3.connect(state / "outbox.sqlite3") as db:
        return db.execute("SELECT case_ref FROM filed_here WHERE number = ?", (number,)).fetchone()[0]


def play_scenario(display: str, tmp_path: Path, config: dict, steps: list, size: str = "800x480",
                  timeout_s: float = 180) -> Played:
    """Run the booth with `config` on `display` through `steps` (tests/ui_driver.py); what each step saw."""
    config_file = write_toml(tmp_path / "kiosk.toml", config)
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(steps, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([sys.executable, str(DRIVER), str(config_file), size, str(scenario)],
                          capture_output=True, text=True, timeout=timeout_s, env={**os.environ, "DISPLAY": display})
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    errors = [line["error"] for line in lines if "error" in line]
    assert not errors, errors
    assert done.returncode == 0, done.stderr[-2000:]
    return Played(lines)


@pytest.fixture
def play(display, tmp_path: Path, broker):
    def run(steps: list, size: str = "800x480", **sections) -> Played:
        return play_scenario(display, tmp_path, kiosk_config_data(tmp_path / "state", broker.port, **sections), steps,
                             size)

    return run


def test_find_a_service_and_print_its_checklist(play) -> None:
    played = play([["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["look"],
                   ["tap", "print_notice"], ["wait", 1.5], ["look"]])
    assert played.at(3)["screen"] == "guide" and "居民身份证到期换领" in played.shown(3)
    assert "原居民身份证（原件 1份，申请人自备）" in played.shown(3)
    assert "已打印，请在出纸口取走。" in played.last["text"]
    notice = played.last["printed"][-1]
    assert notice[0] == "一次性告知单" and any("原居民身份证" in line for line in notice)


def test_printer_out_greys_print_with_the_reason_and_shows_a_banner(play) -> None:
    played = play([["printer", "paper_end", True], ["tap", "tile_browse"], ["tap", "dept_公安"],
                   ["tap", "item_GA-001"], ["tap", "print_notice"], ["look"]])
    tap = played.at(4)
    assert tap["disabled"] is True, "a greyed button does nothing"
    assert "打印机暂不可用：缺纸" in tap["text"] and "打印机暂不可用（缺纸），可用手机拍照或到窗口打印。" in tap["text"]
    assert played.last["printed"] == []


def test_search_by_pinyin_keys_and_a_candidate(play) -> None:
    played = play([["tap", "tile_browse"], ["tap", "search"], ["tap", "key_g"], ["tap", "key_j"], ["tap", "key_j"],
                   ["look"], ["tap", "cand_公积金"], ["tap", "key_space"], ["tap", "key_t"], ["tap", "key_i"],
                   ["tap", "key_q"], ["tap", "key_u"], ["look"], ["tap", "result_GJJ-002"], ["look"]])
    assert "公积金" in played.at(5)["text"], "initials offer the catalogue's own words"
    assert "公积金 tiqu" in played.at(12)["text"] and "住房公积金提取（租房）" in played.at(12)["text"]
    assert played.last["screen"] == "guide" and "住房公积金提取（租房）" in played.last["text"]


def test_apply_here_with_the_id_card_and_get_a_receipt(play) -> None:
    digits = [["tap", f"phone_{d}"] for d in "13800000000"]
    played = play([["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["look"], ["card", 1],
                   ["look"], ["tap", "next"], ["tap", "reason=遗失"], ["tap", "submit"], ["look"], *digits,
                   ["tap", "submit"], ["until", "受理编号", 30], ["tap", "finish"], ["look"]])
    assert "请将居民身份证平放在下方读卡区，不要移动，直到听到提示。" in played.at(3)["text"]
    assert any(text.startswith("已识别：欧**娜  3702**********") for text in played.at(5)["text"])
    assert "请填写：联系电话" in played.at(9)["text"], "an incomplete form is not filed"
    receipt_screen = played.at(-3)
    assert receipt_screen["screen"] == "receipt" and "回执已打印，请在出纸口取走。" in receipt_screen["text"]
    printed = receipt_screen["printed"][-1]
    number = receipt_number(printed)
    assert f"{number[:4]} {number[4:8]} {number[8:12]} {number[12:]}" in receipt_screen["text"], (
        "the number on screen is the one on paper")
    assert any("欧**娜" in line for line in printed) and not any("欧阳娜娜" in line for line in printed)
    assert played.last["screen"] == "home" and played.last["session"] is False
    assert not any("欧阳娜娜" in text for step in played.steps for text in step["text"])


def test_a_citizen_who_walks_away_mid_form_is_forgotten(play) -> None:
    played = play([["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["card", 1], ["tap", "next"],
                   ["tap", "reason=遗失"], ["idle", 50], ["look"], ["idle", 30], ["wait", 1], ["look"]],
                  session={"idle_timeout_s": 60, "countdown_s": 15})
    assert any(text.endswith("秒后将返回首页并清除您的信息") for text in played.at(7)["text"]), "a visible countdown"
    assert played.last["screen"] == "home" and played.last["session"] is False
    assert not any("欧**娜" in text for text in played.last["text"])


def test_taking_the_card_away_ends_the_identify_step(play) -> None:
    """On the identify step the card's removal forgets it (on the form it is a grace period instead:
    test_a_card_taken_off_the_form_is_warned_and_the_form_kept)."""
    played = play([["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["card", 1], ["look"],
                   ["card", 0], ["look"]])
    assert any(text.startswith("已识别：") for text in played.at(4)["text"])
    assert played.last["screen"] == "identify" and "已取走身份证。" in played.last["text"]
    assert not any(text.startswith("已识别：") for text in played.last["text"]) and played.last["session"]


def test_a_missing_card_reader_is_explained(play) -> None:
    played = play([["reader", "off"], ["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["look"]])
    assert any(text.startswith("读卡器暂不可用") for text in played.last["text"])


def test_the_kiosk_cannot_be_left(play) -> None:
    played = play([["tap", "tile_browse"], ["key", 27], ["key", 282], ["close"], ["look"]])
    assert played.last["screen"] == "browse", "Escape, F1 and closing the window change nothing"


def test_elder_mode_and_english(play) -> None:
    played = play([["tap", "elder"], ["look"], ["tap", "language"], ["look"]])
    assert "长辈模式：开" in played.at(1)["text"]
    assert "Large text: on" in played.last["text"] and "Government Self-Service" in played.last["text"]


def test_portrait_layout_works_the_same(play) -> None:
    played = play([["tap", "tile_browse"], ["tap", "dept_医保"], ["tap", "item_YB-003"], ["look"]], size="1080x1920")
    assert played.last["screen"] == "guide" and "异地就医备案" in played.last["text"]


def test_rate_after_an_application_with_reasons(play, collector, tmp_path) -> None:
    digits = [["tap", f"phone_{d}"] for d in "13800000000"]
    played = play([["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["card", 1], ["tap", "next"],
                   ["tap", "reason=遗失"], *digits, ["tap", "submit"], ["wait", 1], ["tap", "rate"],
                   ["tap", "rate_send"], ["look"], ["tap", "level_1"], ["tap", "why_排队等候时间长"],
                   ["tap", "why_设备故障"], ["tap", "why_设备故障"], ["tap", "why_操作步骤复杂"], ["tap", "rate_send"],
                   ["look"]])
    assert "请先选择一个评价等级。" in played.at(-8)["text"]
    assert "感谢您的评价！我们会认真改进。" in played.last["text"]
    receipt_screen = next(step for step in played.steps if step["screen"] == "receipt")
    case_ref = filed_event(tmp_path / "state", receipt_number(receipt_screen["printed"][-1]))
    collector.wait_for(lambda c: c.events("rating"))
    rating = collector.events("rating")[0]["payload"]
    assert (rating["item"], rating["level"], rating["label"]) == ("RS-002", 1, "非常不满意")
    assert rating["reasons"] == ["排队等候时间长", "操作步骤复杂"] and rating["case"] == case_ref


def test_rate_from_home_offers_the_services_of_this_visit(play, collector) -> None:
    played = play([["tap", "tile_rate"], ["look"], ["tap", "home"], ["tap", "tile_browse"], ["tap", "dept_公安"],
                   ["tap", "item_GA-006"], ["tap", "back"], ["tap", "back"], ["tap", "back"], ["tap", "tile_rate"],
                   ["tap", "rate_GA-006"], ["tap", "level_5"], ["tap", "rate_send"], ["wait", 3.5], ["look"]])
    assert "请先查找您办理的事项，在办事指南页点“评价”。" in played.at(1)["text"]
    assert played.last["screen"] == "home" and played.last["session"] is False, "thanked, then home"
    collector.wait_for(lambda c: c.events("rating"))
    rating = collector.events("rating")[0]["payload"]
    assert (rating["item"], rating["level"], rating["reasons"]) == ("GA-006", 5, []) and "case" not in rating


def test_a_life_event_bundle_lists_its_services(play) -> None:
    played = play([["tap", "tile_browse"], ["tap", "bundle_YJS-001"], ["look"], ["tap", "item_GA-007"], ["look"]])
    assert "新生儿出生“一件事”" in played.at(2)["text"]
    assert played.last["screen"] == "guide" and "新生儿出生登记" in played.last["text"]


def test_book_a_half_day_with_the_card_and_take_the_slip(play) -> None:
    first = next(d for d in (date.today() + timedelta(days=n) for n in range(1, 8)) if d.weekday() < 5)
    played = play([["tap", "tile_book"], ["look"], ["tap", "find"], ["tap", "dept_公安"], ["tap", "item_GA-001"],
                   ["tap", "book"], ["tap", "identify"], ["card", 1], ["tap", "next"], ["tap", "half_pm"],
                   ["tap", "book_confirm"], ["look"], ["tap", f"day_{first.isoformat()}"], ["tap", "book_confirm"],
                   ["wait", 1.5], ["look"]])
    assert "请先查找要办理的事项，在办事指南页点“预约办理”。" in played.at(1)["text"]
    assert "请选择日期和时段。" in played.at(11)["text"], "no booking without a day"
    shown = played.last["text"]  # the booking made, shown as a receipt is (its rating offered below)
    weekday = "一二三四五六日"[first.weekday()]
    assert f"已预约：{first.month}/{first.day} 周{weekday} 下午" in shown
    assert "凭条已打印，请带身份证按时到大厅取号。" in shown
    slip = played.last["printed"][-1]
    assert slip[0] == "预约凭条" and any("欧**娜" in line for line in slip)
    number = receipt_number(slip, "预约编号")
    assert f"{number[:4]} {number[4:8]} {number[8:12]} {number[12:]}" in shown, "the number on screen is on the slip"


CASE = "01JD5X3K7Q8M2N4P6R8T0V2W4Y"  # an older receipt's number: its event id, in its QR code
NUMBER = "2611230123400077"  # a receipt number (appliance/receipt_numbers.py): its check digit holds


def test_progress_by_scanning_the_receipt_qr_and_by_the_digit_pad(play, collector) -> None:
    from appliance.receipt_numbers import valid

    assert valid(NUMBER)
    asked: list[dict] = []

    def central(client, userdata, message) -> None:
        request = json.loads(message.payload)
        asked.append(request)
        found = request.get("case") == CASE or request.get("number") == NUMBER
        answer = {"id": request["id"], "found": found, "status": "审核中", "item": "RS-002",
                  "note": "预计 3 个工作日内办结，结果短信通知"}
        client.publish(message.topic.replace("/request", "/answer"), json.dumps(answer, ensure_ascii=False), qos=1)

    collector.client.message_callback_add("kiosk/v1/+/progress/request", central)
    swapped = NUMBER[:3] + NUMBER[4] + NUMBER[3] + NUMBER[5:]
    other = NUMBER[:-1] + "1"
    played = play([["wait", 2], ["scan", CASE], ["wait", 1.5], ["look"], ["tap", "home"], ["tap", "tile_progress"],
                   ["look"], *[["tap", f"num_{d}"] for d in swapped], ["look"],
                   *[["tap", "num_delete"]] * 13, *[["tap", f"num_{d}"] for d in NUMBER[3:]], ["look"],
                   ["tap", "progress_ask"], ["wait", 1.5], ["look"], ["tap", "num_delete"], ["tap", "progress_ask"],
                   ["look"], ["scan", other], ["wait", 1.5], ["look"]])
    assert played.at(3)["screen"] == "progress", "a scanned receipt opens the progress screen"
    assert "审核中\n预计 3 个工作日内办结，结果短信通知" in "\n".join(played.at(3)["text"])
    assert "请输入回执上的16位受理编号" in played.at(6)["text"] and any(
        text.startswith("也可以把回执上的二维码") for text in played.at(6)["text"]), "how to ask, in words"
    typo = played.at(7 + 16)
    assert f"{swapped[:4]} {swapped[4:8]} {swapped[8:12]} {swapped[12:]}" in typo["text"]
    assert "编号有误：有数字输错，或两位数字颠倒。请对照回执重新输入。" in typo["text"], "caught at the 16th digit"
    keyed = played.at(7 + 16 + 1 + 13 + 13)
    assert "2611 2301 2340 0077" in keyed["text"] and "编号位数已齐，请按“查询”。" in keyed["text"]
    answer = "\n".join(played.at(-7)["text"])
    assert "社会保障卡挂失\n审核中\n预计 3 个工作日内办结" in answer, answer
    assert "受理编号是16位数字，您输入了 15 位。" in played.at(-4)["text"], "a short number is not sent"
    mistyped = "编号有误：有数字输错，或两位数字颠倒。请对照回执重新输入。"
    assert mistyped in played.last["text"], "nor a scanned wrong one"
    assert [(r.get("case"), r.get("number")) for r in asked] == [(CASE, None), (None, NUMBER)], (
        "only the good ones were asked")


def test_progress_offline_says_so(play) -> None:
    played = play([["tap", "tile_progress"], *[["tap", f"num_{d}"] for d in NUMBER],
                   ["tap", "progress_ask"], ["wait", 0.5], ["look"]], broker={"port": 1})
    assert "网络中断，暂时无法查询进度。请稍后再试，或拨打 12345。" in played.last["text"]


def _pin(digits: str) -> list:
    return [*[["tap", f"pin_{d}"] for d in digits], ["tap", "pin_enter"]]


def test_maintenance_behind_a_corner_hold_and_the_admin_pin(play, collector, tmp_path) -> None:
    from appliance.state.admin_pin import hash_pin

    played = play([["hold", 1.0], ["look"], ["hold", 3.5], ["look"], *_pin("999999"), ["look"], ["wait", 2.2],
                   *_pin("246810"), ["wait", 1.0], ["look"], ["tap", "maint_print"], ["until", "打印测试页 OK", 30],
                   ["shot", str(tmp_path / "maintenance.png")], ["tap", "maint_leave"],
                   ["wait", 1.0], ["look"]],
                  admin={"pin_hash": hash_pin("246810")})
    assert played.at(1)["screen"] == "home", "a short touch in the corner is just a touch"
    assert played.at(3)["screen"] == "pin" and "请输入管理员密码" in played.shown(3)
    assert "密码错误（连续 1 次）" in played.shown(11)
    inside = played.at(21)
    assert inside["screen"] == "maintenance" and any("printer: ok" in line for line in inside["text"])
    assert any(line.startswith("  outbox: ") for line in inside["text"]) and not inside["session"]
    assert "完成：打印测试页 OK" in played.at(24)["text"] and played.at(24)["printed"][-1][0] == "打印测试 / Test page"
    assert played.last["screen"] == "home"
    statuses = [json.loads(m.payload)["status"] for m in collector.on("status")]
    assert statuses[statuses.index("maintenance") + 1] == "online"  # back in service (then offline: the test ends)
    codes = [e["payload"]["code"] for e in collector.events("alert")]
    assert codes.count("admin_pin_failed") == 1 and codes.count("admin_pin_ok") == 1


def test_the_admin_pin_locks_out_after_five_failures(play) -> None:
    from appliance.state.admin_pin import hash_pin

    tries = [step for _ in range(5) for step in [*_pin("111111"), ["wait", 2.1]]]
    played = play([["hold", 3.5], *tries, ["look"], *_pin("246810"), ["look"]], admin={"pin_hash": hash_pin("246810")})
    assert "已锁定，请于" in played.shown(len(played.steps) - 9)
    assert played.last["screen"] == "pin" and "已锁定，请于" in played.shown(len(played.steps) - 1)


def test_the_next_citizen_sees_nothing_of_the_last(play, collector, tmp_path) -> None:
    """Citizen 1 files, rates it and books; citizen 2 (after "finish", then after an idle timeout) finds
    no item, receipt, form or name of theirs on any screen, and none of it in their own events."""
    first = next(d for d in (date.today() + timedelta(days=n) for n in range(1, 8)) if d.weekday() < 5)
    digits = [["tap", f"phone_{d}"] for d in "13800000000"]
    citizen_1 = [["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "print_notice"], ["wait", 1],
                 ["tap", "apply"], ["card", 1], ["tap", "next"], ["tap", "reason=遗失"], *digits, ["tap", "submit"],
                 ["wait", 1], ["look"], ["tap", "rate"], ["tap", "level_2"], ["tap", "rate_send"], ["wait", 0.5],
                 ["tap", "home"], ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["tap", "book"],
                 ["tap", "identify"], ["card", 0], ["card", 1], ["tap", "next"], ["tap", f"day_{first.isoformat()}"],
                 ["tap", "half_am"],
                 ["tap", "book_confirm"], ["wait", 1.5], ["card", 0], ["tap", "home"]]
    citizen_2 = [["look"], ["tap", "tile_rate"], ["look"], ["tap", "home"], ["tap", "tile_book"], ["look"],
                 ["tap", "home"], ["tap", "tile_progress"], ["look"], ["tap", "home"], ["tap", "tile_browse"],
                 ["tap", "dept_公安"], ["tap", "item_GA-006"], ["idle", 200], ["wait", 1], ["look"],
                 ["tap", "tile_rate"], ["look"], ["tap", "home"], ["card", 2], ["tap", "tile_do_here"],
                 ["tap", "item_RS-002"], ["tap", "rate"], ["tap", "level_5"], ["tap", "rate_send"], ["look"]]
    played = play(citizen_1 + citizen_2)
    receipt = played.at(citizen_1.index(["look"]))
    assert receipt["screen"] == "receipt"
    number = receipt_number(receipt["printed"][-1])
    case_ref = filed_event(tmp_path / "state", number)
    second = played.steps[len(citizen_1):]
    assert second[0]["screen"] == "home" and second[0]["session"] is False
    assert "请先查找您办理的事项，在办事指南页点“评价”。" in second[2]["text"], "no rating of the last citizen's item"
    assert "请先查找要办理的事项，在办事指南页点“预约办理”。" in second[5]["text"]
    assert second[15]["screen"] == "home" and second[15]["session"] is False, "the idle timeout ended it"
    assert "请先查找您办理的事项，在办事指南页点“评价”。" in second[17]["text"], "nothing kept across a timeout"
    traces = ("欧**娜", "欧阳娜娜", case_ref, number, number[:4] + " " + number[4:8], "社会保障卡挂失", "13800000000")
    for step in second[:19]:
        shown = "\n".join(step["text"])
        assert not any(trace in shown for trace in traces), (step["step"], shown)
    collector.wait_for(lambda c: len(c.events("rating")) == 2)
    rating_1, rating_2 = (event["payload"] for event in collector.events("rating"))
    assert rating_1["case"] == case_ref and rating_1["item"] == "RS-002"
    assert "case" not in rating_2 and rating_2["session"] != rating_1["session"] and rating_2["level"] == 5


def test_a_burst_of_taps_prints_one_notice(play) -> None:
    played = play([["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"],
                   ["burst", "print_notice", 15, 1.5], ["look"], ["wait", 6], ["look"], ["tap", "print_notice"],
                   ["wait", 1.5], ["look"]])
    assert len(played.at(4)["printed"]) == 1, "fifteen taps in 1.5 s: one notice"
    assert "已打印，请在出纸口取走。" in played.at(4)["text"]
    assert "再打印一份" in played.at(6)["text"], "another copy is offered after a while"
    assert len(played.last["printed"]) == 2


def test_a_failed_print_is_said_in_plain_words(play) -> None:
    """The printer stops answering between its last status and the print: the citizen reads why in words."""
    played = play([["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["printer", "silent", True],
                   ["tap", "print_notice"], ["wait", 7], ["look"]], hardware={"printer": {"poll_s": 30}})
    shown = "\n".join(played.last["text"])
    assert "打印失败（无响应），请到窗口或呼叫工作人员。" in shown, shown
    assert "no_answer" not in shown


def test_a_card_taken_off_the_form_is_warned_and_the_form_kept(play, tmp_path) -> None:
    digits = [["tap", f"phone_{d}"] for d in "13800000000"]
    start = [["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["card", 1], ["tap", "next"],
             ["tap", "reason=遗失"], *digits]
    played = play([*start, ["card", 0], ["look"], ["card", 1], ["look"], ["tap", "submit"], ["wait", 1], ["look"],
                   ["tap", "finish"], ["card", 0],
                   *start, ["card", 0], ["card", 2], ["look"],
                   ["tap", "home"], ["card", 0], *start, ["card", 0], ["wait", 31], ["look"]])
    lifted = played.at(len(start) + 1)
    assert lifted["screen"] == "apply" and "身份证已取走，请放回同一张身份证继续填写。" in lifted["text"]
    assert "13800000000" in "\n".join(played.at(len(start) + 3)["text"]), "the same card back: the form is kept"
    assert played.at(len(start) + 6)["screen"] == "receipt", "and it files"
    other = played.at(2 * len(start) + 11)
    assert other["screen"] == "apply" and "这是另一张身份证，之前填写的内容已清除。" in other["text"]
    assert "13800000000" not in "\n".join(other["text"]) and any("张*" in text for text in other["text"])
    assert played.last["screen"] == "identify" and "身份证已取走，已填写的内容已清除。" in played.last["text"]
    with sqlite3.connect(tmp_path / "state" / "outbox.sqlite3") as db:  # held: submissions leave only over TLS
        filed = db.execute("SELECT count(*) FROM outbox WHERE kind = 'submission'").fetchone()[0]
    assert filed == 1, "only the application the citizen submitted"


def test_progress_offline_answers_for_what_this_booth_filed(play) -> None:
    digits = [["tap", f"phone_{d}"] for d in "13800000000"]
    played = play([["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["card", 1], ["tap", "next"],
                   ["tap", "reason=遗失"], *digits, ["tap", "submit"], ["wait", 1], ["look"], ["tap", "finish"],
                   ["tap", "tile_progress"], ["key_in_receipt"], ["tap", "progress_ask"], ["wait", 0.5], ["look"]],
                  broker={"port": 1})
    answer = "\n".join(played.last["text"])
    assert "社会保障卡挂失" in answer and "正在等待上报" in answer, answer


def test_rating_again_is_not_cut_short_by_the_last_thanks(play) -> None:
    played = play([["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-006"], ["tap", "rate"],
                   ["tap", "level_5"], ["tap", "rate_send"], ["tap", "back"], ["tap", "rate"], ["tap", "level_1"],
                   ["wait", 3.5], ["look"], ["tap", "home"], ["tap", "elder"], ["tap", "language"], ["look"],
                   ["idle", 300], ["wait", 1], ["look"]])
    assert played.at(10)["screen"] == "rate" and played.at(10)["session"], "the first rating's thanks took nobody home"
    assert "请告诉我们哪里不满意（可多选）：" in played.at(10)["text"]
    assert "Large text: on" in played.at(14)["text"], "the citizen who switched sees it"
    assert "长辈模式" in played.last["text"] and "English" in played.last["text"], "the next citizen: Chinese, normal"
