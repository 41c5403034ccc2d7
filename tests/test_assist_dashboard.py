"""The 帮办代办 desk page in a real headless Chromium (Debian's, driven by Playwright), against the real intake
and dashboard (tests.central_web) on a real Mosquitto: booths of the demo fleet (tests.fleet_sim) ask for
help by publishing `assist` events as the contract has them, and the page must show them without a reload.

Each test proves a refusal beside its matching success: a viewer sees no controls and is refused what an
operator may do; a second operator cannot take what the first took; a request is not red before the
escalation time and is after it; the call-back number is in the page only after an operator asked for it,
and gone once the request is closed. The pages keep to their Content-Security-Policy and throw nothing.
Screenshots (a desk's screen, 1366×768) go to $DASHBOARD_SCREENSHOTS/assists, else a temporary folder.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from appliance.state.ids import UlidGenerator
from central.assist_desk import OUTCOME_NAMES
from central.tables import audit_log
from tests.browser import open_page as open_browser_page
from tests.central_web import PASSWORD, RunningCentral, add_user, logged_in, start_central
from tests.fleet_sim import FakeBooth, demo_fleet, publish
from tests.support import Mosquitto, wait_until

DESK = {"width": 1366, "height": 768}  # an office desk's screen
ESCALATE_S = 12  # --assist-escalation-s: short, so a test sees a request turn red

OPERATOR, OTHER, VIEWER, ADMIN = "wangfang", "zhoujie", "lina", "zhaomin"
NAMES = {OPERATOR: "王芳", OTHER: "周杰"}  # display names: what the booth and the desk show
PHONE = "13912345678"
SPACED = "139 1234 5678"  # as the page shows a number, to be read out

new_ulid = UlidGenerator().new
expect.set_options(timeout=10_000)


@dataclass
class Desk:
    central: RunningCentral
    booths: dict[str, FakeBooth]
    mqtt: mqtt.Client
    shots: Path
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.central.url

    def client(self, user: str) -> httpx.Client:
        """An HTTP client logged in as `user` (with the CSRF token), as the pages are: one login per user."""
        if user not in self.clients:
            self.clients[user] = logged_in(self.url, user)
        return self.clients[user]

    def ask(self, device: str, mode: str = "on_site", item: str | None = "RS-002", screen: str = "guide",
            phone: str | None = None) -> str:
        """A citizen at `device` asks for help, as the booth publishes it; the request's id (the event's)."""
        booth = self.booths[device]
        payload = {"item": item, "screen": screen, "mode": mode, "session": new_ulid(), "site": booth.site}
        if phone:
            payload["phone"] = phone
        topic, body = booth.event("assist", payload, time.time())
        publish(self.mqtt, [(topic, body)])
        return json.loads(body)["id"]

    def item(self, request: str) -> dict:
        """The request as the API lists it (open or recent), waited for."""
        def found():
            listed = self.client(OPERATOR).get("/api/assists").json()
            return next((a for a in listed["open"] + listed["recent"] if a["request"] == request), None)
        return wait_until(found, timeout=10)

    def audit(self, action: str, target: str) -> list[dict]:
        with self.central.db.read() as conn:
            return [dict(r) for r in conn.execute(select(audit_log).where(audit_log.c.action == action,
                                                                          audit_log.c.target == target)).mappings()]

    def close_all_open(self) -> None:
        """What a test left open is closed, so the next test's counts are its own."""
        client = self.client(OPERATOR)
        for a in client.get("/api/assists").json()["open"]:
            assert client.post(f"/api/assists/{a['id']}/close", json={"outcome": "citizen_gone", "note": ""}).is_success


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    work = tmp_path_factory.mktemp("desk")
    shots = Path(os.environ["DASHBOARD_SCREENSHOTS"]) / "assists" if os.environ.get("DASHBOARD_SCREENSHOTS") \
        else tmp_path_factory.mktemp("shots")
    shots.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(work / "broker").start()
    central = start_central(broker.port, f"sqlite:///{work / 'central.sqlite3'}", assist_escalation_s=ESCALATE_S)
    central.intake.sweep_s = 0.5  # escalations found within half a second of falling due
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fleet-sim", protocol=mqtt.MQTTv5)
    try:
        add_user(central.db, OPERATOR, "operator", display_name=NAMES[OPERATOR])
        add_user(central.db, OTHER, "operator", display_name=NAMES[OTHER])
        add_user(central.db, VIEWER, "viewer")
        add_user(central.db, ADMIN, "admin")
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        fleet = demo_fleet(client, time.time())
        wait_until(lambda: central.intake.counts["heartbeat"] >= 24 * len(fleet), timeout=30)
        desk = Desk(central, {b.device: b for b in fleet}, client, shots)
        yield desk
        for session in desk.clients.values():
            session.close()
    finally:
        client.loop_stop()
        client.disconnect()
        central.stop()
        broker.stop()


