"""帮办代办 end to end, as a citizen and an operator meet it: the real booth app in a window on Xvfb,
driven by touches, files its calls for help through the production broker (TLS, client certificates,
ACL) to the real central, whose assist desk an operator watches in headless Chromium.

One scenario, in the order a day brings it:
1. a citizen asks for someone to come: the desk shows it within seconds with the booth's site, the
   operator takes it, and the booth says a member of staff took it, by name;
2. a citizen asks for a call back at a number keyed in on the screen: nobody takes it, central
   escalates it (red on the desk) and the booth says so honestly and shows the 12345 hotline;
3. the broker is down: the booth says the call is saved and offers the hotline — never that staff
   were called — and once the broker is back the booth delivers it, central shows it, and the booth
   says it has arrived.
Central's database is the count that matters: three requests, each once. The phone number reaches
the operator who asks for it, and no log line of either side.

Screenshots of every state at the booth (800×480) and of the desk go to $ASSIST_SCREENSHOTS, else a
temporary folder; `tests/capture_screens.py` makes every state at both sizes for the README.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from central.tables import assists, audit_log, events
from tests.browser import needs_chromium, open_page
from tests.central_web import add_user, logged_in, start_central
from tests.support import Mosquitto, kiosk_config_data, make_test_ca, write_toml

DEVICE = "test-kiosk-0001"
SITE = "测试网点 · 朝阳门社区服务站"
OPERATOR, DISPLAY_NAME = "wangfang", "王芳"
PHONE = "13912345678"
ESCALATE_S = 10  # --assist-escalation-s, short so the test sees a request escalated
DRIVER = Path(__file__).with_name("ui_driver.py")
pytestmark = needs_chromium


class Booth:
    """The booth app playing a scenario in its own process; its step lines are read as they come, so
    the test can act (take a request, stop the broker) while the booth waits on screen."""

    def __init__(self, config: Path, scenario: list, display: str, work: Path) -> None:
        path = work / "scenario.json"
        path.write_text(json.dumps(scenario, ensure_ascii=False), encoding="utf-8")
        self.log = (work / "booth.log").open("w+", encoding="utf-8")
        self.process = subprocess.Popen([sys.executable, str(DRIVER), str(config), "800x480", str(path)],
                                        stdout=subprocess.PIPE, stderr=self.log, text=True,
                                        env={**os.environ, "DISPLAY": display})
        self.lines: queue.Queue[dict] = queue.Queue()
        self.steps: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith("{"):
                self.lines.put(json.loads(line))

    def reached(self, step: list, timeout: float = 90) -> dict:
        """Wait for the booth to report `step` (its line comes when the step is done); fail on an error."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"the booth did not reach {step} in {timeout} s\n{self.tail()}") from None
            self.steps.append(line)
            assert "error" not in line, f"the booth stopped at {line['step']}: {line['error']}\n{self.tail()}"
            if line["step"] == step:
                return line

    def shown(self, line: dict) -> str:
        return "\n".join(line["text"])

    def tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-3000:]

    def finish(self) -> str:
        self.process.wait(timeout=60)
        for line in iter(lambda: self._next(), None):
            self.steps.append(line)
        assert self.process.returncode == 0, self.tail()
        return self.tail()

    def _next(self) -> dict | None:
        try:
            return self.lines.get_nowait()
        except queue.Empty:
            return None


@pytest.fixture
def office(tmp_path: Path) -> Iterator[dict]:
    """The production broker with the booth's and central's certificates, and central with one operator."""
    tls = make_test_ca(tmp_path / "tls", DEVICE)
    broker = Mosquitto(tmp_path / "broker", tls=tls, production=True).start()
    cert, key = tls.issue("central-1")
    central = start_central(broker.port, f"sqlite:///{tmp_path / 'central.sqlite3'}", broker_host="localhost",
                            ca_file=tls.ca, cert_file=cert, key_file=key, client_id="central-1",
                            assist_escalation_s=ESCALATE_S)
    add_user(central.db, OPERATOR, "operator", display_name=DISPLAY_NAME)
    try:
        yield {"tls": tls, "broker": broker, "central": central}
    finally:
        central.stop()
        broker.stop()


