"""The dashboard in a real headless Chromium (Debian's, driven by Playwright), against the real intake and
dashboard (tests.central_web) fed by a real Mosquitto: simulated booths in two districts, applications
filed at them, and one real booth that answers commands.

Each test proves a refusal together with the matching success: a wrong password and the right one, a
viewer refused what an operator may do, a regional operator kept to their region, a page of another
origin refused what central's own page may do, non-admins kept out of the audit log. The pages keep to
their Content-Security-Policy (no inline script or style: a violation fails the test), and fit a laptop's
screen. Screenshots go to $DASHBOARD_SCREENSHOTS (docs/central for the README), else a temporary folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx
import openpyxl
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page, Route, expect
from sqlalchemy import func, select, update

from appliance.kiosk import Kiosk
from central.tables import audit_log, cases, commands, follow_ups, users
from tests.browser import open_page as open_browser_page
from tests.central_web import PASSWORD, RunningCentral, add_user, logged_in, start_central
from tests.fleet_sim import FakeBooth, demo_fleet, publish
from tests.support import Mosquitto, free_port, kiosk_config, wait_until

LAPTOP = {"width": 1280, "height": 800}
DESKTOP = {"width": 1400, "height": 900}

ADMIN, OPERATOR, VIEWER, REGIONAL, LOCKED, DISABLED = "zhoujie", "wangfang", "lina", "zhaolei", "suntao", "qianwei"
APPLICANT = "欧阳明月"  # on every application: it must never reach a ledger, nor a viewer unmasked
ID_NUMBER = "11010119800307002X"
PHONE = "13912345678"
# Applications as booths file them: an item with its own form (labels from the catalogue).
APPLICATIONS = [("RS-002", {"reason": "遗失", "phone": PHONE}),
                ("RS-006", {"reason": "合同到期", "wish": "全职", "phone": PHONE}),
                ("YB-001", {"group": "成年居民", "phone": PHONE}),
                ("RS-005", {"relation": "家属代办"}),
                ("GA-010", {"kind": "户籍信息证明"}),
                ("BDC-001", {"scope": "本市全部", "purpose": "购房"}),
                ("WJ-003", {"child": "第二孩", "phone": PHONE})]

expect.set_options(timeout=10_000)


@dataclass
class Office:
    """One central as an office runs it, shared by this file's tests (each test makes its own changes and
    measures against what it saw first)."""

    central: RunningCentral
    booth: Kiosk  # the real one: answers commands
    fleet: list[FakeBooth]
    case_numbers: list[str]  # in the order filed
    shots: Path
    regions: dict[str, str] = field(default_factory=dict)  # device -> region
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, user: str) -> httpx.Client:
        """An HTTP client logged in as `user` (with the CSRF token), as the pages are: one login per user."""
        if user not in self.clients:
            self.clients[user] = logged_in(self.url, user)
        return self.clients[user]

    @property
    def url(self) -> str:
        return self.central.url

    def case_in(self, region: str, skip: int = 0) -> str:
        """A case filed at a booth of `region` (the `skip`-th)."""
        return self.cases_in(region)[skip]

    def cases_in(self, region: str) -> list[str]:
        with self.central.db.read() as conn:
            rows = conn.execute(select(cases.c.case_no, cases.c.device).order_by(cases.c.id)).all()
        return [no for no, device in rows if self.regions.get(device) == region]

    def commands_to(self, device: str) -> int:
        with self.central.db.read() as conn:
            return conn.execute(select(func.count()).select_from(commands)
                                .where(commands.c.device == device)).scalar_one()

    def audit_since(self, since: float, action: str | None = None) -> list[dict]:
        with self.central.db.read() as conn:
            query = select(audit_log).where(audit_log.c.at >= since).order_by(audit_log.c.id)
            if action:
                query = query.where(audit_log.c.action == action)
            return [dict(row) for row in conn.execute(query).mappings()]

    def follow_up(self, follow_up: int) -> dict:
        with self.central.db.read() as conn:
            return dict(conn.execute(select(follow_ups).where(follow_ups.c.id == follow_up)).mappings().one())


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    work = tmp_path_factory.mktemp("office")
    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(work / "broker").start()
    central = start_central(broker.port, f"sqlite:///{work / 'central.sqlite3'}")
    booth = Kiosk(kiosk_config(work / "booth", broker.port, heartbeat={"interval_s": 1}))
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fleet-sim", protocol=mqtt.MQTTv5)
    try:
        for name, role, regions in ((ADMIN, "admin", ()), (OPERATOR, "operator", ()), (VIEWER, "viewer", ()),
                                    (REGIONAL, "operator", ("110102",)), (LOCKED, "operator", ()),
                                    (DISABLED, "operator", ())):
            add_user(central.db, name, role, regions)
        booth.start()
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        now = time.time()
        fleet = demo_fleet(client, now)
        rng = random.Random(7)
        filed = []
        for n in range(14):  # fourteen applications at six booths of both districts, over three days
            at = fleet[n % 6]
            item, form = APPLICATIONS[n % len(APPLICATIONS)]
            filed.append(at.event("submission", {
                "item": item, "session": at.ids.new(),
                "applicant": {"name": APPLICANT, "id_number": ID_NUMBER, "sex": "女", "nation": "汉",
                              "birth_date": "1980-03-07", "address": "北京市东城区东华门街道"},
                "form": form}, now - rng.uniform(600, 3 * 86_400)))
        publish(client, filed)
        intake = central.intake
        wait_until(lambda: intake.counts["heartbeat"] >= 24 * len(fleet) + 1, timeout=30)
        wait_until(lambda: intake.counts["event_rating"] == 40 * len(fleet), timeout=30)
        wait_until(lambda: intake.counts["event_submission"] == len(filed), timeout=30)
        with central.db.read() as conn:
            numbers = list(conn.execute(select(cases.c.case_no).order_by(cases.c.id)).scalars())
        regions = {b.device: b.region for b in fleet} | {booth.device_id: "370203"}
        office = Office(central, booth, fleet, numbers, shots, regions)
        yield office
        for session in office.clients.values():
            session.close()
    finally:
        client.loop_stop()
        client.disconnect()
        booth.stop()
        central.stop()
        broker.stop()


@pytest.fixture
def open_page(chromium: Browser, office: Office):
    """open_page(user=None, viewport=DESKTOP): a page in a browser context of its own (its own cookies),
    logged in as `user` if given. The pages must keep to the CSP and throw nothing."""
    contexts, problems = [], []

    def open_(user: str | None = None, viewport: dict = DESKTOP) -> Page:
        context, page = open_browser_page(chromium, office.url, user, viewport, problems)
        contexts.append(context)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not problems, problems


def csrf(page: Page, office: Office) -> dict[str, str]:
    """The headers the pages send with a POST: the session's CSRF token."""
    return {"X-CSRF-Token": page.request.get(office.url + "/api/session").json()["csrf_token"]}


