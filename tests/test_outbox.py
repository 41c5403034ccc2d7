"""The outbox on real SQLite files: durability across reopen, bounds policy, set-aside, expiry."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from appliance.config import OutboxSection
from appliance.contract import EventKind
from appliance.outbox import Outbox, OutboxRefused
from appliance.sealing import Sealer, SealError, load_or_create_key
from appliance.store import Store
from appliance.usage import Action, UsageLedger
from tests.support import Mosquitto, wait_until


def open_outbox(state: Path, **limits) -> Outbox:
    store = Store(state / "outbox.sqlite3")
    boot = store.next_boot()
    return Outbox(store, Sealer(load_or_create_key(state / "device.key")), OutboxSection(**limits), boot=boot,
                  clock_synced=lambda: True)


def test_seq_survives_restarts_and_in_flight_returns_to_ready(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path)
    first = [outbox.enqueue(EventKind.RATING, {"n": n}) for n in range(5)]
    taken = outbox.take(3)
    assert [p.seq for p in taken] == [1, 2, 3]
    outbox.acknowledge([taken[0].seq])
    # Reopen as after a power cut: the two in flight are ready again, seq goes on from 6.
    outbox = open_outbox(tmp_path)
    assert outbox.stats()["depth"] == 4 and outbox.stats()["in_flight"] == 0
    sixth = outbox.enqueue(EventKind.RATING, {"n": 5})
    assert sixth.seq == 6
    assert [p.id for p in outbox.take(10)] == [a.id for a in first[1:]] + [sixth.id]
    # seq never reused, even after every row is gone
    outbox.acknowledge([p.seq for p in outbox.take(100)])
    outbox = open_outbox(tmp_path)
    assert outbox.enqueue(EventKind.RATING, {}).seq == 7


def test_bounds_refuse_low_value_first_and_never_citizen_events(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path, capacity=100)
    for n in range(100):
        outbox.enqueue(EventKind.USAGE, {"n": n})
    assert outbox.needs_full_alert() and not outbox.needs_full_alert(), "the alert is raised once"
    with pytest.raises(OutboxRefused) as refused:
        outbox.enqueue(EventKind.USAGE, {"n": 100})
    assert refused.value.code == "outbox_full"
    outbox.enqueue(EventKind.ALERT, {"code": "outbox_full"})  # the 2 % reserve lets alerts through
    outbox.enqueue(EventKind.ALERT, {"code": "again"})
    with pytest.raises(OutboxRefused):
        outbox.enqueue(EventKind.ALERT, {"code": "one too many"})
    for n in range(50):  # citizens are never turned away for capacity
        outbox.enqueue(EventKind.SUBMISSION, {"n": n})
        outbox.enqueue(EventKind.RATING, {"n": n})
    stats = outbox.stats()
    assert stats["depth"] == 202 and stats["refused_since_boot"] == 2
    assert stats["policy"]["capacity"] == 100


def test_age_limit_drops_only_low_value_events(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path, max_age_days=1)
    outbox.enqueue(EventKind.USAGE, {})
    outbox.enqueue(EventKind.ALERT, {"code": "x"})
    outbox.enqueue(EventKind.SUBMISSION, {})
    outbox.enqueue(EventKind.RATING, {})
    assert outbox.expire(now=time.time() + 2 * 86_400) == 2
    stats = outbox.stats()
    assert stats["depth"] == 2 and stats["expired_since_boot"] == 2 and stats["oldest_age_s"] == 0


def test_oversized_event_is_refused_at_enqueue(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path, max_event_bytes=1024)
    with pytest.raises(OutboxRefused) as refused:
        outbox.enqueue(EventKind.SUBMISSION, {"photo": "x" * 2000})
    assert refused.value.code == "too_large" and "max_event_bytes" in str(refused.value)
    assert outbox.stats()["depth"] == 0


def test_a_corrupted_row_is_set_aside_and_does_not_block_the_rest(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path)
    bad = outbox.enqueue(EventKind.RATING, {"n": 0})
    good = outbox.enqueue(EventKind.RATING, {"n": 1})
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as conn:
        conn.execute("UPDATE outbox SET body = x'00112233445566778899aabbccddeeff00' WHERE id = ?", (bad.id,))
    taken = outbox.take(10)
    assert [p.id for p in taken] == [good.id]
    stats = outbox.stats()
    assert stats["set_aside"] == 1
    assert outbox.retry_set_aside() == 1


def test_device_key_is_private_and_checked(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "device.key")
    assert len(key) == 32 and (tmp_path / "device.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(tmp_path / "device.key") == key
    (tmp_path / "short.key").write_bytes(b"123")
    with pytest.raises(SealError, match="restore it from backup"):
        load_or_create_key(tmp_path / "short.key")


def test_usage_counts_wait_in_the_ledger_while_the_outbox_is_full(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path, capacity=100)
    ledger = UsageLedger(outbox._store, outbox, interval_s=900)
    ledger.count(Action.GUIDE_VIEWED, "GA-001")
    ledger.count(Action.GUIDE_VIEWED, "GA-001")
    for n in range(100):
        outbox.enqueue(EventKind.USAGE, {"n": n})
    assert ledger.flush() is False  # refused: the counts stay
    ledger.count(Action.RATING, "GA-001")
    outbox.acknowledge([p.seq for p in outbox.take(50)])
    assert ledger.flush() is True
    last = outbox.take(100)[-1]
    assert last.kind == "usage"
    import json

    counts = {(c["action"], c["item"]): c["count"] for c in json.loads(last.envelope)["payload"]["counts"]}
    assert counts == {("guide_viewed", "GA-001"): 2, ("rating", "GA-001"): 1}
    with outbox._store.read() as conn:
        assert conn.execute("SELECT count(*) FROM usage_counts").fetchone()[0] == 0


def test_poison_event_is_set_aside_and_the_rest_flows(tmp_path: Path, make_kiosk, collector, broker) -> None:
    broker.stop()
    small = Mosquitto(tmp_path / "small-broker", extra="message_size_limit 2000").start()
    try:
        from tests.support import Collector

        listener = Collector(small)
        kiosk = make_kiosk(small.port)
        kiosk.outbox.enqueue(EventKind.ASSIST, {"item": None, "topic": "before"})
        kiosk.outbox.enqueue(EventKind.ASSIST, {"item": None, "topic": "x" * 5000})
        kiosk.outbox.enqueue(EventKind.ASSIST, {"item": None, "topic": "after"})
        listener.wait_for(lambda c: [e["payload"]["topic"] for e in c.events("assist")] == ["before", "after"])
        wait_until(lambda: kiosk.outbox.stats()["set_aside"] == 1)
        wait_until(lambda: kiosk.outbox.stats()["depth"] == 0)  # the last PUBACK is settled
        assert kiosk.pump.set_aside == 1
        listener.close()
    finally:
        small.stop()
