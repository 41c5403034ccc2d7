"""End to end with real parts on both sides: a booth's outbox → the production Mosquitto config (TLS,
client certificates, ACL) → central's intake and database → central's confirmation → the booth's row
freed. The broker is SIGKILLed again and again during the drain, losing what it had acknowledged
and held only in memory: every event the booth accepted ends up in central's database, and the
booth frees each one only on central's confirmation."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from appliance.contract import EventKind
from central.database import Database
from central.intake import Intake
from central.settings import build_settings
from central.tables import events
from tests.support import Mosquitto, make_test_ca, wait_until

DEVICE = "test-kiosk-0001"
EVENTS = 2000
CRASHES = 5


def test_broker_crashes_between_a_real_booth_and_real_central_lose_nothing(tmp_path: Path, make_kiosk) -> None:
    tls = make_test_ca(tmp_path / "tls", DEVICE)
    broker = Mosquitto(tmp_path / "broker", tls=tls, production=True).start()
    cert, key = tls.issue("central-1")
    settings = build_settings(broker_host="localhost", broker_port=broker.port, ca_file=tls.ca, cert_file=cert,
                              key_file=key, database=f"sqlite:///{tmp_path / 'central.sqlite3'}",
                              client_id="central-1")
    central = Intake(settings, Database(settings.database))
    central.start()
    try:
        wait_until(central.connected.is_set)
        kiosk = make_kiosk(broker.port, start=False, outbox={"inflight_window": 100, "confirm_timeout_s": 3},
                           broker={"reconnect_min_s": 1, "reconnect_max_s": 1, "tls": {
                               "ca_file": str(tls.ca), "cert_file": str(tls.client_cert),
                               "key_file": str(tls.client_key)}})
        accepted = {kiosk.outbox.enqueue(EventKind.RATING, {"item": "GA-001", "level": 5, "n": n}).id
                    for n in range(EVENTS)}
        kiosk.start()
        for _ in range(CRASHES):
            before = kiosk.pump.delivered
            wait_until(lambda before=before: kiosk.link.connected and kiosk.pump.delivered > before + 100,
                       timeout=20, interval=0.01)
            broker.kill()
            time.sleep(0.2)
            broker.start()
        wait_until(lambda: kiosk.outbox.held == 0, timeout=60)

        with central.db.read() as conn:
            stored = list(conn.execute(select(events.c.id).where(events.c.device == DEVICE)).scalars())
        assert set(stored) == accepted and len(stored) == EVENTS, "central's database holds each event once"
        counters = kiosk.health_snapshot()["counters"]
        assert counters["confirmed"] == EVENTS and kiosk.outbox.stats()["set_aside"] == 0
        assert kiosk.pump.malformed == 0 and kiosk.pump.mismatched == 0
        print(f"{EVENTS} events through {CRASHES} broker SIGKILLs to central: all in its database and confirmed; "
              f"{counters['delivered']} PUBACKs, {counters['resent']} resent, central counted "
              f"{central.counts.get('event_rating', 0)} recorded and {central.counts.get('duplicate', 0)} duplicates")
    finally:
        central.stop()
        broker.stop()
