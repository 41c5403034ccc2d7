"""The Releases page in a real headless Chromium (Debian's, driven by Playwright), against the real intake and
dashboard (tests.central_web) on a real Mosquitto: booths of two districts (tests.release_sim) report their
updates as the contract has them, and the page shows each rollout's waves and each booth's state.

Each refusal stands beside its matching success: a viewer sees the rollouts but no controls, and the server
refuses what the page does not offer them, while an admin starts, pauses, resumes and halts a rollout from the
page (each audited); a halt asks to be confirmed before it is done. The page keeps to its Content-Security-Policy,
throws nothing and fits a desktop screen. Screenshots go to $DASHBOARD_SCREENSHOTS/releases, else a temporary folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from central.releases.store import add_release
from central.settings import build_settings
from central.tables import audit_log, rollouts
from tests.browser import open_page as open_browser_page
from tests.central_web import RunningCentral, add_user, logged_in, start_central
from tests.release_sim import SimBooth, make_bundle, public_text
from tests.support import Mosquitto, wait_until

DESKTOP = {"width": 1440, "height": 900}
ADMIN, VIEWER = "zhoujie", "lina"
SITES = {  # device → (region, site)
    "bj-dc-0001": ("110101", "东城区政务服务中心 一楼大厅"), "bj-dc-0002": ("110101", "东华门街道便民服务站"),
    "bj-dc-0003": ("110101", "和平里社区服务站"), "bj-xc-0001": ("110102", "西城区政务服务中心 24小时自助区"),
    "bj-xc-0002": ("110102", "工商银行 西单支行"), "bj-xc-0003": ("110102", "金融街街道便民服务站"),
    "bj-xc-0004": ("110102", "月坛社区服务站"), "bj-hd-0001": ("110108", "海淀区政务服务中心 自助区"),
    "bj-hd-0002": ("110108", "中关村街道便民服务站"),
}
expect.set_options(timeout=10_000)


@dataclass
class Office:
    central: RunningCentral
    booths: dict[str, SimBooth]
    releases: dict[str, int]  # version → id
    shots: Path

    @property
    def url(self) -> str:
        return self.central.url

    def state(self, rollout: int) -> str:
        with self.central.db.read() as conn:
            return conn.execute(select(rollouts.c.state).where(rollouts.c.id == rollout)).scalar_one()

    def audit(self, action: str, target: str) -> list[dict]:
        with self.central.db.read() as conn:
            return [dict(r) for r in conn.execute(select(audit_log).where(audit_log.c.action == action,
                                                                          audit_log.c.target == target)).mappings()]


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    """Nine booths in three districts on 1.4.0; releases 1.4.1 and 1.5.0. Rollout #1 (1.4.1 to 西城区) halted by
    itself when its first booth rolled back; rollout #2 (1.5.0 to 东城区) is in its second wave, one booth
    downloading and one on trial."""
    work = tmp_path_factory.mktemp("releases")
    shots = Path(os.environ["DASHBOARD_SCREENSHOTS"]) / "releases" if os.environ.get("DASHBOARD_SCREENSHOTS") \
        else tmp_path_factory.mktemp("shots")
    shots.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(work / "broker").start()
    central = start_central(broker.port, f"sqlite:///{work / 'central.sqlite3'}", release_dir=work / "kept")
    central.intake.sweep_s = 0.3
    booths: dict[str, SimBooth] = {}
    try:
        for device, (region, site) in SITES.items():
            booths[device] = SimBooth(broker, device, region, site=site)
            booths[device].birth()
            booths[device].heartbeat(state="idle")
        wait_until(lambda: central.intake.counts["heartbeat"] >= len(SITES), timeout=20)
        add_user(central.db, ADMIN, "admin")
        add_user(central.db, VIEWER, "viewer")
        key = Ed25519PrivateKey.generate()
        settings = build_settings(release_dir=work / "kept", release_key=public_text(key))
        made = {}
        for version, sizes in (("1.4.1", (1_480_000, 310_000)), ("1.5.0", (1_530_000, 310_000))):
            bundle = make_bundle(work, version, key, sizes)
            made[version] = add_release(central.db, settings, bundle.path, "shell:publisher").id
        admin = logged_in(central.url, ADMIN)
        halted = admin.post("/api/rollouts", json={"release": made["1.4.1"], "target": {"region": "110102"},
                                                   "waves": [25, 75], "halt_above_pct": 20}).json()
        first = next(b["device"] for b in halted["booths"] if b["wave"] == 1)
        wait_until(lambda: booths[first].offer)
        booths[first].heartbeat(state="rolled_back", version="1.4.1", fetched=1_480_000, needed=1_480_000,
                                reason="试运行 5 分钟内看门狗 3 次超时 watchdog missed 3 pings on trial")
        wait_until(lambda: Office(central, booths, made, shots).state(halted["id"]) == "halted")
        running = admin.post("/api/rollouts", json={"release": made["1.5.0"], "target": {"region": "110101"},
                                                    "waves": [33, 67], "halt_above_pct": 20}).json()
        first = next(b["device"] for b in running["booths"] if b["wave"] == 1)
        wait_until(lambda: booths[first].offer)
        booths[first].heartbeat(state="committed", version="1.5.0", fetched=1_530_000, needed=1_530_000)
        booths[first].birth(software="1.5.0")  # it runs the new release now
        second = [b["device"] for b in running["booths"] if b["wave"] == 2]
        wait_until(lambda: all(booths[d].offer for d in second))
        booths[second[0]].heartbeat(state="downloading", version="1.5.0", fetched=620_000, needed=1_530_000)
        booths[second[1]].heartbeat(state="trial", version="1.5.0", fetched=1_530_000, needed=1_530_000)
        admin.close()
        yield Office(central, booths, made, shots)
    finally:
        for booth in booths.values():
            booth.close()
        central.stop()
        broker.stop()


@pytest.fixture
def open_page(chromium: Browser, office: Office):
    contexts, problems = [], []

    def open_(user: str) -> Page:
        context, page = open_browser_page(chromium, office.url, user, DESKTOP, problems)
        contexts.append(context)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not problems, problems


def card(page: Page, rollout: int):
    return page.locator(f"article.rollout[data-rollout='{rollout}']")


def test_the_page_shows_each_wave_and_each_booth_and_fits_a_desktop(office: Office, open_page) -> None:
    page = open_page(ADMIN)
    page.goto(office.url + "/releases")
    running, halted = card(page, 2), card(page, 1)
    expect(running).to_have_attribute("data-state", "running")
    expect(running.locator("tr[data-wave='1'] td[data-stage='committed']")).to_have_text("1")
    expect(running.locator("tr[data-wave='2'].current td[data-stage='acting']")).to_have_text("2")
    expect(running.locator(".now-line")).to_contain_text("第 2 批（最后一批）：等待 2 台终端完成更新")
    expect(halted).to_have_attribute("data-state", "halted")
    expect(halted.locator(".now-line")).to_contain_text("1 of 1 booths rolled back")
    expect(halted.locator("tr[data-wave='2'] td[data-stage='waiting']")).to_have_text("3")
    expect(halted.locator("button.halt")).to_have_count(0)

    halted.locator("button.toggle-booths").click()
    failed = halted.locator("table.rollout-booths tr[data-stage='rolled_back']")
    expect(failed).to_contain_text("看门狗 3 次超时")
    running.locator("button.toggle-booths").click()
    expect(running.locator("table.rollout-booths tr[data-stage='acting']")).to_have_count(2)
    expect(running.locator("td[data-update='downloading']")).to_contain_text("1.5.0")
    expect(page.locator("#releases tbody tr")).to_have_count(2)
    expect(page.locator("#versions [data-version='1.4.0'] b")).to_have_text("8")
    expect(page.locator("#versions [data-version='1.5.0'] b")).to_have_text("1")
    expect(page.locator("#booths tbody tr").first).to_have_attribute("data-device", failed.get_attribute("data-device"))
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"wider than the window: {width}"
    assert page.evaluate("document.querySelector('header').getBoundingClientRect().height") < 60, "the header wraps"
    page.screenshot(path=str(office.shots / "releases.png"), full_page=True)


def test_a_viewer_sees_no_controls_and_is_refused_what_an_admin_does_from_the_page(office: Office,
                                                                                    open_page) -> None:
    viewer = open_page(VIEWER)
    viewer.goto(office.url + "/releases")
    expect(card(viewer, 2)).to_be_visible()
    expect(viewer.locator("#new-rollout")).to_be_hidden()
    expect(viewer.locator("#viewer-note")).to_be_visible()
    expect(viewer.locator("article.rollout button.pause, article.rollout button.halt")).to_have_count(0)
    token = {"X-CSRF-Token": viewer.request.get(office.url + "/api/session").json()["csrf_token"]}
    refused = viewer.request.post(office.url + "/api/rollouts/2/pause", data={}, headers=token)
    assert refused.status == 403 and office.state(2) == "running" and office.audit("rollout_paused", "2") == []

    admin = open_page(ADMIN)
    admin.goto(office.url + "/releases")
    admin.locator("article.rollout[data-rollout='2'] button.pause").click()
    expect(card(admin, 2)).to_have_attribute("data-state", "paused")
    assert office.state(2) == "paused" and office.audit("rollout_paused", "2")[0]["actor"] == ADMIN
    card(admin, 2).locator("button.resume").click()
    expect(card(admin, 2)).to_have_attribute("data-state", "running")
    assert office.audit("rollout_resumed", "2")[0]["actor"] == ADMIN


def test_an_admin_starts_a_rollout_from_the_form_and_halts_it_after_confirming(office: Office, open_page) -> None:
    page = open_page(ADMIN)
    page.goto(office.url + "/releases")
    page.select_option("#release", str(office.releases["1.5.0"]))
    page.check("input[name=kind][value=percent]")
    page.fill("#region", "110108")
    page.fill("#percent", "50")
    page.select_option("#waves", "100")
    expect(page.locator("#reach")).to_contain_text("将推送给 1 台终端")
    page.click("#start")
    expect(page.locator("#start-message")).to_contain_text("已开始推送 #3")
    rollout = card(page, 3)
    expect(rollout).to_have_attribute("data-state", "running")
    expect(rollout.locator("table.rollout-booths tbody tr")).to_have_count(1)  # its booths shown at once
    offered = rollout.locator("table.rollout-booths tbody tr").get_attribute("data-device")
    wait_until(lambda: office.booths[offered].offer and office.booths[offered].offer["rollout"] == 3)
    assert office.audit("rollout_started", "3")[0]["details"]["target"] == {"region": "110108", "percent": 50}

    rollout.locator("button.halt").click()
    expect(rollout.locator(".actions.confirming")).to_be_visible()
    time.sleep(6)  # past a poll of the page: the confirmation stays open
    expect(rollout.locator(".actions.confirming")).to_be_visible()
    assert office.state(3) == "running", "nothing halts before it is confirmed"
    rollout.locator(".halt-reason-input").fill("发现打印问题 printing regression")
    rollout.locator("button.confirm-halt").click()
    expect(rollout).to_have_attribute("data-state", "halted")
    expect(rollout.locator(".now-line")).to_contain_text("printing regression")
    wait_until(lambda: office.booths[offered].offer is None)  # the offer it had not begun on, withdrawn
    line = office.audit("rollout_halted", "3")[0]
    assert line["actor"] == ADMIN and line["details"]["withdrawn"] == 1

    page.goto(office.url + "/audit?action=rollout_halted")
    expect(page.locator("#audit tbody tr[data-action='rollout_halted']").first).to_contain_text("撤回 1 台的推送")