def open_follow_ups(office: Office, user: str = OPERATOR) -> list[dict]:
    return office.client(user).get("/api/usage?days=14").json()["follow_ups"]


# -- logging in and out ------------------------------------------------------------------------------------------
def test_login_and_logout(office: Office, open_page) -> None:
    page = open_page()
    page.goto(office.url + "/device?id=bj-dc-0001")  # no session: the login page, remembering where to go
    page.wait_for_url("**/login?next=device%3Fid%3Dbj-dc-0001")
    page.screenshot(path=str(office.shots / "login.png"))

    page.fill("#username", OPERATOR)
    page.fill("#password", "not my password")
    page.click("#submit")
    expect(page.locator("#login-error")).to_contain_text("用户名或密码不对")
    assert "/login?next=" in page.url
    assert page.request.get(office.url + "/api/fleet").status == 401

    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(office.url + "/device?id=bj-dc-0001")  # back where they asked to go
    expect(page.locator("#user-name")).to_have_text(OPERATOR)
    expect(page.locator("#user-role")).to_contain_text("operator")
    page.click("[data-nav=fleet]")
    page.wait_for_url(office.url + "/")
    page.wait_for_selector("#fleet tbody tr[data-device]")
    assert page.request.get(office.url + "/api/fleet").ok

    page.click("#logout")
    page.wait_for_url(office.url + "/login")
    assert page.request.get(office.url + "/api/fleet").status == 401
    page.goto(office.url + "/usage")
    page.wait_for_url("**/login?next=usage")

    # `next` leads only to central's own pages: never another site (no open redirect)
    page.goto(office.url + "/login?next=" + quote("//evil.example/x", safe=""))
    page.fill("#username", OPERATOR)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(office.url + "/")
    page.click("#logout")
    page.wait_for_url(office.url + "/login")
    nexts = ["//evil.example/x", "https://evil.example/", "/\\evil.example", "\\\\evil.example", "javascript:alert(1)",
             "../../evil", "/usage", "http:evil.example", "device?id=bj-dc-0001", "case?no=202600000001", "usage", ""]
    assert page.evaluate("nexts => nexts.map(safeNext)", nexts) == ["./"] * 8 + [
        "device?id=bj-dc-0001", "case?no=202600000001", "usage", "./"]

    # a locked account is told so in plain words (429), not "wrong password"
    with office.central.db.transaction() as conn:
        conn.execute(update(users).where(users.c.name == LOCKED).values(locked_until=time.time() + 600))
    page.fill("#username", LOCKED)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("#login-error")).to_contain_text("账号已暂时锁定")
    assert page.url.endswith("/login")

    # a disabled account is told so (403), with the right password as with a wrong one
    with office.central.db.transaction() as conn:
        conn.execute(update(users).where(users.c.name == DISABLED).values(disabled=True))
    page.fill("#username", DISABLED)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("#login-error")).to_contain_text("账号已停用")

    # sent here by a page whose session ended: it says why, and still goes back there
    page.goto(office.url + "/login?next=" + quote("usage", safe="") + "&reason=expired")
    expect(page.locator("#login-expired")).to_be_visible()
    expect(page.locator("#login-expired")).to_contain_text("登录已过期")
    page.fill("#username", OPERATOR)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(office.url + "/usage")


# -- roles -------------------------------------------------------------------------------------------------------
def test_a_viewer_sees_no_controls_and_is_refused_what_an_operator_may_do(office: Office, open_page) -> None:
    page = open_page(VIEWER)
    booth = office.booth.device_id
    page.goto(office.url + f"/device?id={booth}")
    expect(page.locator("#title")).to_contain_text(booth)
    expect(page.locator("#command-readonly")).to_be_visible()
    expect(page.locator("#command-form")).to_be_hidden()
    expect(page.locator("[data-nav=audit]")).to_have_count(0)

    page.goto(office.url + "/usage")
    page.wait_for_selector("#follow-ups tbody tr[data-follow-up]")
    expect(page.locator("#follow-ups button")).to_have_count(0)

    case_no = office.case_in("110101")
    page.goto(office.url + f"/case?no={case_no}")
    expect(page.locator("#masked-note")).to_be_visible()
    expect(page.locator("#applicant-id")).to_contain_text("*")
    assert APPLICANT not in page.inner_text("main") and ID_NUMBER not in page.inner_text("main")
    expect(page.locator("#status-panel")).to_be_hidden()

    # The server refuses the viewer whatever the page shows; an operator's identical request succeeds.
    follow_up = open_follow_ups(office)[0]["id"]
    headers = csrf(page, office)
    before = office.commands_to(booth)
    refused = [page.request.post(office.url + f"/api/devices/{booth}/commands", data={"name": "ping"}, headers=headers),
               page.request.post(office.url + f"/api/follow-ups/{follow_up}/close", data={"note": "已回访"},
                                 headers=headers),
               page.request.post(office.url + f"/api/cases/{case_no}/status", data={"status": "审核中", "note": ""},
                                 headers=headers)]
    assert [answer.status for answer in refused] == [403, 403, 403]
    assert office.commands_to(booth) == before and office.follow_up(follow_up)["closed_at"] is None
    operator = office.client(OPERATOR)
    assert operator.post(f"/api/devices/{booth}/commands", json={"name": "ping"}).status_code == 200
    assert operator.post(f"/api/follow-ups/{follow_up}/close", json={"note": "已回访，已解释流程"}).status_code == 200
    assert operator.post(f"/api/cases/{case_no}/status", json={"status": "审核中", "note": ""}).status_code == 200
    assert office.commands_to(booth) == before + 1
    assert office.follow_up(follow_up)["closed_by"] == OPERATOR


