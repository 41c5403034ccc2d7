"""The broker crashes (SIGKILL) again and again while the booth drains thousands of events.

Mosquitto answers PUBACK for messages it holds only in memory, so each crash loses events the booth
was told the broker had. Only central's confirmation frees an event at the booth, so nothing is lost:
what a crash swallowed is sent again (its confirmation is overdue, and everything unconfirmed goes
again at the reconnect). Central's confirming role is played by the test Confirmer, which records
every copy it receives; duplicates are allowed and counted.
"""

from __future__ import annotations

import time
from collections import Counter

from appliance.contract import EventKind
from appliance.delivery.outbox import DELIVERED
from tests.support import Confirmer, wait_until

EVENTS = 4000
CRASHES = 10  # every third a SIGTERM (the broker saves its persistence file), the rest SIGKILL


def test_repeated_broker_sigkills_during_a_drain_lose_nothing(broker, make_kiosk) -> None:
    kiosk = make_kiosk(broker.port, start=False, outbox={"inflight_window": 200, "confirm_timeout_s": 2},
                       broker={"reconnect_min_s": 1, "reconnect_max_s": 1})
    accepted = [kiosk.outbox.enqueue(EventKind.RATING, {"item": "GA-001", "level": 5, "n": n}).id
                for n in range(EVENTS)]
    central = Confirmer(broker)
    try:
        kiosk.start()
        crashed_at: list[int] = []
        swallowed = 0  # acknowledged by the broker, not yet at central when it died: what PUBACK-deletion lost
        for crash in range(CRASHES):  # each crash lands while deliveries are under way
            before = kiosk.pump.delivered
            wait_until(lambda before=before: kiosk.link.connected and kiosk.pump.delivered > before + 100,
                       timeout=20, interval=0.01)
            crashed_at.append(kiosk.pump.delivered)
            with kiosk.store.read() as conn:
                acknowledged = {row[0] for row in conn.execute(f"SELECT id FROM outbox WHERE state = {DELIVERED}")}
            if crash % 3 == 2:
                broker.stop()
            else:
                broker.kill()
            time.sleep(0.2)  # what was already on its way to central arrives meanwhile
            if crash % 3 != 2:
                swallowed += len(acknowledged - set(central.received_ids()))
            broker.start()  # same port, same persistence file (as of the last save, if any)
        wait_until(lambda: kiosk.outbox.stats()["depth"] == 0, timeout=60)

        received = Counter(central.received_ids())
        assert set(received) == set(accepted), "an event the booth accepted never reached central"
        stats, snapshot = kiosk.outbox.stats(), kiosk.health_snapshot()
        assert stats["set_aside"] == 0 and stats["unconfirmed"] == 0
        assert snapshot["counters"]["confirmed"] == EVENTS, "every row was freed by a confirmation, once"
        assert kiosk.link.connects >= CRASHES + 1, "the crashes did not interrupt the link"
        duplicates = sum(received.values()) - len(received)
        print(f"{EVENTS} events, {CRASHES} broker crashes (after {crashed_at} PUBACKs): all confirmed; "
              f"{swallowed} acknowledged events swallowed by the SIGKILLs (sent again), "
              f"{snapshot['counters']['delivered']} PUBACKs, {snapshot['counters']['resent']} resent, "
              f"{duplicates} duplicates at central, {central.confirmations_sent} confirmations sent")
        assert swallowed > 0, "no crash swallowed an acknowledged event: the test would prove little"
    finally:
        central.close()
