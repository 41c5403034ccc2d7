"""Voice guidance on the real booth app (Xvfb, touch events through tests/ui_driver.py), its speaker the
sound device's simulator (`[speech] output = "files"`: the real espeak-ng writes each utterance to a WAV
that plays for its length; `speech.jsonl` says which utterances started, played, finished or were cut)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.services.voice import spelled
from tests.support import TEST_ID_NUMBER, TEST_NAME, kiosk_config_data, write_toml
from tests.test_screens import play_scenario

pytestmark = [pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (Debian package xvfb)"),
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package)")]

FILES = {"output": "files"}
NO_SOUND = {"output": "sound", "device": "plughw:CARD=NoSuchCard"}  # a booth whose sound device is not there
DIGITS = [["tap", f"phone_{d}"] for d in "13800000000"]


@pytest.fixture
def play(display, tmp_path: Path, broker):
    def run(steps: list, size: str = "800x480", **sections):
        return play_scenario(display, tmp_path, kiosk_config_data(tmp_path / "state", broker.port, **sections), steps,
                             size)

    return run


def journal(tmp_path: Path) -> list[dict]:
    path = tmp_path / "state" / "speech" / "speech.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def fates(entries: list[dict]) -> list[tuple[str, str]]:
    """Each utterance by its tag, with how it ended: (tag, finished|cut) in the order they started."""
    ended = {e["n"]: e["event"] for e in entries if e["event"] in ("finished", "cut", "failed")}
    return [(e["tag"], ended.get(e["n"], "unfinished")) for e in entries if e["event"] == "started"]


def test_elder_mode_says_each_screen_and_a_new_screen_cuts_the_last(play, tmp_path: Path) -> None:
    played = play([["tap", "elder"], ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"],
                   ["wait", 2.5], ["look"], ["tap", "back"], ["wait", 1], ["look"]], speech=FILES)
    assert "播报" in played.at(5)["text"], "the speaker button is in the header"
    entries = journal(tmp_path)
    said = fates(entries)
    assert [tag for tag, _ in said] == ["home", "browse", "department", "guide", "department"], said
    assert said[:4] == [("home", "cut"), ("browse", "cut"), ("department", "cut"), ("guide", "cut")], \
        "each screen's words stop when the next screen opens"
    guide = next(e for e in entries if e["tag"] == "guide" and e["event"] == "started")
    assert guide["text"].startswith("居民身份证到期换领。申请材料，共"), guide["text"]
    assert "承诺时限：" in guide["text"] and "收费标准：" in guide["text"]
    assert guide["rate_wpm"] == 145 and guide["voice"] == "cmn-latn-pinyin", "elder mode's slower pace"
    cut = next(e for e in entries if e["tag"] == "guide" and e["event"] == "cut")
    playing = next((e for e in entries if e["tag"] == "guide" and e["event"] == "playing"), None)
    if playing is not None:  # (on a loaded machine the cut may come while espeak-ng still renders it)
        assert cut["after_s"] < playing["length_s"], "cut mid-sentence, not played out"
    wav = tmp_path / "state" / "speech" / guide["wav"]
    assert wav.stat().st_size > 44, "a real WAV was rendered"


def test_the_speaker_button_speaks_a_normal_mode_screen_and_the_receipt_number_digit_by_digit(
        play, tmp_path: Path) -> None:
    played = play([["tap", "tile_browse"], ["wait", 1], ["look"], ["tap", "speak"], ["wait", 1], ["look"],
                   ["tap", "home"], ["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["card", 1],
                   ["tap", "speak"], ["wait", 1], ["tap", "next"], ["tap", "reason=遗失"], *DIGITS, ["tap", "submit"],
                   ["until", "受理编号", 30], ["tap", "speak"], ["wait", 1], ["look"]], speech=FILES)
    assert "播报" in played.at(2)["text"]
    said = fates(journal(tmp_path))
    assert said[0][0] == "browse", "normal mode says nothing until asked"
    assert [tag for tag, _ in said] == ["browse", "identify", "receipt"], said
    entries = [e for e in journal(tmp_path) if e["event"] == "started"]
    browse, identify, receipt = entries
    assert browse["text"].startswith("按部门查找。请点一个部门") and browse["rate_wpm"] == 175
    assert identify["text"] == "请刷居民身份证。已识别您的身份证，请点“下一步”。"
    printed = played.last["printed"][-1]
    number = next(line for line in printed if line.startswith("受理编号")).removeprefix("受理编号").strip()
    code = re.sub(r"\s", "", number)
    assert spelled(code) in receipt["text"], (code, receipt["text"])
    assert receipt["text"].startswith("已受理。") and "受理编号：" in receipt["text"]
    everything = "".join(e["text"] for e in journal(tmp_path))
    masked_id = TEST_ID_NUMBER[:4] + "*" * 10 + TEST_ID_NUMBER[-4:]
    for personal in (TEST_NAME, TEST_NAME[0] + "*", TEST_ID_NUMBER, TEST_ID_NUMBER[-4:], masked_id, "13800000000"):
        assert personal not in everything, personal


def test_the_countdown_is_said_in_elder_mode_and_the_citizen_leaving_silences_it(play, tmp_path: Path) -> None:
    played = play([["tap", "elder"], ["tap", "tile_browse"], ["wait", 0.5], ["idle", 110], ["wait", 1.5], ["look"],
                   ["idle", 30], ["wait", 2], ["look"]], speech=FILES,
                  session={"elder_idle_timeout_s": 120, "countdown_s": 15})
    assert any("秒后将返回首页并清除您的信息" in text for text in played.at(5)["text"])
    assert played.last["screen"] == "home" and played.last["session"] is False
    said = fates(journal(tmp_path))
    assert [tag for tag, _ in said] == ["home", "browse", "countdown"], said
    assert said[-1] == ("countdown", "cut"), "the session's end stops the words at once"
    countdown = next(e for e in journal(tmp_path) if e["tag"] == "countdown")
    assert re.match(r"\d+ 秒后将返回首页，并清除您的信息。如果还在使用，请点“我还在用”。", countdown["text"])


def test_a_booth_without_a_sound_device_says_speaker_absent_and_every_screen_works(
        play, tmp_path: Path) -> None:
    steps = [["tap", "elder"], ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"],
             ["tap", "print_notice"], ["wait", 1], ["tap", "rate"], ["tap", "level_5"], ["tap", "rate_send"],
             ["wait", 3.5], ["tap", "tile_do_here"], ["tap", "item_RS-002"], ["tap", "apply"], ["card", 1],
             ["tap", "next"], ["tap", "reason=遗失"], *DIGITS, ["tap", "submit"], ["until", "受理编号", 30], ["look"],
             ["tap", "finish"], ["tap", "tile_progress"], ["look"], ["tap", "home"], ["tap", "tile_book"], ["look"],
             ["tap", "home"], ["tap", "tile_help"], ["tap", "call_staff"], ["look"], ["tap", "home"],
             ["tap", "tile_browse"], ["tap", "search"], ["tap", "key_s"], ["tap", "key_b"], ["tap", "key_k"],
             ["idle", 50], ["wait", 1.5], ["look"], ["tap", "still_here"], ["tap", "home"], ["look"]]
    played = play(steps, speech=NO_SOUND)
    screens = [step["screen"] for step in played.steps]
    for screen in ("guide", "rate", "receipt", "progress", "book", "assist", "search", "home"):
        assert screen in screens, screen
    assert played.at(steps.index(["until", "受理编号", 30]) + 1)["screen"] == "receipt"
    assert not any("播报" in text for step in played.steps for text in step["text"]), "no speaker button"
    assert not (tmp_path / "state" / "speech").exists()
    config = write_toml(tmp_path / "status.toml", kiosk_config_data(tmp_path / "state", 1883, speech=NO_SOUND))
    shown = subprocess.run([sys.executable, "-m", "appliance.cli", "status", "--config", str(config)],
                           capture_output=True, text=True, timeout=30)
    assert "  speaker: absent (no_sound_device)" in shown.stdout.splitlines(), shown.stdout


def test_portrait_elder_mode_speaks_too(play, tmp_path: Path) -> None:
    played = play([["tap", "elder"], ["tap", "tile_help"], ["wait", 1], ["look"]], size="1080x1920", speech=FILES)
    assert "播报" in played.last["text"]
    assert [tag for tag, _ in fates(journal(tmp_path))] == ["home", "help"]