def test_an_operator_of_one_region_sees_only_its_booths(office: Office, open_page) -> None:
    page = open_page(REGIONAL)
    page.goto(office.url + "/")
    page.wait_for_selector("#fleet tbody tr[data-device]")
    shown = page.eval_on_selector_all("#fleet tbody tr[data-device]", "rows => rows.map(r => r.dataset.device)")
    mine = sorted(b.device for b in office.fleet if b.region == "110102")
    assert sorted(shown) == mine
    assert page.inner_text("#count-total") == str(len(mine))
    assert page.eval_on_selector_all("#region option", "options => options.map(o => o.value)") == ["", "110102"]
    expect(page.locator("#user-name")).to_have_text(REGIONAL)

    assert page.request.get(office.url + "/api/devices/bj-dc-0001").status == 404  # another region's booth
    assert page.request.get(office.url + "/api/devices/bj-xc-0001").ok
    other_case, own_case = office.case_in("110101"), office.case_in("110102")
    assert page.request.get(office.url + f"/api/cases/{other_case}").status == 404
    assert page.request.get(office.url + f"/api/cases/{own_case}").ok
    page.goto(office.url + "/device?id=bj-dc-0001")
    expect(page.locator("#title")).to_contain_text("没有这台终端 no such booth: bj-dc-0001")
    expect(page.locator("#send")).to_be_hidden()
    page.goto(office.url + "/cases")
    page.wait_for_selector("#cases tbody tr[data-case]")
    listed = page.eval_on_selector_all("#cases tbody tr[data-case]", "rows => rows.map(r => r.dataset.case)")
    assert sorted(listed) == sorted(office.cases_in("110102"))


# -- another origin ----------------------------------------------------------------------------------------------
HOSTILE_FETCH = """<!doctype html><meta charset="utf-8"><title>优惠活动</title><script>
(async () => {
  const central = %(central)s, results = [];
  const attempts = [
    ["json", central + "/api/devices/%(booth)s/commands", {method: "POST", credentials: "include",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify({name: "ping"})}],
    ["no-cors", central + "/api/devices/%(booth)s/commands", {method: "POST", credentials: "include", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: JSON.stringify({name: "ping"})}],
    ["follow-up", central + "/api/follow-ups/%(follow_up)s/close", {method: "POST", credentials: "include",
      mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: JSON.stringify({note: "x"})}],
  ];
  for (const [name, url, options] of attempts) {
    try { const r = await fetch(url, options); results.push(name + ":" + r.type + ":" + r.status); }
    catch (error) { results.push(name + ":blocked"); }
  }
  document.title = "done " + results.join(" ");
})();
</script>"""
HOSTILE_FORM = """<!doctype html><meta charset="utf-8"><title>请稍候</title>
<form method="post" enctype="text/plain" action="%(action)s">
<input type="hidden" name='%(name)s' value='%(value)s'></form>
<script>document.forms[0].submit();</script>"""


def test_a_page_of_another_origin_can_neither_command_nor_close(office: Office, open_page) -> None:
    booth = office.booth.device_id
    follow_up = open_follow_ups(office)[0]["id"]
    page = open_page(OPERATOR)  # logged in to central in this browser: its cookies go with what the page sends
    central = office.url
    sites = [f"http://127.0.0.1:{free_port()}",  # same site (another port): the SameSite cookies do go along
             "http://evil.example"]  # another site
    pages = {"/fetch.html": HOSTILE_FETCH % {"central": json.dumps(central), "booth": booth, "follow_up": follow_up},
             "/command.html": HOSTILE_FORM % {"action": f"{central}/api/devices/{booth}/commands",
                                              "name": '{"name":"ping","pad":"', "value": '"}'},
             "/close.html": HOSTILE_FORM % {"action": f"{central}/api/follow-ups/{follow_up}/close",
                                            "name": '{"note":"called","pad":"', "value": '"}'}}

    def hostile(route: Route) -> None:
        path = "/" + route.request.url.split("/", 3)[3]
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=pages.get(path, "nothing here"))

    for site in sites:
        page.context.route(site + "/**", hostile)
    answers: list[tuple[str, int]] = []
    page.on("response", lambda r: r.request.method == "POST" and r.url.startswith(central)
            and answers.append((r.url, r.status)))
    since = time.time()
    before = office.commands_to(booth)
    for site in sites:
        page.goto(site + "/fetch.html")
        expect(page).to_have_title(re.compile("^done"))
        assert "json:blocked" in page.title()  # the JSON request needs a preflight central never grants
        for form in ("/command.html", "/close.html"):
            page.goto(site + form)
            page.wait_for_url(central + "/**")  # the form went to central …
    assert answers and all(status in (401, 403, 415) for _, status in answers), answers  # … and was refused
    assert office.commands_to(booth) == before
    assert office.follow_up(follow_up)["closed_at"] is None
    assert not office.audit_since(since, "command") and not office.audit_since(since, "follow_up_closed")

    # The same command from central's own page works.
    page.goto(office.url + f"/device?id={booth}")
    page.select_option("#command", "ping")
    page.click("#send")
    expect(page.locator("#command-message")).to_have_text("已发送 sent")
    assert office.commands_to(booth) == before + 1
    assert [line["actor"] for line in office.audit_since(since, "command")] == [OPERATOR]


