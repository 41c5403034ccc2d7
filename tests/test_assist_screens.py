"""帮办代办 on the real booth app (Xvfb, touch events, tests/ui_driver.py), with a real TLS Mosquitto and
central's desk played by tests/assist_central.py: the "需要帮助" button on every screen of a citizen's
flows, the way to be helped, a call-back number keyed in (a wrong one explained), the call's truthful
status as central answers, the hotline when no one comes, and always a way back or out."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.contract import AssistMode, AssistState
from tests.assist_central import ScriptedDesk, Step
from tests.support import Mosquitto, TlsFiles, kiosk_config_data
from tests.test_screens import Played, play_scenario

PHONE = "13912345678"
NUMBER = [["tap", f"cb_{digit}"] for digit in PHONE]


@pytest.fixture
def booth(display, tmp_path: Path, tls_broker: Mosquitto, tls: TlsFiles):
    """booth(steps, scripts, **config sections): the booth on the TLS broker while the desk answers by `scripts`;
    returns what the screens showed and the assist requests the desk received."""

    def run(steps: list, scripts: list[list[Step]] = (), size: str = "800x480", **sections) -> tuple[Played, list]:
        desk = ScriptedDesk(tls_broker, list(scripts))
        try:
            config = kiosk_config_data(tmp_path / "state", tls_broker.port, broker={"tls": {
                "ca_file": str(tls.ca), "cert_file": str(tls.client_cert), "key_file": str(tls.client_key)}},
                **sections)
            played = play_scenario(display, tmp_path, config, steps, size)
            return played, desk.events("assist")
        finally:
            desk.close()

    return run


def ask_from_here(screen: str) -> list:
    """On `screen`: the help button opens the choice of help, and back returns to where the citizen was."""
    return [["tap", "need_help"], ["look"], ["tap", "back"], ["look", screen]]


def test_every_screen_of_a_citizen_flow_offers_help_and_the_way_back(booth) -> None:
    steps = [
        ["tap", "tile_browse"], *ask_from_here("browse"), ["tap", "dept_公安"], *ask_from_here("department"),
        ["tap", "item_GA-001"], *ask_from_here("guide"), ["tap", "book"], *ask_from_here("book"), ["tap", "back"],
        ["tap", "rate"], *ask_from_here("rate"), ["tap", "home"],
        ["tap", "tile_browse"], ["tap", "search"], *ask_from_here("search"), ["tap", "back"],
        ["tap", "bundle_YJS-001"], *ask_from_here("bundle"), ["tap", "home"],
        ["tap", "tile_progress"], *ask_from_here("progress"), ["tap", "home"],
        ["tap", "tile_do_here"], *ask_from_here("do_here"), ["tap", "item_RS-002"], ["tap", "apply"],
        *ask_from_here("identify"), ["card", 1], ["tap", "next"], ["tap", "reason=遗失"],
        *[["tap", f"phone_{d}"] for d in "13800000000"],
        *ask_from_here("apply"), ["tap", "submit"], ["wait", 1],  # the form as filled before asking: filed
        *ask_from_here("receipt"), ["tap", "need_help"], ["tap", "assist_on_site"], ["until", "求助已送达", 15],
    ]
    played, requests = booth(steps, [[(None, AssistState.QUEUED, AssistMode.ON_SITE, {"escalate_after_s": 180})]],
                             assist={"on_site": True})
    asked = [step for step in played.steps if step["step"] == ["tap", "need_help"]]
    opened = [played.steps[n + 1] for n, step in enumerate(played.steps) if step["step"] == ["tap", "need_help"]]
    returned = [step for step in played.steps if step["step"][0] == "look" and len(step["step"]) == 2]
    expected = ["browse", "department", "guide", "book", "rate", "search", "bundle", "progress", "do_here",
                "identify", "apply", "receipt"]
    assert [step["screen"] for step in asked] == [*expected, "receipt"]
    assert all(step["screen"] == "assist" and "您希望怎样获得帮助？" in step["text"] for step in opened[:-1])
    assert [(step["screen"], step["step"][1]) for step in returned] == [(name, name) for name in expected], (
        "back leads to the screen the citizen asked from")
    assert played.last["screen"] == "assist_status" and "帮助方式：到机旁帮助" in played.last["text"]
    [request] = requests
    assert (request["payload"]["screen"], request["payload"]["item"], request["payload"]["mode"]) == (
        "receipt", "RS-002", "on_site"), "the call says where the citizen was stuck"


def labelled(played: Played, label: str) -> dict:
    """What the screen showed at the step ["look", label]."""
    return next(step for step in played.steps if step["step"] == ["look", label])


def test_a_call_back_number_keyed_in_then_the_call_taken(booth, tmp_path) -> None:
    seen_queued = tmp_path / "queued.png"
    steps = [
        ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["tap", "need_help"], ["look", "choose"],
        ["tap", "assist_call_back"], *NUMBER[:7], ["tap", "phone_confirm"], ["look", "wrong"], ["tap", "cb_delete"],
        ["tap", "cb_4"], *NUMBER[7:], ["look", "typed"], ["tap", "phone_confirm"], ["until", "求助已送达", 15],
        ["wait", 1.5], ["look", "queued"], ["shot", str(seen_queued)], ["until", "分钟内回电", 15], ["look", "taken"],
        ["tap", "back"], ["look", "back"], ["tap", "need_help"], ["look", "again"], ["tap", "finish"], ["look", "end"],
    ]
    script = [(None, AssistState.QUEUED, AssistMode.CALL_BACK, {"escalate_after_s": 180}),
              (seen_queued, AssistState.TAKEN, AssistMode.CALL_BACK, {"operator": "李明", "call_back_within_min": 10})]
    played, requests = booth(steps, [script])  # [assist] on_site is off: a call back is the only way offered
    choose = labelled(played, "choose")
    assert choose["screen"] == "assist" and any(text.startswith("[b]电话回拨") for text in choose["text"])
    assert not any("到机旁帮助" in text for text in choose["text"]), "nobody can come: not offered"
    wrong = labelled(played, "wrong")
    assert wrong["screen"] == "assist_phone" and any(text.startswith("这个号码打不通") for text in wrong["text"])
    assert "139 1234" in wrong["text"], "a wrong number stays to be mended"
    assert "139 1234 5678" in labelled(played, "typed")["text"], "the number as the citizen reads it back"
    queued = "\n".join(labelled(played, "queued")["text"])
    assert "求助已送达，正在等待工作人员接单。" in queued and "已等待 0 分" in queued
    assert "帮助方式：电话回拨 139****5678" in queued
    taken = labelled(played, "taken")["text"]
    assert "工作人员已接单，将在 10 分钟内回电" in taken and "接单人：李明" in taken
    back = labelled(played, "back")
    assert back["screen"] == "guide", "back goes to the task, not into the number pad"
    assert "求助进度" in back["text"], "the help button now says a call is in hand"
    assert labelled(played, "again")["screen"] == "assist_status"
    assert played.last["screen"] == "home" and played.last["session"] is False
    after = played.steps[played.steps.index(labelled(played, "typed")) + 2:]
    assert not [step["step"] for step in after if any(PHONE in text for text in step["text"])], (
        "after entry the number is shown masked only")
    [request] = requests
    assert request["payload"]["phone"] == PHONE and request["payload"]["screen"] == "guide"


def test_no_one_takes_the_call_the_hotline_then_a_late_take_reaches_the_citizen(booth, tmp_path) -> None:
    """Escalated: the hotline, and the same call stays this citizen's (no second request filed: the desk
    would see two, and the one an operator takes might not be the one the booth listens for)."""
    late = tmp_path / "late.png"
    steps = [["tap", "tile_help"], ["look"], ["tap", "call_staff"], ["tap", "assist_on_site"],
             ["until", "还没有工作人员接单", 15], ["look"], ["tap", "back"], ["look"], ["tap", "call_staff"],
             ["look"], ["shot", str(late)], ["until", "工作人员已接单", 15], ["look"], ["tap", "finish"]]
    script = [(None, AssistState.QUEUED, AssistMode.ON_SITE, {"escalate_after_s": 180}),
              (None, AssistState.ESCALATED, AssistMode.ON_SITE, {"waited_s": 181}),
              (late, AssistState.TAKEN, AssistMode.ON_SITE, {"operator": "李明"})]
    played, requests = booth(steps, [script], size="1080x1920", assist={"on_site": True})
    assert "呼叫工作人员" in played.at(1)["text"] and "需要帮助" not in played.at(1)["text"]
    escalated = played.at(5)
    assert escalated["screen"] == "assist_status" and "政务服务便民热线 12345" in escalated["text"]
    assert any(text.startswith("暂时还没有工作人员接单。\n求助仍在排队") for text in escalated["text"])
    assert "再次呼叫" not in escalated["text"], "a call nobody took yet is still open: no second one"
    assert played.at(7)["screen"] == "help"
    assert played.at(9)["screen"] == "assist_status", "asking again shows the call in hand"
    taken = played.at(12)
    assert "工作人员已接单，请稍候" in taken["text"] and "接单人：李明" in taken["text"], "a late take reaches them"
    assert [r["payload"]["screen"] for r in requests] == ["help"]


def test_offline_the_call_is_saved_and_the_hotline_shown(display, tmp_path) -> None:
    steps = [["tap", "tile_browse"], ["tap", "need_help"], ["tap", "assist_on_site"], ["wait", 1], ["look"],
             ["tap", "back"], ["look"]]
    played = play_scenario(display, tmp_path, kiosk_config_data(tmp_path / "state", 1, assist={"on_site": True}),
                           steps)
    saved = played.at(4)
    assert "求助已保存，联网后会自动发送。\n急需帮助请拨打 12345" in saved["text"]
    assert "政务服务便民热线 12345" in saved["text"] and not any("已通知" in text for text in saved["text"])
    assert played.last["screen"] == "browse"
