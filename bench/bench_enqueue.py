"""Durable enqueue rate: the outbox against persist-queue's SQLiteAckQueue and a bare SQLite loop.

All three commit every event on its own with WAL and `synchronous=FULL`, so each is bound by the
disk's flush; the bare insert-and-commit loop is that limit. Rounds are interleaved so a noisy
disk hurts all three alike; the median round is reported.
Goals: outbox ≥ persist-queue, and ≥ 0.9 × the bare loop.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from persistqueue import SQLiteAckQueue

from appliance.config import OutboxSection
from appliance.contract import EventKind
from appliance.outbox import Outbox
from appliance.sealing import Sealer, load_or_create_key
from appliance.store import Store

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
ROUNDS = 5
PAYLOAD = {"item": "GA-001", "level": 5, "label": "非常满意", "channel": "self-service-terminal",
           "session": "a1b2c3d4e5f6", "comment": ""}


def outbox_rate(directory: Path) -> float:
    store = Store(directory / "outbox.sqlite3")
    outbox = Outbox(store, Sealer(load_or_create_key(directory / "device.key")), OutboxSection(capacity=10**7),
                    boot=1, clock_synced=lambda: True)
    start = time.perf_counter()
    for _ in range(EVENTS):
        outbox.enqueue(EventKind.RATING, PAYLOAD)
    elapsed = time.perf_counter() - start
    store.close()
    return EVENTS / elapsed


def persist_queue_rate(directory: Path) -> float:
    queue = SQLiteAckQueue(str(directory), auto_commit=True)
    queue._putter.execute("PRAGMA synchronous=FULL")  # the same durability as the outbox
    start = time.perf_counter()
    for _ in range(EVENTS):
        queue.put(PAYLOAD)
    elapsed = time.perf_counter() - start
    queue.close()
    return EVENTS / elapsed


def bare_loop_rate(directory: Path) -> float:
    conn = sqlite3.connect(directory / "bare.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    body = json.dumps(PAYLOAD, ensure_ascii=False).encode()
    start = time.perf_counter()
    for _ in range(EVENTS):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return EVENTS / elapsed


def main() -> None:
    runs: dict[str, list[float]] = {"outbox": [], "persist-queue SQLiteAckQueue": [], "bare SQLite loop": []}
    for _ in range(ROUNDS):
        for name, bench in zip(runs, (outbox_rate, persist_queue_rate, bare_loop_rate), strict=True):
            with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
                runs[name].append(bench(Path(tmp)))
    median = {name: statistics.median(rates) for name, rates in runs.items()}
    print(f"durable enqueue, {EVENTS} events x {ROUNDS} interleaved rounds, WAL + synchronous=FULL, median:")
    for name, rate in median.items():
        print(f"  {name:30s} {rate:9.0f} events/s   (rounds: {', '.join(f'{r:.0f}' for r in runs[name])})")
    vs_pq = median["outbox"] / median["persist-queue SQLiteAckQueue"]
    vs_bare = median["outbox"] / median["bare SQLite loop"]
    print(f"  outbox / persist-queue = {vs_pq:.2f}  (goal >= 1.0: {'met' if vs_pq >= 1.0 else 'NOT met'})")
    print(f"  outbox / bare loop     = {vs_bare:.2f}  (goal >= 0.9: {'met' if vs_bare >= 0.9 else 'NOT met'})")


if __name__ == "__main__":
    main()