# -- what operators do -------------------------------------------------------------------------------------------
def test_operator_watches_the_fleet_and_commands_a_booth(office: Office, open_page) -> None:
    page = open_page(OPERATOR)
    booth = office.booth
    page.goto(office.url + "/")
    page.wait_for_selector("#fleet tbody tr[data-device]")
    assert page.inner_text("#count-total") == str(len(office.fleet) + 1)
    assert page.inner_text("#count-fault") == "2"  # paper out; card reader gone
    assert page.inner_text("#count-offline") == "1"
    assert page.locator("#fleet tbody tr[data-device]").count() == len(office.fleet) + 1
    held = page.inner_text("tr[data-device=bj-xc-0001] td[data-unconfirmed]")
    assert held == "300（最早 90 分钟）", "what a booth holds until central confirms it"

    page.click(".count[data-state=fault]")  # the fault tile filters the table
    expect(page.locator("#fleet tbody tr[data-device]")).to_have_count(2)
    shown = page.eval_on_selector_all("#fleet tbody tr[data-device]", "rows => rows.map(r => r.dataset.device)")
    assert shown == ["bj-dc-0003", "bj-xc-0002"]
    page.select_option("#state", "")
    page.select_option("#region", "110101")
    expect(page.locator("#fleet tbody tr[data-device]")).to_have_count(3)
    page.select_option("#state", "maintenance")
    expect(page.locator("#fleet tbody td.empty")).to_contain_text("没有符合条件的终端")

    page.goto(office.url + "/")
    page.click(f"tr[data-device={booth.device_id}]")
    page.wait_for_url(f"**/device?id={booth.device_id}")
    page.wait_for_selector("#chart-outbox svg polyline", state="attached")  # a flat line has no height
    page.select_option("#command", "ping")
    page.click("#send")
    result = page.wait_for_selector("#commands tbody tr[data-state=ok] td.outcome", timeout=15_000)
    assert result.inner_text().startswith("✓ 终端在线")
    expect(page.locator("#commands tbody tr[data-state=ok] [data-sent-by]").first).to_have_text(OPERATOR)
    page.screenshot(path=str(office.shots / "device.png"), full_page=True)

    page.goto(office.url + "/device?id=bj-dc-0003")
    page.wait_for_selector("#alerts tr[data-code=printer_paper_end]")

    page.goto(office.url + "/usage")
    page.wait_for_selector("#per-day svg rect")
    satisfaction = page.inner_text("#satisfaction")
    assert satisfaction.endswith("%") and 50 < float(satisfaction[:-1]) <= 100
    top = page.eval_on_selector_all("#top-items svg title", "titles => titles.map(t => t.textContent)")
    assert any(name.startswith("居民身份证") for name in top), "top items by name, not code"
    open_before = int(page.inner_text("#open-follow-ups"))
    assert open_before == page.locator("#follow-ups tbody tr[data-follow-up]").count() > 0
    row = page.locator("#follow-ups tbody tr[data-follow-up]").first
    follow_up = int(row.get_attribute("data-follow-up"))
    row.locator("button").click()  # asks what was done, not who did it
    page.click("form[data-closing] button[type=submit]")
    expect(page.locator("form[data-closing] .message")).to_contain_text("请写明回访情况")
    assert office.follow_up(follow_up)["closed_at"] is None
    page.fill("form[data-closing] input[name=note]", "已电话回访：排队时间长，已说明可先网上预约")
    page.screenshot(path=str(office.shots / "usage.png"), full_page=True)
    page.click("form[data-closing] button[type=submit]")
    expect(page.locator("#open-follow-ups")).to_have_text(str(open_before - 1))
    closed = office.follow_up(follow_up)
    assert closed["closed_by"] == OPERATOR and closed["note"].startswith("已电话回访")


