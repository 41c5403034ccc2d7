"""Delivery through a real Mosquitto: offline queueing, order, exactly-once after de-duplication."""

from __future__ import annotations

from pathlib import Path

from appliance.contract import EventKind
from tests.support import Collector, Confirmer, Mosquitto, free_port, wait_until


def test_broker_absent_at_start_then_everything_arrives_in_order(tmp_path: Path, make_kiosk) -> None:
    broker = Mosquitto(tmp_path / "broker")  # not started: the port is free, nothing listens
    kiosk = make_kiosk(broker.port)
    kiosk.rate("GA-001", 5)
    for n in range(200):
        kiosk.outbox.enqueue(EventKind.RATING, {"item": "GA-001", "level": 4, "n": n})
    kiosk.rate("RS-001", 2)
    assert not kiosk.link.connected
    assert kiosk.outbox.stats()["depth"] == 202

    broker.start()
    try:
        collector = Confirmer(broker)  # plays central: the outbox empties only on its confirmations
        wait_until(lambda: kiosk.outbox.stats()["depth"] == 0, timeout=30)
        collector.wait_for(lambda c: len({e["id"] for e in c.events()}) == 202)
        ratings = {e["id"]: e for e in collector.events("rating")}
        seqs = [e["seq"] for e in sorted(ratings.values(), key=lambda e: e["seq"])]
        assert len(ratings) == 202
        in_order = [e["payload"] for e in sorted(ratings.values(), key=lambda e: e["seq"])]
        assert [p.get("n") for p in in_order[1:-1]] == list(range(200)), "ratings arrived out of order"
        assert (in_order[0]["item"], in_order[-1]["item"]) == ("GA-001", "RS-001")
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        ids = [e["id"] for e in sorted(ratings.values(), key=lambda e: e["seq"])]
        assert ids == sorted(ids), "ULIDs must sort like seq"
        collector.close()
    finally:
        broker.stop()


def test_unreachable_broker_does_not_stop_the_kiosk(tmp_path: Path, make_kiosk, caplog) -> None:
    kiosk = make_kiosk(free_port())
    kiosk.rate("RS-001", 3)
    wait_until(lambda: kiosk.link.last_error is not None, timeout=5)
    assert "unreachable" in kiosk.link.last_error
    assert kiosk.outbox.stats()["depth"] == 1
    assert kiosk.health_snapshot()["link"]["connected"] is False


def test_username_and_password_file_log_in_and_deliver(tmp_path: Path, make_kiosk) -> None:
    broker = Mosquitto(tmp_path / "broker", users={"test-kiosk-0001": "s3cret-pw", "central": "c"}).start()
    try:
        collector = Collector(broker, user=("central", "c"))
        password = tmp_path / "broker.password"
        password.write_text("s3cret-pw\n")
        kiosk = make_kiosk(broker.port, broker={"username": "test-kiosk-0001", "password_file": str(password)})
        kiosk.rate("GA-001", 4)
        collector.wait_for(lambda c: c.events("rating"))
        assert kiosk.link.connected and kiosk.link.last_error is None
        collector.close()
    finally:
        broker.stop()
