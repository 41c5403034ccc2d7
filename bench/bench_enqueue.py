"""Durable enqueue rate: the outbox against persist-queue's SQLiteAckQueue and a bare SQLite loop.

All three commit every event on its own with WAL and `synchronous=FULL`, so each is bound by the
disk's flush; the bare insert-and-commit loop is that limit. A disk's flush time drifts a lot from
second to second, so the three take turns in short blocks (rotating who goes first) for the whole
run, and each one's rate is the median of its blocks.
Goals: outbox ≥ persist-queue, and ≥ 0.9 × the bare loop.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from persistqueue import SQLiteAckQueue

from appliance.config import OutboxSection
from appliance.contract import EventKind
from appliance.delivery.outbox import Outbox
from appliance.state.sealing import Sealer, load_or_create_key
from appliance.state.store import Store

BLOCKS = int(sys.argv[1]) if len(sys.argv) > 1 else 30
BLOCK = 100
PAYLOAD = {"item": "GA-001", "level": 5, "label": "非常满意", "channel": "self-service-terminal",
           "session": "a1b2c3d4e5f6", "comment": ""}


def outbox_put(directory: Path) -> Callable[[], None]:
    store = Store(directory / "outbox.sqlite3")
    outbox = Outbox(store, Sealer(load_or_create_key(directory / "device.key")), OutboxSection(capacity=10**7),
                    boot=1, clock_synced=lambda: True)
    return lambda: outbox.enqueue(EventKind.RATING, PAYLOAD)


def persist_queue_put(directory: Path) -> Callable[[], None]:
    queue = SQLiteAckQueue(str(directory / "pq"), auto_commit=True)
    queue._putter.execute("PRAGMA synchronous=FULL")  # the same durability as the outbox
    return lambda: queue.put(PAYLOAD)


def bare_loop_put(directory: Path) -> Callable[[], None]:
    conn = sqlite3.connect(directory / "bare.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    body = json.dumps(PAYLOAD, ensure_ascii=False).encode()

    def put() -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")

    return put


def main() -> None:
    makers = {"outbox": outbox_put, "persist-queue SQLiteAckQueue": persist_queue_put,
              "bare SQLite loop": bare_loop_put}
    rates: dict[str, list[float]] = {name: [] for name in makers}
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        puts = {name: make(Path(tmp)) for name, make in makers.items()}
        names = list(puts)
        for block in range(BLOCKS):
            for name in names[block % 3:] + names[:block % 3]:
                put = puts[name]
                start = time.perf_counter()
                for _ in range(BLOCK):
                    put()
                rates[name].append(BLOCK / (time.perf_counter() - start))
    median = {name: statistics.median(r) for name, r in rates.items()}
    print(f"durable enqueue: {BLOCKS} blocks of {BLOCK} events each, taking turns; WAL + synchronous=FULL; "
          "median block rate")
    for name, rate in median.items():
        print(f"  {name:30s} {rate:8.0f} events/s  (blocks {min(rates[name]):.0f}–{max(rates[name]):.0f})")
    vs_pq = median["outbox"] / median["persist-queue SQLiteAckQueue"]
    vs_bare = median["outbox"] / median["bare SQLite loop"]
    print(f"  outbox / persist-queue = {vs_pq:.2f}  (goal >= 1.0: {'met' if vs_pq >= 1.0 else 'NOT met'})")
    print(f"  outbox / bare loop     = {vs_bare:.2f}  (goal >= 0.9: {'met' if vs_bare >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()