def test_cases_are_found_opened_and_moved_on(office: Office, open_page) -> None:
    page = open_page(OPERATOR)
    page.goto(office.url + "/cases")
    page.wait_for_selector("#cases tbody tr[data-case]")
    assert page.locator("#cases tbody tr[data-case]").count() == len(office.case_numbers)
    assert "个人所得税" not in page.inner_text("#cases")  # items by their names …
    assert page.locator("#cases tbody tr", has_text="社会保障卡挂失").count() >= 1
    page.screenshot(path=str(office.shots / "cases.png"), full_page=True)

    target = office.case_numbers[1]  # 失业登记, with its form: 离职原因, 求职意向, 联系电话
    page.fill("#q", target)
    page.click("#search button[type=submit]")
    page.wait_for_url(f"**/cases?q={target}")
    page.wait_for_selector(f"tr[data-case='{target}']")
    assert page.locator("#cases tbody tr[data-case]").count() == 1
    page.select_option("#item", "RS-002")
    page.click("#search button[type=submit]")
    expect(page.locator("#cases tbody td.empty")).to_contain_text("没有符合条件的办件")  # that case is another item
    page.goto(office.url + "/cases?since=" + (date.today() + timedelta(days=1)).isoformat())
    expect(page.locator("#cases tbody td.empty")).to_contain_text("没有符合条件的办件")
    page.goto(office.url + "/cases?item=RS-002")
    page.wait_for_selector("#cases tbody tr[data-case]")
    items = page.eval_on_selector_all("#cases tbody tr[data-case] td:nth-child(3)", "c => c.map(x => x.innerText)")
    assert set(items) == {"社会保障卡挂失 RS-002"}

    page.goto(office.url + "/cases")
    page.click(f"tr[data-case='{target}'] a")
    page.wait_for_url(f"**/case?no={target}")
    expect(page.locator("#applicant-name")).to_have_text(APPLICANT)  # operators see it in full (and are audited)
    expect(page.locator("#masked-note")).to_be_hidden()
    expect(page.locator("#form")).to_contain_text("联系电话")  # the form's labels from the catalogue
    since = time.time()
    page.select_option("#new-status", "已办结")
    page.fill("#status-note", "请到一楼3号窗口领取")
    page.screenshot(path=str(office.shots / "case.png"), full_page=True)
    page.click("#status-save")
    expect(page.locator("#status-message")).to_contain_text("已保存")
    expect(page.locator("#case-status")).to_have_text("已办结")
    with office.central.db.read() as conn:
        moved = conn.execute(select(cases).where(cases.c.case_no == target)).mappings().one()
    assert (moved["status"], moved["note"], moved["updated_by"]) == ("已办结", "请到一楼3号窗口领取", OPERATOR)
    assert moved["closed_at"] is not None
    assert [line["target"] for line in office.audit_since(since, "case_status")] == [target]

    erased = office.case_numbers[2]  # its personal data gone by the retention rule
    with office.central.db.transaction() as conn:
        conn.execute(update(cases).where(cases.c.case_no == erased).values(personal_erased_at=time.time()))
    page.goto(office.url + f"/case?no={erased}")
    expect(page.locator("#erased-note")).to_be_visible()
    expect(page.locator("#applicant")).to_be_hidden()
    assert APPLICANT not in page.inner_text("main")


def test_the_audit_page_lists_what_was_just_done(office: Office, open_page) -> None:
    since = time.time()
    booth = office.booth.device_id
    page = open_page(OPERATOR)  # not an admin: no link, no lines
    page.goto(office.url + "/")
    page.wait_for_selector("#user-name")
    expect(page.locator("[data-nav=audit]")).to_have_count(0)
    assert page.request.get(office.url + "/api/audit").status == 403
    page.goto(office.url + "/audit")
    expect(page.locator("#audit tbody")).to_contain_text("只有管理员")

    follow_up = open_follow_ups(office)[0]["id"]
    operator = office.client(OPERATOR)
    assert operator.post(f"/api/devices/{booth}/commands", json={"name": "status"}).status_code == 200
    assert operator.post(f"/api/follow-ups/{follow_up}/close", json={"note": "已回访"}).status_code == 200

    assert httpx.post(office.url + "/api/login", json={"username": VIEWER, "password": "not hers"}).status_code == 401

    page = open_page(ADMIN)
    page.goto(office.url + "/")
    page.click("[data-nav=audit]")
    page.wait_for_url(office.url + "/audit")
    page.wait_for_selector("#audit tbody tr[data-audit]")
    page.screenshot(path=str(office.shots / "audit.png"), full_page=True)
    lines = page.eval_on_selector_all("#audit tbody tr[data-audit]", """rows => rows.map(r => [
        r.dataset.action, r.querySelector('[data-actor]').innerText, r.cells[4].innerText, r.cells[6].innerText])""")
    assert [line[0] for line in lines if line[1] == OPERATOR][:3] == ["follow_up_closed", "command", "login"]
    assert ["command", OPERATOR, booth] in [line[:3] for line in lines]
    assert ["follow_up_closed", OPERATOR, f"差评回访 #{follow_up}"] in [line[:3] for line in lines]
    failed = next(line for line in lines if line[0] == "login_failed" and line[1] == VIEWER)
    assert re.fullmatch(r"密码错误 · 连续第 \d+ 次", failed[3]), failed  # in words, not "reason: wrong_password"
    assert any(line[0] == "command" and line[3].startswith("状态 status") for line in lines)

    page.fill("#actor", OPERATOR)
    page.select_option("#action", "command")
    page.click("#search button[type=submit]")
    page.wait_for_url(f"**/audit?actor={OPERATOR}&action=command")
    page.wait_for_selector("#audit tbody tr[data-audit]")
    found = page.eval_on_selector_all("#audit tbody tr[data-audit]", "rows => rows.map(r => r.dataset.action)")
    assert found and set(found) == {"command"}
    assert len(office.audit_since(since, "command")) >= 1


