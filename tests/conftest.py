from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from appliance.events import Notify, nobody_listens
from appliance.kiosk import Kiosk
from tests.support import Collector, Confirmer, Mosquitto, Postgres, TlsFiles, kiosk_config, make_test_ca


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    mosquitto = Mosquitto(tmp_path / "broker").start()
    yield mosquitto
    mosquitto.stop()


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    """A test CA with a server certificate and the test booth's (test-kiosk-0001) client certificate."""
    return make_test_ca(tmp_path / "tls", "test-kiosk-0001")


@pytest.fixture
def tls_broker(tmp_path: Path, tls: TlsFiles) -> Iterator[Mosquitto]:
    """A broker that takes TLS with client certificates: what calls for help and applications need."""
    broker = Mosquitto(tmp_path / "broker", tls=tls).start()
    yield broker
    broker.stop()


@pytest.fixture
def collector(broker: Mosquitto) -> Iterator[Collector]:
    c = Collector(broker)
    yield c
    c.close()


@pytest.fixture
def confirmer(broker: Mosquitto) -> Iterator[Confirmer]:
    """Plays central's confirming role on the test broker (see tests.support.Confirmer)."""
    c = Confirmer(broker)
    yield c
    c.close()


@pytest.fixture
def make_kiosk(tmp_path: Path):
    """Build (and afterwards stop) in-process kiosks: make_kiosk(port, **config sections)."""
    made: list[Kiosk] = []

    def make(port: int, storage: Path | None = None, start: bool = True, notify: Notify = nobody_listens,
             clock: Callable[[], float] = time.monotonic, **sections) -> Kiosk:
        kiosk = Kiosk(kiosk_config(storage or tmp_path / "state", port, **sections), notify=notify, clock=clock)
        if start:
            kiosk.start()
        made.append(kiosk)
        return kiosk

    yield make
    for kiosk in made:
        kiosk.stop()  # once only, and a kiosk never started still closes its devices (simulators, LED threads)


@pytest.fixture(scope="module")
def postgres():
    """One PostgreSQL cluster for a test module (each test makes its own database on it)."""
    cluster = Postgres().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path: Path):
    """Central's database: SQLite by default, PostgreSQL (a private Debian cluster) by URL; same code."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.sqlite3'}"
        return
    postgres = Postgres().start()
    yield postgres.url
    postgres.stop()


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A virtual screen (Xvfb) large enough for both the landscape and the portrait layouts, on a display
    number Xvfb picks itself (tests run in parallel workers, each may have its own)."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1080x1920x24", "-nolisten",
                               "tcp"], pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as told:
        number = told.readline().strip()
    assert server.poll() is None and number, "Xvfb did not start"
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module, for central's pages (tests/browser.py opens pages in it)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_FLAGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
