"""Central's confirmation over a real Mosquitto, the booth's side: only a confirmation naming an
event's seq and id frees it; unconfirmed events go again when overdue and at a reconnect; malformed,
stale or forged confirmations free nothing and never stop the network thread. Central's confirming
role is played by the test Confirmer (tests.support), which can stop confirming."""

from __future__ import annotations

import json
import logging
from collections import Counter

from appliance.contract import QOS_CONFIRMATIONS, EventKind, confirmation, confirmation_topic
from appliance.delivery.pump import parse_confirmation
from appliance.monitor.status_file import snapshot_lines
from tests.support import Confirmer, wait_until

DEVICE = "test-kiosk-0001"


def enqueue(kiosk, count: int) -> list:
    return [kiosk.outbox.enqueue(EventKind.RATING, {"item": "GA-001", "level": 5, "n": n}) for n in range(count)]


def test_unconfirmed_events_are_held_shown_and_sent_again_until_confirmed(broker, confirmer, make_kiosk) -> None:
    confirmer.confirming.clear()  # central is up but confirms nothing (yet)
    kiosk = make_kiosk(broker.port, outbox={"confirm_timeout_s": 1})
    accepted = enqueue(kiosk, 30)
    wait_until(lambda: kiosk.outbox.stats()["unconfirmed"] == 30)
    stats = kiosk.outbox.stats()
    assert stats["depth"] == 30 and stats["in_flight"] == 0 and stats["oldest_unconfirmed_age_s"] is not None
    lines = snapshot_lines(kiosk.health_snapshot())
    assert any(line.startswith("  unconfirmed by central: 30, oldest ") for line in lines), lines
    # Overdue: every one is sent again (more than once while central stays silent, at a growing wait).
    confirmer.wait_for(lambda c: min(Counter(c.received_ids()).values()) >= 2 and len(set(c.received_ids())) == 30)
    assert kiosk.pump.resent >= 30 and kiosk.outbox.held == 30
    confirmer.confirming.set()
    wait_until(lambda: kiosk.outbox.stats()["depth"] == 0)
    assert kiosk.pump.confirmed == 30 and set(confirmer.received_ids()) == {a.id for a in accepted}
    assert kiosk.outbox.stats()["oldest_unconfirmed_age_s"] is None


def test_every_unconfirmed_event_goes_again_at_a_reconnect(broker, confirmer, make_kiosk) -> None:
    confirmer.confirming.clear()
    kiosk = make_kiosk(broker.port)  # the default timeout (120 s): only the reconnect resends here
    enqueue(kiosk, 50)
    wait_until(lambda: kiosk.outbox.stats()["unconfirmed"] == 50)
    assert kiosk.pump.resent == 0
    broker.kill()  # a crash: what the broker held in memory is gone
    broker.start()
    wait_until(lambda: kiosk.link.connects >= 2 and kiosk.outbox.stats()["unconfirmed"] == 50, timeout=20)
    assert kiosk.pump.resent == 50
    confirmer.wait_for(lambda c: min(Counter(c.received_ids()).values()) >= 2)
    confirmer.confirming.set()
    wait_until(lambda: kiosk.outbox.stats()["depth"] == 0)


def test_stale_forged_and_malformed_confirmations_free_nothing(broker, make_kiosk, caplog) -> None:
    central = Confirmer(broker)
    central.confirming.clear()
    kiosk = make_kiosk(broker.port)
    accepted = enqueue(kiosk, 5)
    wait_until(lambda: kiosk.outbox.stats()["unconfirmed"] == 5)
    forged = "01KAAAAAAAAAAAAAAAAAAAAAAA"
    bad = [b"not json", b"[]", b'{"confirmed": 5}', b'{"confirmed": [[1]]}', b'{"confirmed": [["1", "x"]]}',
           json.dumps({"confirmed": [[a.seq, a.id] for a in accepted] + [[True, forged]]}).encode(),
           json.dumps({"confirmed": [[1, forged]] * 1001}).encode(), b"\xff\xfe", b"[" * 100_000,
           b'{"confirmed": [[1, "' + forged.encode() + b'", 3]]}', b'{"confirmed": [[0, "' + forged.encode() + b'"]]}']
    with caplog.at_level(logging.WARNING, logger="kiosk.pump"):
        for payload in bad:
            central.client.publish(confirmation_topic(DEVICE), payload, qos=QOS_CONFIRMATIONS)
        stale = confirmation([(accepted[0].seq, forged), (accepted[1].seq, accepted[2].id), (10_000, forged)])
        central.client.publish(confirmation_topic(DEVICE), json.dumps(stale), qos=QOS_CONFIRMATIONS)
        wait_until(lambda: kiosk.pump.malformed == len(bad) and kiosk.pump.mismatched == 2)
    assert kiosk.outbox.stats()["unconfirmed"] == 5 and kiosk.pump.confirmed == 0
    counters = kiosk.health_snapshot()["counters"]
    assert (counters["confirmations_malformed"], counters["confirmations_mismatched"]) == (len(bad), 2)
    assert len([r for r in caplog.records if "confirmation ignored" in r.message]) == 1, "logged once"
    assert kiosk.link.network_alive() and kiosk.link.connected
    central.confirming.set()  # the real thing still works after all that
    central.client.publish(confirmation_topic(DEVICE), json.dumps(confirmation([(a.seq, a.id) for a in accepted])),
                           qos=QOS_CONFIRMATIONS)
    wait_until(lambda: kiosk.outbox.stats()["depth"] == 0)
    assert kiosk.pump.confirmed == 5
    central.close()


def test_parse_confirmation_takes_exactly_the_contract() -> None:
    body = confirmation([(1, "01KAAAAAAAAAAAAAAAAAAAAAAA"), (2, "01KAAAAAAAAAAAAAAAAAAAAAAB")])
    assert parse_confirmation(json.dumps(body).encode()) == [(1, "01KAAAAAAAAAAAAAAAAAAAAAAA"),
                                                             (2, "01KAAAAAAAAAAAAAAAAAAAAAAB")]
    assert parse_confirmation(b'{"ts": "x", "confirmed": []}') == []
    full = json.dumps(confirmation([(n, "01KAAAAAAAAAAAAAAAAAAAAAAA") for n in range(1, 1001)])).encode()
    assert len(parse_confirmation(full)) == 1000  # MAX_CONFIRMED pairs: still one confirmation
