"""The outbox on real SQLite files: durability across reopen, bounds policy, set-aside, expiry."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from appliance.config import OutboxSection
from appliance.contract import EventKind
from appliance.delivery.admission import OutboxRefused
from appliance.delivery.outbox import Outbox
from appliance.monitor.usage import Counted, UsageLedger
from appliance.state.sealing import Sealer, SealError, load_or_create_key
from appliance.state.store import Store
from tests.support import Mosquitto, wait_until


def open_store_and_outbox(state: Path, **limits) -> tuple[Store, Outbox]:
    store = Store(state / "outbox.sqlite3")
    boot = store.next_boot()
    return store, Outbox(store, Sealer(load_or_create_key(state / "device.key")), OutboxSection(**limits), boot=boot,
                         clock_synced=lambda: True)


def open_outbox(state: Path, **limits) -> Outbox:
    return open_store_and_outbox(state, **limits)[1]


def confirm_all(outbox: Outbox, taken) -> None:
    """What the broker's PUBACK and then central's confirmation do to taken events."""
    outbox.mark_delivered([p.seq for p in taken])
    outbox.confirm([(p.seq, p.id) for p in taken])


def test_seq_survives_restarts_and_in_flight_returns_to_ready(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path)
    first = [outbox.enqueue(EventKind.RATING, {"n": n}) for n in range(5)]
    taken = outbox.take(3)
    assert [p.seq for p in taken] == [1, 2, 3]
    confirm_all(outbox, taken[:1])
    # Reopen as after a power cut: the two in flight are ready again, seq goes on from 6.
    outbox = open_outbox(tmp_path)
    assert outbox.stats()["depth"] == 4 and outbox.stats()["in_flight"] == 0
    sixth = outbox.enqueue(EventKind.RATING, {"n": 5})
    assert sixth.seq == 6
    assert [p.id for p in outbox.take(10)] == [a.id for a in first[1:]] + [sixth.id]
    # seq never reused, even after every row is gone
    outbox = open_outbox(tmp_path)
    confirm_all(outbox, outbox.take(100))
    assert outbox.stats()["depth"] == 0
    outbox = open_outbox(tmp_path)
    assert outbox.enqueue(EventKind.RATING, {}).seq == 7


def test_a_puback_frees_nothing_only_central_s_confirmation_does(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path)
    accepted = [outbox.enqueue(EventKind.RATING, {"n": n}) for n in range(6)]
    taken = outbox.take(10)
    assert outbox.mark_delivered([p.seq for p in taken]) == 6
    stats = outbox.stats()
    assert (stats["depth"], stats["in_flight"], stats["unconfirmed"]) == (6, 0, 6)
    assert stats["oldest_unconfirmed_age_s"] == 0 and outbox.held == 6
    assert outbox.take(10) == [], "delivered events are not sent again before their confirmation is overdue"
    # A stale or forged confirmation: right seq, another id (or the other way round) frees nothing.
    other = accepted[1].id
    done = outbox.confirm([(accepted[0].seq, other), (999, accepted[2].id)])
    assert (done.freed, done.mismatched) == (0, 1)
    assert outbox.stats()["unconfirmed"] == 6
    done = outbox.confirm([(a.seq, a.id) for a in accepted[:4]] + [(accepted[0].seq, accepted[0].id)])
    assert (done.freed, done.mismatched) == (4, 0), "a repeated pair (a redelivery confirmed twice) is harmless"
    stats = outbox.stats()
    assert (stats["depth"], stats["unconfirmed"]) == (2, 2) and outbox.held == 2
    # Unconfirmed rows go out again: overdue ones, all of them at a reconnect, and every one at a start.
    assert outbox.redeliver(delivered_before=time.monotonic() - 60) == 0
    assert outbox.redeliver() == 2
    assert [p.id for p in outbox.take(10)] == [a.id for a in accepted[4:]]
    outbox.mark_delivered([a.seq for a in accepted[4:]])
    outbox = open_outbox(tmp_path)
    assert outbox.stats()["unconfirmed"] == 0
    assert [p.id for p in outbox.take(10)] == [a.id for a in accepted[4:]]


def test_confirmation_frees_a_resent_copy_in_any_state(tmp_path: Path) -> None:
    """A late confirmation of the first copy frees the row even while its second copy is in flight,
    and the floor `take` starts from never hides a row made ready again."""
    outbox = open_outbox(tmp_path)
    accepted = [outbox.enqueue(EventKind.RATING, {"n": n}) for n in range(5)]
    outbox.mark_delivered([p.seq for p in outbox.take(5)])
    assert outbox.redeliver() == 5
    in_flight = outbox.take(2)
    assert outbox.confirm([(a.seq, a.id) for a in accepted]).freed == 5
    assert outbox.stats()["depth"] == 0 and outbox.mark_delivered([p.seq for p in in_flight]) == 0
    later = outbox.enqueue(EventKind.RATING, {"n": 5})
    outbox.release([p.seq for p in outbox.take(1)])  # a publish that never left: back to ready
    assert [p.id for p in outbox.take(5)] == [later.id]


def test_unconfirmed_events_count_against_capacity(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path, capacity=100)
    for n in range(100):
        outbox.enqueue(EventKind.USAGE, {"n": n})
    outbox.mark_delivered([p.seq for p in outbox.take(100)])
    with pytest.raises(OutboxRefused) as refused:
        outbox.enqueue(EventKind.USAGE, {"n": 100})
    assert refused.value.code == "outbox_full"
    assert outbox.stats()["depth"] == 100 and outbox.stats()["unconfirmed"] == 100


def test_a_state_database_from_the_previous_version_is_upgraded_in_place(tmp_path: Path) -> None:
    """outbox.sqlite3 as the version before confirmations wrote it (no `delivered` column): it opens,
    keeps every row (ready, in flight and set aside), and the upgraded outbox delivers them."""
    state = tmp_path / "state"
    state.mkdir()
    with sqlite3.connect(state / "outbox.sqlite3") as conn:
        conn.executescript(PREVIOUS_SCHEMA)
    old = Sealer(load_or_create_key(state / "device.key"))
    ids = ["01KAAAAAAAAAAAAAAAAAAAAAA" + c for c in "ABC"]
    with sqlite3.connect(state / "outbox.sqlite3") as conn:
        for seq, (event_id, state_) in enumerate(zip(ids, (0, 1, 2), strict=True), 1):
            conn.execute("INSERT INTO outbox (seq, id, kind, created, synced, boot, state, body) "
                         "VALUES (?, ?, 'rating', ?, 1, 1, ?, ?)",
                         (seq, event_id, time.time(), state_, old.seal(b'{"n":1}', event_id.encode())))
        conn.execute("INSERT INTO meta VALUES ('seq_high', '3'), ('boot', '4')")
    store, outbox = open_store_and_outbox(state)
    assert store.meta_get("boot") == "5"
    stats = outbox.stats()
    assert (stats["depth"], stats["set_aside"], stats["unconfirmed"]) == (2, 1, 0)
    taken = outbox.take(10)
    assert [p.id for p in taken] == ids[:2]
    outbox.mark_delivered([p.seq for p in taken])
    assert outbox.stats()["unconfirmed"] == 2
    assert outbox.enqueue(EventKind.RATING, {}).seq == 4
    store.close()
    outbox = open_outbox(state)  # opening an upgraded file again changes nothing
    assert outbox.stats()["depth"] == 3 and outbox.confirm([(p.seq, p.id) for p in taken]).freed == 2


# The state database as the version before confirmations created it (git show f085c5a:appliance/state/store.py).
PREVIOUS_SCHEMA = """
PRAGMA journal_mode=WAL;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE outbox (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    created REAL NOT NULL,
    synced  INTEGER NOT NULL,
    boot    INTEGER NOT NULL,
    state   INTEGER NOT NULL DEFAULT 0,
    reason  TEXT,
    body    BLOB NOT NULL
);
CREATE TABLE usage_counts (action TEXT NOT NULL, item TEXT NOT NULL, count INTEGER NOT NULL,
                           PRIMARY KEY (action, item));
