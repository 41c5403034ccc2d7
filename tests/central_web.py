"""Central as an office uses it, for the tests: the real intake and the real dashboard (uvicorn) in
this process on a free port, users made the way `kiosk central user add` makes them, and an HTTP
client that logs in like the dashboard's pages do (session cookie, CSRF token from /api/session)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from central import accounts
from central.assist_desk import AssistDesk
from central.catalogue_names import CatalogueNames
from central.database import Database
from central.fleet import FleetSnapshot
from central.intake import Intake
from central.metrics import render
from central.settings import build_settings
from central.web.app import Dashboard
from central.web.context import WebContext
from tests.support import free_port, wait_until

PASSWORD = "correct horse battery"


@dataclass
class RunningCentral:
    intake: Intake
    dashboard: Dashboard
    db: Database

    @property
    def url(self) -> str:
        return self.dashboard.url

    def stop(self) -> None:
        self.dashboard.stop()
        self.intake.stop()


def start_central(broker_port: int, database: str, **settings: Any) -> RunningCentral:
    """`settings` as `kiosk central serve` takes them; the personal-data key in a folder of its own unless given."""
    settings.setdefault("personal_data_key", Path(tempfile.mkdtemp(prefix="central-key-")) / "personal-data.key")
    config = build_settings(broker_port=broker_port, database=database, http_port=free_port(), **settings)
    db = Database(database)
    desk = AssistDesk(db, config)
    intake = Intake(config, db, desk)
    intake.start()
    wait_until(intake.connected.is_set)
    context = WebContext(db=db, settings=config, names=CatalogueNames.load(config.catalogue),
                         send_command=intake.send_command, health=intake.health,
                         metrics=lambda: render(intake, db), fleet=FleetSnapshot(db), desk=desk,
                         publish=intake.publish)
    dashboard = Dashboard(context)
    dashboard.start()
    wait_until(lambda: _answers(dashboard.url))
    return RunningCentral(intake, dashboard, db)


def _answers(url: str) -> bool:
    """Any HTTP answer: the server is up (a test's own Host rules may refuse this very request)."""
    try:
        httpx.get(url + "/login", timeout=2)
        return True
    except httpx.HTTPError:
        return False


def add_user(db: Database, name: str, role: str, regions: tuple[str, ...] = (), password: str = PASSWORD,
             display_name: str | None = None) -> None:
    with db.transaction() as conn:
        accounts.add_user(conn, name, role, list(regions), password, display_name)


def logged_in(url: str, name: str, password: str = PASSWORD) -> httpx.Client:
    """A client with a session, sending the CSRF token with every request, as the pages do."""
    client = httpx.Client(base_url=url, timeout=10)
    answer = client.post("/api/login", json={"username": name, "password": password})
    assert answer.status_code == 200, answer.text
    client.headers["X-CSRF-Token"] = client.get("/api/session").json()["csrf_token"]
    return client