def test_a_call_for_help_reaches_a_person_and_the_booth_tells_the_truth(office, display, chromium,
                                                                          tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    tls, broker, central = office["tls"], office["broker"], office["central"]
    shots = Path(os.environ.get("ASSIST_SCREENSHOTS") or tmp_path / "shots")
    config = kiosk_config_data(tmp_path / "state", broker.port, device={"site": SITE},
                               assist={"on_site": True, "answer_timeout_s": 120},
                               # the booth may reconnect before central does, and the broker then has nobody to
                               # give the call to: it is sent again once central's confirmation is overdue
                               outbox={"confirm_timeout_s": 3},
                               broker={"host": "localhost", "reconnect_min_s": 1, "reconnect_max_s": 2, "tls": {
                                   "ca_file": str(tls.ca), "cert_file": str(tls.client_cert),
                                   "key_file": str(tls.client_key)}})
    broker_down, broker_up = tmp_path / "broker-down", tmp_path / "broker-up"
    taken_shown = ["until", DISPLAY_NAME, 60]
    escalated_shown = ["until", "暂时还没有工作人员接单", 60]
    saved_shown = ["until", "求助已保存", 30]
    queued_again = ["until", "求助已送达", 90]
    first_queued, second_queued = ["until", "求助已送达", 30], ["until", "求助已送达", 31]
    scenario = [
        ["wait", 1],
        # 1. someone to come to the booth, asked from the help screen
        ["tap", "tile_help"], ["tap", "call_staff"], ["tap", "assist_on_site"], first_queued,
        ["shot", str(shots / "1-queued.png")],
        taken_shown, ["shot", str(shots / "2-taken.png")], ["tap", "finish"],
        # 2. a call back at a number keyed in, from a guide's 需要帮助; nobody takes it
        ["tap", "tile_browse"], ["tap", "dept_公安"], ["tap", "item_GA-001"], ["tap", "need_help"],
        ["tap", "assist_call_back"],
        *[["tap", f"cb_{digit}"] for digit in PHONE], ["shot", str(shots / "3-phone.png")], ["tap", "phone_confirm"],
        second_queued, escalated_shown, ["shot", str(shots / "4-no-answer.png")], ["tap", "finish"],
        # 3. the broker is down
        ["await", str(broker_down), 30],
        ["tap", "tile_help"], ["tap", "call_staff"], ["tap", "assist_on_site"], saved_shown,
        ["shot", str(shots / "5-saved.png")],
        ["await", str(broker_up), 30], queued_again, ["shot", str(shots / "6-delivered.png")], ["tap", "finish"],
    ]
    booth = Booth(write_toml(tmp_path / "kiosk.toml", config), scenario, display, tmp_path)

    problems: list[str] = []
    context, page = open_page(chromium, central.url, OPERATOR, {"width": 1366, "height": 768}, problems)
    with context:
        page.goto(central.url + "/assists")
        rows = page.locator("#open tbody tr[data-assist]")

        # 1. the desk shows the request with the booth's site; the operator takes it; the booth names them
        line = booth.reached(first_queued)
        assert "求助已送达" in booth.shown(line) and DISPLAY_NAME not in booth.shown(line)
        expect(rows).to_have_count(1, timeout=10_000)
        expect(rows.first).to_contain_text("朝阳门社区服务站")
        expect(rows.first).to_contain_text(DEVICE)
        rows.first.locator("button.take").click()
        expect(rows.first).to_contain_text(DISPLAY_NAME)
        page.screenshot(path=str(shots / "desk-1-taken.png"))
        line = booth.reached(taken_shown)
        assert "工作人员已接单" in booth.shown(line)

        # 2. the call back nobody takes: red on the desk, the hotline on the booth
        booth.reached(second_queued)
        waiting = page.locator("#open tbody tr[data-assist][data-state='open']")
        expect(waiting).to_have_count(1, timeout=10_000)
        expect(waiting.first).to_have_attribute("data-escalated", "true", timeout=(ESCALATE_S + 10) * 1000)
        page.screenshot(path=str(shots / "desk-2-escalated.png"))
        line = booth.reached(escalated_shown)
        assert "12345" in booth.shown(line)
        assert PHONE not in booth.shown(line)  # masked on the status screen

        # 3. the broker goes down; the booth keeps the call and says so; it arrives once the broker is back
        broker.stop()
        broker_down.touch()
        line = booth.reached(saved_shown)
        assert "12345" in booth.shown(line) and "求助已送达" not in booth.shown(line)
        with central.db.read() as conn:
            assert conn.execute(select(assists.c.id)).all().__len__() == 2, "central has not heard the third"
        broker.start()
        broker_up.touch()
        line = booth.reached(queued_again)
        expect(waiting).to_have_count(2, timeout=20_000)
        page.screenshot(path=str(shots / "desk-3-after-reconnect.png"))
        booth_log = booth.finish()
    assert not problems, problems

    with central.db.read() as conn:
        desk = conn.execute(select(assists).order_by(assists.c.id)).mappings().all()
        stored = conn.execute(select(events.c.payload).where(events.c.kind == "assist")).scalars().all()
        looked = conn.execute(select(audit_log.c.action).where(audit_log.c.action.like("assist%"))).scalars().all()
    assert [(row["mode"], row["site"], row["screen"], row["item"]) for row in desk] == [
        ("on_site", SITE, "help", None), ("call_back", SITE, "guide", "GA-001"), ("on_site", SITE, "help", None)]
    assert [row["taken_by"] for row in desk] == [OPERATOR, None, None]
    assert desk[1]["escalated_at"] is not None and desk[0]["escalated_at"] is None
    assert len(stored) == 3 and all(PHONE not in json.dumps(payload) for payload in stored)
    assert looked == ["assist_take"]

    operator = logged_in(central.url, OPERATOR)
    called_back = operator.get("/api/assists").json()["open"]
    assert operator.get(f"/api/assists/{desk[1]['id']}/phone").json() == {"phone": PHONE}
    assert [a["has_phone"] for a in called_back if a["id"] == desk[1]["id"]] == [True]
    for text in (caplog.text, booth_log):
        assert PHONE not in text and PHONE[-4:] + "," not in text