CREATE TABLE command_results (id TEXT PRIMARY KEY, at REAL NOT NULL, result TEXT NOT NULL);
"""


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
    store, outbox = open_store_and_outbox(tmp_path, capacity=100)
    ledger = UsageLedger(store, outbox, interval_s=900)
    ledger.count(Counted.GUIDE_VIEWED, "GA-001")
    ledger.count(Counted.GUIDE_VIEWED, "GA-001")
    for n in range(100):
        outbox.enqueue(EventKind.USAGE, {"n": n})
    assert ledger.flush() is False  # refused: the counts stay
    ledger.count(Counted.RATING, "GA-001")
    confirm_all(outbox, outbox.take(50))
    assert ledger.flush() is True
    last = outbox.take(100)[-1]
    assert last.kind == "usage"
    import json

    counts = {(c["action"], c["item"]): c["count"] for c in json.loads(last.envelope)["payload"]["counts"]}
    assert counts == {("guide_viewed", "GA-001"): 2, ("rating", "GA-001"): 1}
    with store.read() as conn:
        assert conn.execute("SELECT count(*) FROM usage_counts").fetchone()[0] == 0


def test_poison_event_is_set_aside_and_the_rest_flows(tmp_path: Path, make_kiosk, collector, broker) -> None:
    broker.stop()
    small = Mosquitto(tmp_path / "small-broker", extra="message_size_limit 2000").start()
    try:
        from tests.support import Confirmer

        listener = Confirmer(small)
        kiosk = make_kiosk(small.port)
        kiosk.outbox.enqueue(EventKind.RATING, {"item": None, "topic": "before"})
        kiosk.outbox.enqueue(EventKind.RATING, {"item": None, "topic": "x" * 5000})
        kiosk.outbox.enqueue(EventKind.RATING, {"item": None, "topic": "after"})
        # De-duplicated by id as central does: "before" may come again, being unconfirmed at the drops.
        listener.wait_for(lambda c: [e["payload"]["topic"] for e in {e["id"]: e for e in c.events("rating")}.values()]
                          == ["before", "after"])
        wait_until(lambda: kiosk.outbox.stats()["set_aside"] == 1)
        wait_until(lambda: kiosk.outbox.stats()["depth"] == 0)  # the last confirmation is settled
        assert kiosk.pump.set_aside_events == 1
        listener.close()
    finally:
        small.stop()