def test_the_ledger_downloads_as_xlsx_and_csv(office: Office, open_page, tmp_path: Path) -> None:
    page = open_page(VIEWER)  # the 台账 holds no personal data: a viewer may export it
    page.goto(office.url + "/usage")
    page.wait_for_selector("#per-day svg rect")
    today = date.today()
    last_month_end = today.replace(day=1) - timedelta(days=1)
    assert page.input_value("#export-start") == last_month_end.replace(day=1).isoformat()  # last month by default
    assert page.input_value("#export-end") == last_month_end.isoformat()

    start, end = today - timedelta(days=20), today
    page.fill("#export-start", end.isoformat())  # backwards: refused on the page …
    page.fill("#export-end", start.isoformat())
    page.dispatch_event("#export-end", "change")
    expect(page.locator("#export-xlsx")).to_be_hidden()
    expect(page.locator("#export-note")).to_contain_text("开始不晚于结束")
    backwards = page.request.get(office.url + f"/api/export?start={end}&end={start}&format=xlsx")
    assert backwards.status == 400  # … and by central

    page.fill("#export-start", start.isoformat())
    page.fill("#export-end", end.isoformat())
    page.dispatch_event("#export-end", "change")
    with page.expect_download() as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename == f"taizhang-{start}-{end}.xlsx"
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    book = openpyxl.load_workbook(saved, read_only=True)
    assert book.sheetnames == ["使用统计", "好差评", "办件", "帮办代办"]
    usage, ratings, filed, helped = ([list(row) for row in book[name].iter_rows(values_only=True)]
                                     for name in book.sheetnames)
    assert len(helped) == 1 and helped[0][0], "the 帮办代办 sheet has its header and no request (none was asked)"
    sessions = office.client(VIEWER).get("/api/usage?days=14").json()["sessions"]
    assert usage[0][6] == "行为 Action" and usage[0][8] == "次数 Count"
    shown_days = today - timedelta(days=13)  # the usage page's fourteen days, today included
    assert sum(row[8] for row in usage[1:] if row[6] == "session_start" and row[0].date() >= shown_days) == sessions
    assert {row[4] for row in usage[1:]} >= {"居民身份证到期换领", "社会保障卡挂失"}  # items by name
    assert len(ratings) - 1 == 40 * len(office.fleet)
    assert filed[0][0] == "办件编号 Case number"
    assert sorted(row[0] for row in filed[1:]) == sorted(office.case_numbers)
    names = {row[5] for row in filed[1:]}
    assert {"社会保障卡挂失", "失业登记", "城乡居民基本医疗保险参保登记"} <= names, names
    everything = json.dumps([usage, ratings, filed], default=str, ensure_ascii=False)
    assert APPLICANT not in everything and ID_NUMBER not in everything and PHONE not in everything

    with page.expect_download() as download:
        page.click("#export-cases")
    assert download.value.suggested_filename == f"taizhang-{start}-{end}-cases.csv"
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
    assert rows[0][0] == "办件编号 Case number" and len(rows) - 1 == len(office.case_numbers)
    assert {row[5] for row in rows[1:]} == names


def test_the_overview_flags_an_overdue_follow_up(office: Office, open_page) -> None:
    page = open_page(OPERATOR)
    with office.central.db.transaction() as conn:  # every open follow-up due next week (ratings are dated when given)
        conn.execute(update(follow_ups).where(follow_ups.c.closed_at.is_(None)).values(due_at=time.time() + 7 * 86_400))
    page.goto(office.url + "/")
    page.wait_for_selector("#fleet tbody tr[data-device]")
    waiting = open_follow_ups(office)
    assert not any(f["overdue"] for f in waiting)
    expect(page.locator("#overdue")).to_be_hidden()  # nothing overdue: no flag

    late = waiting[0]  # the oldest falls due first
    with office.central.db.transaction() as conn:  # its deadline passed an hour ago
        conn.execute(update(follow_ups).where(follow_ups.c.id == late["id"]).values(due_at=time.time() - 3600))
    page.reload()
    expect(page.locator("#overdue")).to_be_visible()
    expect(page.locator("#overdue-follow-ups")).to_have_text("1")
    expect(page.locator("#overdue")).to_contain_text(late["item_name"])
    page.screenshot(path=str(office.shots / "overview.png"), full_page=True)
    page.click("#overdue")
    page.wait_for_url("**/usage#follow-ups")
    row = page.locator(f"#follow-ups tr[data-follow-up='{late['id']}']")
    expect(row).to_have_class(re.compile(r"\boverdue\b"))
    expect(row).to_contain_text("已超期")


# -- the session ends, codes in words, what central could not record ----------------------------------------------
def end_session(page: Page, office: Office) -> None:
    """The session ends on central's side (as after an idle timeout); the page still shows what it showed."""
    assert page.request.post(office.url + "/api/logout", data={}, headers=csrf(page, office)).ok
    assert page.request.get(office.url + "/api/session").status == 401


def test_a_change_made_after_the_session_ended_is_kept_not_lost(office: Office, open_page) -> None:
    page = open_page(OPERATOR)
    target = office.case_numbers[-1]
    page.goto(office.url + f"/case?no={target}")
    expect(page.locator("#status-save")).to_be_visible()
    page.select_option("#new-status", "待补正")
    page.fill("#status-note", "请补交户口簿复印件")
    end_session(page, office)
    page.click("#status-save")
    message = page.locator("#status-message")
    expect(message).to_contain_text("未保存：登录已过期，请重新登录后再保存")
    assert page.url == office.url + f"/case?no={target}"  # still here, the form as typed
    assert page.input_value("#status-note") == "请补交户口簿复印件" and page.input_value("#new-status") == "待补正"
    relogin = message.locator("a.relogin")
    assert relogin.get_attribute("href") == "login?next=" + quote(f"case?no={target}", safe="") + "&reason=expired"
    with office.central.db.read() as conn:
        assert conn.execute(select(cases.c.status).where(cases.c.case_no == target)).scalar_one() != "待补正"

    relogin.click()  # log in again: back on the case, what was typed is there to save
    page.wait_for_url("**/login?**reason=expired")
    expect(page.locator("#login-expired")).to_contain_text("登录已过期，请重新登录")
    page.fill("#username", OPERATOR)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(office.url + f"/case?no={target}")
    expect(page.locator("#status-message")).to_contain_text("已恢复")
    assert page.input_value("#status-note") == "请补交户口簿复印件"
    page.click("#status-save")
    expect(page.locator("#status-message")).to_contain_text("已保存")
    with office.central.db.read() as conn:
        saved = conn.execute(select(cases.c.status, cases.c.note).where(cases.c.case_no == target)).one()
    assert tuple(saved) == ("待补正", "请补交户口簿复印件")

    # a follow-up's note while the page polls: the poll does not leave the page, the close says why it failed
    page.goto(office.url + "/usage")
    page.wait_for_selector("#follow-ups tbody tr[data-follow-up] button")
    page.locator("#follow-ups tbody tr[data-follow-up] button").first.click()
    page.fill("form[data-closing] input[name=note]", "已电话回访，已解释")
    end_session(page, office)
    expect(page.locator("#problem")).to_contain_text("登录已过期", timeout=15_000)  # the next poll: said, not left
    assert page.url == office.url + "/usage"
    assert page.input_value("form[data-closing] input[name=note]") == "已电话回访，已解释"
    page.click("form[data-closing] button[type=submit]")
    expect(page.locator("form[data-closing] .message")).to_contain_text("未关闭：登录已过期")
    assert page.input_value("form[data-closing] input[name=note]") == "已电话回访，已解释"


