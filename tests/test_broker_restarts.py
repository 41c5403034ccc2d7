"""The broker restarted five times while 2,000 events are being delivered: none lost."""

from __future__ import annotations

import threading
import time

from appliance.contract import EventKind
from tests.support import wait_until


def test_five_broker_restarts_during_delivery_lose_nothing(broker, confirmer, make_kiosk) -> None:
    collector = confirmer  # plays central: the outbox empties only on its confirmations
    kiosk = make_kiosk(broker.port, outbox={"inflight_window": 20})
    wait_until(lambda: kiosk.link.connected)
    accepted: list[str] = []

    def produce() -> None:
        for n in range(2000):
            accepted.append(kiosk.outbox.enqueue(EventKind.RATING, {"item": "GA-001", "level": 5, "n": n}).id)
            if n % 20 == 0:
                time.sleep(0.05)

    producer = threading.Thread(target=produce)
    producer.start()
    for _ in range(5):  # each restart lands while deliveries are under way
        delivered_before = kiosk.pump.delivered
        wait_until(lambda before=delivered_before: kiosk.link.connected and kiosk.pump.delivered > before + 50,
                   timeout=30)
        broker.restart()
    producer.join()

    wait_until(lambda: kiosk.outbox.stats()["depth"] == 0, timeout=60)
    collector.wait_for(lambda c: {e["id"] for e in c.events("rating")} >= set(accepted), timeout=30)
    delivered = collector.events("rating")
    unique = {e["id"] for e in delivered}
    assert unique == set(accepted)
    assert kiosk.link.connects >= 6, "the restarts did not interrupt the link"
    by_seq = sorted({e["id"]: e for e in delivered}.values(), key=lambda e: e["seq"])
    assert [e["payload"]["n"] for e in by_seq] == list(range(2000))
