"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): the overview with its
counts and filters, a device page whose command reaches a real booth and shows its result, and the
usage page with its 好差评 picture and a follow-up closed by an operator."""

from __future__ import annotations

import os
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from central.database import Database
from central.intake import Intake
from central.settings import build_settings
from central.web import Dashboard
from tests.fleet_sim import demo_fleet
from tests.support import free_port, wait_until

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def central(broker, tmp_path: Path):
    database = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    settings = build_settings(broker_port=broker.port, database=database)
    intake = Intake(settings, Database(database))
    intake.start()
    wait_until(intake.connected.is_set)
    dashboard = Dashboard(intake.db, intake.send_command, "127.0.0.1", free_port())
    dashboard.start()
    yield intake, dashboard
    dashboard.stop()
    intake.stop()


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        chromium.close()


def test_operator_watches_the_fleet_and_commands_a_booth(broker, central, browser, make_kiosk, tmp_path) -> None:
    intake, dashboard = central
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fleet-sim", protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    booths = demo_fleet(client, time.time())
    booth = make_kiosk(broker.port, heartbeat={"interval_s": 1})
    wait_until(lambda: intake.counts["heartbeat"] >= 24 * len(booths) + 1, timeout=30)
    wait_until(lambda: intake.counts["event_rating"] == 40 * len(booths), timeout=30)
    client.disconnect()
    client.loop_stop()
    page = browser
    shots = Path(os.environ.get("DASHBOARD_SCREENSHOTS", tmp_path))  # docs/central for the README
    shots.mkdir(parents=True, exist_ok=True)

    page.goto(dashboard.url + "/")
    page.wait_for_selector("#fleet tbody tr[data-device]")
    assert page.inner_text("#count-total") == str(len(booths) + 1)
    assert page.inner_text("#count-fault") == "2"  # paper out; card reader gone
    assert page.inner_text("#count-offline") == "1"
    page.screenshot(path=str(shots / "overview.png"), full_page=True)
    assert page.locator("#fleet tbody tr[data-device]").count() == len(booths) + 1
    held = page.inner_text("tr[data-device=bj-xc-0001] td[data-unconfirmed]")
    assert held == "300（最早 90 min）", "what a booth holds until central confirms it"

    page.click(".count[data-state=fault]")  # the fault tile filters the table
    page.wait_for_function("document.querySelectorAll('#fleet tbody tr[data-device]').length == 2")
    shown = page.eval_on_selector_all("#fleet tbody tr[data-device]", "rows => rows.map(r => r.dataset.device)")
    assert shown == ["bj-dc-0003", "bj-xc-0002"]
    page.select_option("#state", "")
    page.select_option("#region", "110101")
    page.wait_for_function("document.querySelectorAll('#fleet tbody tr[data-device]').length == 3")

    page.goto(dashboard.url + "/")
    page.click(f"tr[data-device={booth.device_id}]")
    page.wait_for_url(f"**/device?id={booth.device_id}")
    page.wait_for_selector("#chart-outbox svg polyline", state="attached")  # a flat line has no height
    page.select_option("#command", "ping")
    page.click("#send")
    result = page.wait_for_selector("#commands tbody tr td .result.good", timeout=15_000)
    assert result.inner_text().startswith("✓")
    page.screenshot(path=str(shots / "device.png"), full_page=True)

    page.goto(dashboard.url + "/device?id=bj-dc-0003")
    page.wait_for_selector("#alerts tr[data-code=printer_paper_end]")

    page.goto(dashboard.url + "/usage")
    page.wait_for_selector("#per-day svg rect")
    satisfaction = page.inner_text("#satisfaction")
    assert satisfaction.endswith("%") and 50 < float(satisfaction[:-1]) <= 100
    open_before = int(page.inner_text("#open-follow-ups"))
    assert open_before == page.locator("#follow-ups tbody tr[data-follow-up]").count() > 0
    page.on("dialog", lambda dialog: dialog.accept("回访员 王"))
    page.click("#follow-ups tbody tr[data-follow-up] button")
    page.wait_for_function(f"document.querySelector('#open-follow-ups').innerText == '{open_before - 1}'")
    page.screenshot(path=str(shots / "usage.png"), full_page=True)