@pytest.fixture
def open_page(chromium: Browser, desk: Desk):
    """open_page(user): a page in a browser context of its own (cookies, localStorage), logged in as `user`.
    The pages must keep to the CSP and throw nothing. What the test left open on the desk is closed after."""
    contexts, problems = [], []

    def open_(user: str) -> Page:
        context, page = open_browser_page(chromium, desk.url, user, DESK, problems)
        contexts.append(context)
        return page

    yield open_
    for context in contexts:
        context.close()
    desk.close_all_open()
    assert not problems, problems


def row(page: Page, request: str, table: str = "open"):
    return page.locator(f"#{table} tbody tr[data-request='{request}']")


def waited(page: Page, request: str) -> int:
    return int(row(page, request).locator("td.wait").get_attribute("data-waited"))


def duration(seconds: int) -> str:
    """As common.js duration() writes it, under an hour."""
    return f"{seconds} 秒" if seconds < 60 else f"{seconds // 60} 分 {seconds % 60:02d} 秒"


# -- a request arrives, is taken and closed -----------------------------------------------------------------------
def test_a_request_appears_at_once_with_its_site_is_taken_and_closed(desk: Desk, open_page) -> None:
    page = open_page(OPERATOR)
    page.goto(desk.url + "/assists")
    expect(page.locator("#open tbody td.empty")).to_contain_text("没有待处理")
    page.evaluate("window.notReloaded = true")
    assert any(w.url.endswith("/static/ticker.js") for w in page.workers)  # its clock, not slowed in a background tab
    page.click("#sound")  # the operator turns the chime on: it plays once, to be heard
    expect(page.locator("#sound")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#sound")).to_have_attribute("data-chimes", "1")

    request = desk.ask("bj-dc-0001", item="RS-002", screen="guide")
    line = row(page, request)
    expect(line).to_be_visible()  # within seconds, no reload
    assert page.evaluate("window.notReloaded") is True
    item = desk.item(request)
    for shown in ("东城区政务服务中心 一楼大厅", "bj-dc-0001", "110101", item["item_name"], "办事指南", "到机旁",
                  "待接单"):
        expect(line).to_contain_text(shown)
    expect(line).to_have_class(re.compile(r"\bfresh\b"))  # highlighted as new, and it chimed
    expect(page.locator("#sound")).to_have_attribute("data-chimes", "2")
    expect(page.locator("#sound")).to_have_attribute("data-last-chime", "new")
    before = waited(page, request)
    page.wait_for_function("([request, before]) => Number(document.querySelector(`#open tr[data-request='${request}'] "
                           "td.wait`).dataset.waited) >= before + 2", arg=[request, before], timeout=5_000)  # it ticks
    expect(page.locator("#assist-badge")).to_have_text("1")

    time.sleep(1)  # it has waited a while when it is taken
    line.locator("button.take").click()
    expect(line.locator(".taker")).to_have_text(NAMES[OPERATOR])
    expect(line).to_have_attribute("data-state", "taken")
    expect(line).to_contain_text("已接单")
    assert desk.item(request)["taken_by"] == OPERATOR
    # taken: the wait shown is how long it waited until then (central's waited_s), and it no longer ticks
    stopped = desk.item(request)["waited_s"]
    expect(line.locator("td.wait")).to_have_attribute("data-waited", str(stopped))
    expect(line.locator("td.wait .waited")).to_have_text(duration(stopped))
    expect(line.locator("td.wait")).to_contain_text("接单前等待")
    page.wait_for_timeout(2_500)
    assert waited(page, request) == stopped
    page.screenshot(path=str(desk.shots / "desk-taken.png"))
    assert [a["actor"] for a in desk.audit("assist_take", str(item["id"]))] == [OPERATOR]
    # another operator cannot take what this one took; the one who took it may close it
    assert desk.client(OTHER).post(f"/api/assists/{item['id']}/take", json={}).status_code == 409
    expect(page.locator("#assist-badge")).to_be_hidden()  # no one waits any more

    line.locator("button.close-assist").click()
    form = page.locator(f"form[data-closing='{item['id']}']")
    form.locator("button[type=submit]").click()  # no outcome picked: said, not sent
    expect(form.locator(".message")).to_contain_text("请选择结果")
    assert desk.item(request)["state"] == "taken"
    # the outcomes in the very words central's 台账 uses
    assert page.evaluate("ASSIST_OUTCOMES") == OUTCOME_NAMES
    assert [t.strip() for t in form.locator("label.outcome").all_inner_texts()] == list(OUTCOME_NAMES.values())
    form.get_by_label(OUTCOME_NAMES["helped_on_site"]).check()
    form.get_by_label(re.compile("备注")).fill("已指导完成社保卡补领申请")
    form.locator("button[type=submit]").click()
    expect(line).to_have_count(0)  # off the open list …
    closed = row(page, request, "recent")
    # … onto the recent one, with its outcome, note and who
    expect(closed).to_contain_text(OUTCOME_NAMES["helped_on_site"])
    expect(closed).to_contain_text("已指导完成社保卡补领申请")
    expect(closed.locator(".taker")).to_have_text(NAMES[OPERATOR])
    # its time to take as the usage page and the 台账 count it (one definition, one rounding)
    expect(closed.locator(".take-time")).to_have_text(duration(desk.item(request)["take_s"]))
    # one closed without being taken: who closed it, by their display name, not their login
    gone = desk.ask("bj-dc-0001", item=None, screen="home")
    assert desk.client(OPERATOR).post(f"/api/assists/{desk.item(gone)['id']}/close",
                                      json={"outcome": "citizen_gone", "note": ""}).is_success
    expect(row(page, gone, "recent").locator(".taker")).to_have_text(NAMES[OPERATOR])
    expect(row(page, gone, "recent").locator(".take-time")).to_contain_text("未接单")
    assert (desk.item(request)["outcome"], desk.item(request)["note"]) == ("helped_on_site", "已指导完成社保卡补领申请")
    assert desk.client(OPERATOR).post(f"/api/assists/{item['id']}/close",
                                      json={"outcome": "called_back", "note": ""}).status_code == 409  # closed already
    assert page.evaluate("window.notReloaded") is True

    # the chime stays on for this browser (localStorage), waiting for a click anywhere; a new browser starts
    # with it off
    page.reload()
    expect(page.locator("#sound")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#sound")).to_have_attribute("data-sound", "waiting")
    expect(page.locator("#sound-note")).to_contain_text("点击任意处恢复提示音")
    page.screenshot(path=str(desk.shots / "desk-sound-waiting.png"))
    page.locator("main h2").first.click()
    expect(page.locator("#sound-note")).to_contain_text("新求助会响铃")
    expect(page.locator("#sound")).to_have_attribute("data-sound", "on")
    # … and the first click on the button itself brings it back too, rather than turning it off
    page.reload()
    expect(page.locator("#sound")).to_have_attribute("data-sound", "waiting")
    page.click("#sound")
    expect(page.locator("#sound")).to_have_attribute("data-sound", "on")
    expect(page.locator("#sound")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#sound-note")).to_contain_text("新求助会响铃")
    page.click("#sound")  # a second click turns it off, as the button says
    expect(page.locator("#sound")).to_have_attribute("data-sound", "off")
    other = open_page(OTHER)
    other.goto(desk.url + "/assists")
    expect(other.locator("#sound")).to_have_attribute("aria-pressed", "false")


# -- not taken in time --------------------------------------------------------------------------------------------
def test_a_request_nobody_takes_turns_red_on_the_desk_the_nav_and_the_overview(desk: Desk, open_page) -> None:
    page = open_page(OPERATOR)
    page.goto(desk.url + "/assists")
    expect(page.locator("#open tbody td.empty")).to_be_visible()
    late = desk.ask("bj-dc-0003", mode="call_back", phone=PHONE, item="YB-001", screen="apply")
    line = row(page, late)
    expect(line).to_be_visible()
    assert line.get_attribute("data-escalated") == "false"  # not before its time
    expect(line.locator(".late")).to_have_count(0)
    expect(page.locator("#assist-badge")).not_to_have_class(re.compile(r"\bhot\b"))
    page.click("#sound")

    expect(line).to_have_attribute("data-escalated", "true", timeout=(ESCALATE_S + 10) * 1000)
    expect(line).to_have_class(re.compile(r"\bescalated\b"))
    expect(line.locator(".late")).to_contain_text("已超时")
    expect(page.locator("#count-escalated")).to_have_text("1")
    expect(page.locator("#assist-badge")).to_have_class(re.compile(r"\bhot\b"))
    expect(page.locator("#sound")).to_have_attribute("data-last-chime", "overdue")
    wait_until(lambda: desk.item(late)["escalated"], timeout=5)  # central says so too (the booth hears it)
    booth = open_page(OPERATOR)  # the booth's page names its alert in words
    booth.goto(desk.url + "/device?id=bj-dc-0003")
    alert = booth.locator("#alerts tbody tr[data-code=assist_escalated]")
    expect(alert).to_contain_text("帮办求助超时无人接单")
    expect(alert).to_contain_text("无人接单，请到“帮办代办”接单")
    alert.scroll_into_view_if_needed()
    booth.screenshot(path=str(desk.shots / "device-alert.png"))

    # a desk as an office sees it: an overdue request, one taken, one just arrived
    taken = desk.ask("bj-xc-0002", mode="call_back", phone="13800001111", item="GA-010", screen="identify")
    taken_id = desk.item(taken)["id"]
    assert desk.client(OTHER).post(f"/api/assists/{taken_id}/take", json={"call_back_within_min": 30}).is_success
    fresh = desk.ask("bj-xc-0004", item="GJJ-002", screen="search")
    expect(row(page, fresh)).to_have_class(re.compile(r"\bfresh\b"))
    expect(row(page, taken).locator(".taker")).to_have_text(NAMES[OTHER])
    expect(row(page, taken)).to_contain_text("30 分钟内回电")
    expect(page.locator("#open tbody tr[data-request]")).to_have_count(3)
    requests = page.eval_on_selector_all("#open tbody tr[data-request]", "rows => rows.map(r => r.dataset.request)")
    assert requests == [late, taken, fresh]  # oldest first
    page.screenshot(path=str(desk.shots / "desk.png"))
    for size in (DESK, {"width": 1280, "height": 800}):  # a desk's screen and a laptop's: nothing off the side
        page.set_viewport_size(size)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), size
        assert page.evaluate("document.querySelector('header').getBoundingClientRect().height") < 60, size
    page.set_viewport_size(DESK)

    # the nav's badge on another page, and the overview's count, red
    page.goto(desk.url + "/usage")
    expect(page.locator("#assist-badge")).to_have_class(re.compile(r"\bhot\b"))
    expect(page.locator("#assist-badge")).to_have_text("2")  # waiting: the overdue one and the new one
    page.goto(desk.url + "/")
    banner = page.locator("#assists")
    expect(banner).to_be_visible()
    expect(page.locator("#assists-open")).to_have_text("3")
    expect(page.locator("#assists-escalated")).to_have_text("1")
    expect(banner).not_to_have_class(re.compile(r"\binfo\b"))  # red, not the quiet blue
    page.wait_for_selector("#fleet tbody tr[data-device]")
    page.screenshot(path=str(desk.shots / "overview.png"))
    banner.click()
    page.wait_for_url(desk.url + "/assists")

    # taken: no longer red anywhere
    assert desk.client(OPERATOR).post(f"/api/assists/{desk.item(late)['id']}/take", json={}).is_success
    expect(row(page, late)).to_have_attribute("data-escalated", "false")
    expect(row(page, late)).to_contain_text("超时后接单")
    expect(page.locator("#count-escalated")).to_have_text("0")
    expect(page.locator("#assist-badge")).not_to_have_class(re.compile(r"\bhot\b"))


# -- roles and the phone number -----------------------------------------------------------------------------------
def test_a_viewer_sees_the_requests_but_no_controls(desk: Desk, open_page) -> None:
    request = desk.ask("bj-xc-0001", mode="call_back", phone=PHONE, item="RS-005", screen="help")
    assist_id = desk.item(request)["id"]
    page = open_page(VIEWER)
    page.goto(desk.url + "/assists")
    line = row(page, request)
    expect(line).to_contain_text("西城区政务服务中心 24小时自助区")
    expect(line).to_contain_text("号码仅操作员可见")
    expect(page.locator("#viewer-note")).to_be_visible()
    expect(page.locator("main button:not(#sound)")).to_have_count(0)  # no take, close or phone button
    assert PHONE not in page.content()

    headers = {"X-CSRF-Token": page.request.get(desk.url + "/api/session").json()["csrf_token"]}
    refused = [page.request.get(desk.url + f"/api/assists/{assist_id}/phone"),
               page.request.post(desk.url + f"/api/assists/{assist_id}/take", data={}, headers=headers),
               page.request.post(desk.url + f"/api/assists/{assist_id}/close",
                                 data={"outcome": "called_back", "note": ""}, headers=headers)]
    assert [answer.status for answer in refused] == [403, 403, 403]
    assert desk.item(request)["state"] == "open" and not desk.audit("assist_phone_viewed", str(assist_id))

    operator = open_page(OPERATOR)  # the same requests, from an operator's page
    operator.goto(desk.url + "/assists")
    controls = row(operator, request)
    expect(controls.locator("button.show-phone")).to_be_visible()
    controls.locator("button.take").click()
    expect(controls.locator(".taker")).to_have_text(NAMES[OPERATOR])
    expect(line.locator(".taker")).to_have_text(NAMES[OPERATOR])  # the viewer's page follows, without a reload
    expect(page.locator("main button:not(#sound)")).to_have_count(0)


def test_the_number_is_shown_only_when_an_operator_asks(desk: Desk, open_page) -> None:
    call = desk.ask("bj-xc-0003", mode="call_back", phone=PHONE, item="YB-001", screen="apply")
    visit = desk.ask("bj-dc-0002", item="GA-001", screen="guide")
    assist_id = desk.item(call)["id"]
    page = open_page(OPERATOR)
    page.goto(desk.url + "/assists")
    line = row(page, call)
    expect(line.locator("button.show-phone")).to_be_visible()
    expect(row(page, visit).locator("button.show-phone")).to_have_count(0)  # on site: no number to show
    assert PHONE not in page.content() and SPACED not in page.content()
    assert PHONE not in desk.client(OPERATOR).get("/api/assists").text
    assert not desk.audit("assist_phone_viewed", str(assist_id))

    line.locator("button.show-phone").click()
    expect(line.locator(".phone")).to_have_text(SPACED)
    assert [a["actor"] for a in desk.audit("assist_phone_viewed", str(assist_id))] == [OPERATOR]
    line.locator("button.hide-phone").click()
    expect(line.locator(".phone")).to_have_count(0)
    assert SPACED not in page.content()

    line.locator("select.minutes").select_option("30")
    line.locator("button.take").click()
    expect(line).to_contain_text("30 分钟内回电")
    assert desk.item(call)["call_back_within_min"] == 30
    line.locator("button.show-phone").click()
    expect(line.locator(".phone")).to_have_text(SPACED)
    line.locator("button.close-assist").click()
    form = page.locator(f"form[data-closing='{assist_id}']")
    form.get_by_label("已回电").check()
    form.get_by_label(re.compile("备注")).fill("已回电，指导在手机上办理")
    form.locator("button[type=submit]").click()
    expect(row(page, call, "recent")).to_contain_text("已回电")
    assert SPACED not in page.content() and PHONE not in page.content()  # gone with the open request
    assert desk.client(OPERATOR).get(f"/api/assists/{assist_id}/phone").status_code == 404  # erased at closing


# -- the session ends while a close is being written ---------------------------------------------------------------
def test_a_close_written_when_the_session_ended_is_kept_not_lost(desk: Desk, open_page) -> None:
    request = desk.ask("bj-dc-0002", item="GA-001", screen="guide")
    page = open_page(OPERATOR)
    page.goto(desk.url + "/assists")
    line = row(page, request)
    line.locator("button.take").click()
    expect(line).to_have_attribute("data-state", "taken")
    assist_id = desk.item(request)["id"]
    line.locator("button.close-assist").click()
    form = page.locator(f"form[data-closing='{assist_id}']")
    form.get_by_label("群众已离开").check()
    form.get_by_label(re.compile("备注")).fill("到场时群众已离开")
    headers = {"X-CSRF-Token": page.request.get(desk.url + "/api/session").json()["csrf_token"]}
    assert page.request.post(desk.url + "/api/logout", data={}, headers=headers).ok  # the session ends
    expect(page.locator("#problem")).to_contain_text("登录已过期")  # the next poll says so, and stays
    assert page.url == desk.url + "/assists"
    assert form.get_by_label(re.compile("备注")).input_value() == "到场时群众已离开"
    form.locator("button[type=submit]").click()
    expect(form.locator(".message")).to_contain_text("未结束：登录已过期")
    assert desk.item(request)["state"] == "taken"

    form.locator("a.relogin").click()  # log in again: back on the desk, the close as it was written
    page.wait_for_url("**/login?**reason=expired")
    page.fill("#username", OPERATOR)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(desk.url + "/assists")
    form = page.locator(f"form[data-closing='{assist_id}']")
    expect(form.locator(".message")).to_contain_text("已恢复")
    assert form.get_by_label(re.compile("备注")).input_value() == "到场时群众已离开"
    expect(form.get_by_label("群众已离开")).to_be_checked()
    form.locator("button[type=submit]").click()
    expect(row(page, request, "recent")).to_contain_text("群众已离开")
    assert (desk.item(request)["outcome"], desk.item(request)["note"]) == ("citizen_gone", "到场时群众已离开")


# -- counted ------------------------------------------------------------------------------------------------------
def test_the_usage_page_counts_what_citizens_could_not_do_alone(desk: Desk, open_page) -> None:
    client = desk.client(OTHER)
    for device, outcome in (("bj-dc-0001", "helped_on_site"), ("bj-dc-0001", "citizen_gone"),
                            ("bj-xc-0004", "no_answer")):
        assist_id = desk.item(desk.ask(device, item="BDC-001", screen="apply"))["id"]
        assert client.post(f"/api/assists/{assist_id}/take", json={}).is_success
        assert client.post(f"/api/assists/{assist_id}/close", json={"outcome": outcome, "note": ""}).is_success
    counted = client.get("/api/usage?days=14").json()["assists"]
    per_item = {entry["item"]: entry for entry in counted["per_item"]}
    assert per_item["BDC-001"]["requests"] == 3
    assert per_item["BDC-001"]["outcomes"] == {"helped_on_site": 1, "called_back": 0, "no_answer": 1, "citizen_gone": 1}

    page = open_page(OPERATOR)
    page.goto(desk.url + "/usage")
    item = page.locator("#assists-per-item tbody tr[data-assists='BDC-001']")
    expect(item.locator("td.requests")).to_have_text("3")
    expect(item.locator("td[data-outcome=helped_on_site]")).to_have_text("1")
    expect(item.locator("td[data-outcome=no_answer]")).to_have_text("1")
    expect(item.locator("td[data-outcome=citizen_gone]")).to_have_text("1")
    expect(item).to_contain_text(per_item["BDC-001"]["item_name"])
    heads = page.locator("#assists-per-item thead th[data-outcome]")  # the outcomes as the desk and 台账 say them
    assert heads.all_inner_texts() == list(OUTCOME_NAMES.values())
    shown = page.eval_on_selector_all(
        "#assists-per-device tbody tr[data-assists]",
        "rows => rows.map(r => [r.dataset.assists, r.querySelector('td.requests').textContent])")
    assert shown == [[entry["device"], str(entry["requests"])] for entry in counted["per_device"]]
    expect(page.locator("#assists-summary")).to_contain_text(f"共 {counted['total']['requests']} 次求助")
    page.evaluate("document.getElementById('assists-title').scrollIntoView(); window.scrollBy(0, -16)")
    page.screenshot(path=str(desk.shots / "usage-assists.png"))


# -- the audit log ------------------------------------------------------------------------------------------------
def test_the_audit_page_says_what_was_done_at_the_desk_in_words(desk: Desk, open_page) -> None:
    request = desk.ask("bj-xc-0001", mode="call_back", phone=PHONE, item="RS-005", screen="help")
    assist_id = desk.item(request)["id"]
    client = desk.client(OPERATOR)
    assert client.get(f"/api/assists/{assist_id}/phone").is_success
    assert client.post(f"/api/assists/{assist_id}/take", json={"call_back_within_min": 30}).is_success
    assert client.post(f"/api/assists/{assist_id}/close", json={"outcome": "called_back", "note": "已回电"}).is_success
    page = open_page(ADMIN)
    page.goto(desk.url + "/audit")
    page.wait_for_selector("#audit tbody tr[data-audit]")
    options = page.eval_on_selector_all("#action option", "options => options.map(o => [o.value, o.textContent])")
    named = dict(options)
    for action, words in (("assist_take", "帮办接单"), ("assist_close", "帮办结束"),
                          ("assist_phone_viewed", "查看回拨电话")):
        assert words in named[action], options  # in the filter, in words
        line = page.locator(f"#audit tbody tr[data-action={action}]").first
        expect(line).to_contain_text(words)
        expect(line).to_contain_text(f"帮办求助 #{assist_id}")
        expect(line).to_contain_text("终端 bj-xc-0001")
    close = page.locator("#audit tbody tr[data-action=assist_close]").first
    expect(close).to_contain_text(f"结果：{OUTCOME_NAMES['called_back']}")
    expect(close).to_contain_text("备注：已回电")
    expect(page.locator("#audit tbody tr[data-action=assist_take]").first).to_contain_text("30 分钟内回电")
    details = " ".join(page.locator("#audit tbody td.details").all_inner_texts())
    assert "outcome:" not in details and "request:" not in details and PHONE not in details
    page.screenshot(path=str(desk.shots / "audit.png"))

    page.select_option("#action", "assist_close")  # the filter finds them
    page.click("#search button[type=submit]")
    page.wait_for_url("**/audit?action=assist_close")
    page.wait_for_selector("#audit tbody tr[data-audit]")
    assert set(page.eval_on_selector_all("#audit tbody tr[data-audit]", "rows => rows.map(r => r.dataset.action)")
               ) == {"assist_close"}

    # an XLSX export is four sheets, and the audit log says so
    today = time.strftime("%Y-%m-%d")
    assert page.request.get(desk.url + f"/api/export?start={today}&end={today}").ok
    page.goto(desk.url + "/audit?action=export")
    expect(page.locator("#audit tbody tr[data-action=export]").first).to_contain_text("XLSX · 全部四表")