def test_the_pages_say_codes_in_words(office: Office, open_page) -> None:
    page = open_page(OPERATOR)
    page.goto(office.url + "/")
    page.wait_for_selector("#fleet tbody tr[data-device]")
    text = page.inner_text("main")
    for code in ("fault:paper_end", "absent:port_missing", "degraded:paper_near_end", " s ago", "never"):
        assert code not in text, code
    assert page.inner_text("tr[data-device=bj-dc-0003] td[data-driver=printer]") == "故障：缺纸"
    assert page.inner_text("tr[data-device=bj-dc-0002] td[data-driver=printer]") == "纸将用尽"
    assert page.inner_text("tr[data-device=bj-xc-0002] td[data-driver=card_reader]") == "未连接"
    assert page.inner_text("tr[data-device=bj-dc-0001] td[data-driver=printer]") == "正常"
    assert re.fullmatch(r"\d+ (秒|分钟|小时|天)前", page.inner_text("tr[data-device=bj-dc-0001] td[data-age]"))

    page.goto(office.url + "/device?id=bj-dc-0003")
    alert = page.locator("#alerts tr[data-code=printer_paper_end]")
    expect(alert).to_contain_text("打印机缺纸")
    expect(alert).to_contain_text("严重")
    expect(page.locator("#fact-printer")).to_have_text("故障：缺纸")
    page.wait_for_selector("#events tbody tr[data-kind=rating]")
    text = page.inner_text("main")
    for code in ("fault:paper_end", "printer_paper_end", '{"', "personal data not shown)"):
        assert code not in text, code
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", text), "ISO timestamps shown as they came"
    assert re.search(r"评价 \d 星", page.inner_text("#events tbody tr[data-kind=rating] >> nth=0"))
    assert "使用统计" in page.inner_text("#events") and "人次" in page.inner_text("#events")

    # a command the booth never answered expires: said so, not "waiting…" for ever
    now = time.time()
    with office.central.db.transaction() as conn:
        office.central.db.add_command(conn, "expired-test-1", "expired-test", "bj-dc-0003", "print-test", {},
                                      now - 900, now - 300)
    page.reload()
    expect(page.locator("#commands tr[data-command=expired-test-1]")).to_contain_text("已过期")

    page.goto(office.url + "/device?id=NOT A BOOTH")  # no such booth: said plainly, nothing to send
    expect(page.locator("#title")).to_contain_text("没有这台终端")
    expect(page.locator("#send")).to_be_hidden()
    for asked in ("", "12345", "not-a-case"):
        page.goto(office.url + "/case?no=" + asked)
        expect(page.locator("#title[data-missing]")).to_be_visible()
        expect(page.locator("#status-save")).to_be_hidden()
        expect(page.locator("#details")).to_be_hidden()  # nor the "opening this case is audited" note


