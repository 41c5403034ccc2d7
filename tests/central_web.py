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
from tests.support import wait_until

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
    """`settings` as `kiosk central serve` takes them; the personal-data key in a folder of its own unless given.
    The dashboard binds port 0, the system's free one (a port found free first could be taken by another test before
    the bind: "Address already in use" under a full parallel run)."""
    settings.setdefault("personal_data_key", Path(tempfile.mkdtemp(prefix="central-key-")) / "personal-data.key")
    config = build_settings(broker_port=broker_port, database=database, http_port=0, **settings)
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


def roll_out(central: RunningCentral, bundle: Path, release_key: str, release_dir: Path, device: str) -> int:
    """`bundle` kept by central (checked with `release_key`) and rolled out to `device` in one wave by an admin
    through the dashboard's API, as the Releases page does; the rollout's id."""
    from central.releases.store import add_release

    settings = build_settings(release_dir=release_dir, release_key=release_key)
    release = add_release(central.db, settings, bundle, "shell:publisher").id
    add_user(central.db, "admin", "admin")
    admin = logged_in(central.url, "admin")
    try:
        answer = admin.post("/api/rollouts", json={"release": release, "target": {"devices": [device]},
                                                    "waves": [100], "halt_above_pct": 0})
    finally:
        admin.close()
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]