def test_what_central_could_not_record_is_shown(office: Office, open_page) -> None:
    booth = "bj-xc-0003"
    with office.central.db.transaction() as conn:
        office.central.db.add_dead_letter(conn, f"kiosk/v1/{booth}/events/rating", booth,
                                          (9_001, "01JDEADLETTER0000000000000"),
                                          "refused by the database: value too long for column item", b'{"x": 1}',
                                          time.time())
    page = open_page(OPERATOR)
    page.goto(office.url + f"/device?id={booth}")
    panel = page.locator("#dead-letter-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("这台终端有 1 条消息中心无法记录，请联系技术人员")
    expect(panel).to_contain_text("value too long")
    expect(page.locator("#gaps")).to_contain_text("无法记录")
    page.goto(office.url + "/")
    expect(page.locator("#dead-letters")).to_contain_text("条消息中心无法记录")
    viewer = open_page(VIEWER)
    viewer.goto(office.url + "/")
    viewer.wait_for_selector("#fleet tbody tr[data-device]")
    expect(viewer.locator("#dead-letters")).to_be_hidden()

    page.goto(office.url + "/device?id=bj-xc-0004")  # a booth without: no panel
    page.wait_for_selector("#events tbody tr")
    expect(page.locator("#dead-letter-panel")).to_be_hidden()


def test_error_states_are_said_in_place(office: Office, open_page) -> None:
    page = open_page(OPERATOR)
    page.goto(office.url + "/usage")
    page.wait_for_selector("#per-day svg rect")
    page.fill("#export-start", "2024-01-01")
    page.fill("#export-end", "2025-06-30")
    page.dispatch_event("#export-end", "change")
    expect(page.locator("#export-note")).to_contain_text("一次最多导出 366 天")
    expect(page.locator("#export-xlsx")).to_be_hidden()
    assert page.inner_text("#per-device").count("人次") >= 1 and "次" in page.inner_text("#top-items")

    page.goto(office.url + "/cases?since=2026-03-10&until=2026-03-01")
    expect(page.locator("#summary")).to_contain_text("开始晚于结束")
    expect(page.locator("#cases tbody td.empty")).to_contain_text("开始晚于结束")

    # a case by its receipt number (26 characters), as a citizen reads it off the slip
    with office.central.db.read() as conn:
        case_no, receipt = conn.execute(select(cases.c.case_no, cases.c.receipt).where(
            cases.c.case_no == office.case_numbers[4])).one()
    page.goto(office.url + f"/case?no={receipt}")
    expect(page.locator("#title")).to_contain_text(case_no)


# -- the pages themselves -----------------------------------------------------------------------------------------
STATIC = Path(__file__).resolve().parents[1] / "central" / "static"


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and not found.get("src"):
            self.problems.append("an inline <script>")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action") and value and (value.startswith("/") or "://" in value):
                self.problems.append(f"<{tag} {name}={value!r}>: not relative")


def test_the_pages_hold_no_inline_script_or_style_and_only_relative_urls() -> None:
    """What the CSP (script-src 'self'; style-src 'self') and a proxy's path prefix demand, for every page
    and script, visited by a test or not."""
    pages = sorted(STATIC.glob("*.html"))
    assert {p.stem for p in pages} >= {"index", "device", "usage", "cases", "case", "audit", "login"}
    for page in pages:
        markup = _Markup()
        markup.feed(page.read_text("utf-8"))
        assert not markup.problems, (page.name, markup.problems)
    for script in sorted(STATIC.glob("*.js")):
        text = script.read_text("utf-8")
        absolute = re.findall(r"[\"'`]/(?:api|static|login|device|usage|cases|case|audit)\b[^\"'`]*", text)
        assert not absolute, (script.name, absolute)
        assert "innerHTML" not in text and "eval(" not in text, script.name


# -- every page, as a laptop shows it, and behind a proxy's path prefix ------------------------------------------
PAGES = ["", "device?id=bj-xc-0001", "usage", "cases", "case?no={case}", "audit"]


def test_every_page_fits_a_laptop_screen(office: Office, open_page) -> None:
    page = open_page(ADMIN, viewport=LAPTOP)
    laptop = office.shots / "laptop" if "DASHBOARD_SCREENSHOTS" not in os.environ else None
    for name in PAGES:
        page.goto(office.url + "/" + name.format(case=office.case_numbers[0]))
        page.wait_for_selector("main table tbody tr, main dl.facts dd")  # drawn: the data arrived
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"/{name} is wider than a laptop's window: {width}"
        header = page.evaluate("document.querySelector('header').getBoundingClientRect().height")
        assert header < 60, f"/{name}: the header wraps onto a second line ({header} px)"
        if laptop:
            laptop.mkdir(exist_ok=True)
            page.screenshot(path=str(laptop / f"{name.split('?')[0] or 'overview'}.png"), full_page=True)


class PrefixProxy(ThreadingHTTPServer):
    """The office's reverse proxy, as small as it gets: /central/… goes to central without the prefix (as
    uvicorn's root_path expects); anything else is recorded as having escaped the prefix, and refused."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.escaped: list[str] = []
        super().__init__(("127.0.0.1", 0), _Forward)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/central"

    def handle_error(self, request: object, client_address: object) -> None:
        """A browser dropping a connection (a poll cut short by leaving the page) is no error here."""


class _Forward(BaseHTTPRequestHandler):
    server: PrefixProxy

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        if not self.path.startswith("/central/"):
            self.server.escaped.append(self.path)
            self.send_error(404)
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "content-length")}
        answer = httpx.request(self.command, self.server.upstream + self.path[len("/central"):], headers=headers,
                               content=body, follow_redirects=False)
        self.send_response(answer.status_code)
        for key, value in answer.headers.multi_items():
            if key.lower() not in ("connection", "content-length", "transfer-encoding", "content-encoding", "date",
                                   "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, *args: object) -> None:
        pass


def test_the_pages_work_under_a_path_prefix(tmp_path: Path, chromium: Browser) -> None:
    """Behind the office's reverse proxy at /central/: every URL the pages use is relative, so nothing
    escapes the prefix, and logging in, moving between pages and logging out stay under it."""
    broker = Mosquitto(tmp_path / "broker").start()
    central = start_central(broker.port, f"sqlite:///{tmp_path / 'central.sqlite3'}", root_path="/central")
    upstream = re.match(r"http://[^/]+", central.url).group(0)
    proxy = PrefixProxy(upstream)
    context = chromium.new_context(viewport=DESKTOP, locale="zh-CN")
    try:
        add_user(central.db, ADMIN, "admin")
        base = proxy.url
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda r: r.url.startswith(base + "/") or r.url.startswith("data:")
                or errors.append(f"escaped the prefix: {r.url}"))
        page.goto(base + "/usage")
        page.wait_for_url(base + "/login?next=usage")
        page.fill("#username", ADMIN)
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_url(base + "/usage")
        expect(page.locator("#user-name")).to_have_text(ADMIN)
        for name in PAGES:
            page.goto(base + "/" + name.format(case="202600000001"))
            expect(page.locator("#user-name")).to_have_text(ADMIN)
            page.wait_for_selector("main table tbody tr, main dl.facts dd, #title:not(:empty)")  # the data arrived
        page.click("[data-nav=usage]")
        page.wait_for_url(base + "/usage")
        expect(page.locator("#follow-ups tbody td.empty")).to_have_text("暂无差评 no 差评 yet")  # none rated yet
        page.click("[data-nav=cases]")
        page.wait_for_url(base + "/cases")
        expect(page.locator("#cases tbody td.empty")).to_contain_text("还没有办件")
        page.click("[data-nav=fleet]")
        page.wait_for_url(base + "/")
        page.click("#logout")
        page.wait_for_url(base + "/login")
        assert not proxy.escaped and not errors, (proxy.escaped, errors)
    finally:
        context.close()
        proxy.shutdown()
        proxy.server_close()
        central.stop()
        broker.stop()
