"""The device's state database (`outbox.sqlite3` under the storage dir).

One SQLite file holds the outbox, the usage ledger, command results and small counters, so that
moving usage counts into the outbox, for instance, is a single transaction. WAL with
`synchronous=FULL`: a commit that returned is on disk and survives a power cut.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- No secondary index that an insert touches, on purpose: each durable enqueue then writes one page,
-- as a bare insert would. Ready rows are found by walking seq order from the outbox's floor (the
-- lowest seq that may be ready); rows awaiting central's confirmation have their own partial index
-- (see INDEXES), which a new row in state 0 is not part of.
CREATE TABLE IF NOT EXISTS outbox (
    seq     INTEGER PRIMARY KEY,        -- per-device, monotonic, never reused (meta seq_high)
    id      TEXT NOT NULL,              -- ULID
    kind    TEXT NOT NULL,
    created REAL NOT NULL,              -- unix time at enqueue
    synced  INTEGER NOT NULL,           -- was the clock synchronised then
    boot    INTEGER NOT NULL,           -- the start during which it was made
    state   INTEGER NOT NULL DEFAULT 0, -- 0 ready, 1 in flight, 2 set aside, 3 delivered (awaiting confirmation)
    reason  TEXT,                       -- why it was set aside
    body    BLOB NOT NULL               -- the payload JSON, sealed
    -- delivered REAL: when the broker's PUBACK came (state 3), in time.monotonic() seconds of the run
    --   that marked it (a Pi's wall clock jumps at NTP sync; every delivered row is sent again at the
    --   next start anyway); added by UPGRADES
);
CREATE TABLE IF NOT EXISTS usage_counts (
    action TEXT NOT NULL,
    item   TEXT NOT NULL,
    count  INTEGER NOT NULL,
    PRIMARY KEY (action, item)
);
CREATE TABLE IF NOT EXISTS command_results (
    id     TEXT PRIMARY KEY,
    at     REAL NOT NULL,
    result TEXT NOT NULL
);
"""


# Changes to a state database written by an earlier version, applied in place at open (each is
# idempotent and checked first): a booth's queued events survive a software update.
UPGRADES = (
    # central's confirmation frees an event; the broker's PUBACK only marks it delivered (state 3)
    ("outbox", "delivered", "ALTER TABLE outbox ADD COLUMN delivered REAL"),
)
UNCONFIRMED_INDEX = "outbox_unconfirmed"
INDEXES = f"""
CREATE INDEX IF NOT EXISTS {UNCONFIRMED_INDEX} ON outbox (delivered, state) WHERE state = 3;  -- covering
"""


class StoreError(Exception):
    """The state database cannot be opened or written."""


class Store:
    """A single shared connection guarded by a lock; callers use `transaction()` or `read()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._full = True  # the synchronous setting in force (switched only when a transaction needs the other)
            self._conn.executescript(SCHEMA)
            self._upgrade()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"state database {path} cannot be opened: {exc}") from exc
        self._lock = threading.RLock()

    def _upgrade(self) -> None:
        """Bring a database from an earlier version up to this one, keeping its rows."""
        for table, column, statement in UPGRADES:
            columns = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            if column not in columns:
                self._conn.execute(statement)
        self._conn.executescript(INDEXES)

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed when the block ends without an exception.

        `durable=False` skips the flush for changes whose loss is harmless (the next durable commit
        flushes them anyway, in order); everything else is on disk when the block ends.
        """
        with self._lock:
            if durable != self._full:  # switched lazily: a run of non-durable batches pays for it once
                self._conn.execute("PRAGMA synchronous=FULL" if durable else "PRAGMA synchronous=NORMAL")
                self._full = durable
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def meta_get(self, key: str, default: str | None = None) -> str | None:
        with self.read() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def meta_set(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def next_boot(self) -> int:
        """Increase and return the persisted boot counter (the bdSeq of birth and will)."""
        with self.transaction() as conn:
            boot = int(self.meta_get("boot", "0")) + 1
            self.meta_set(conn, "boot", str(boot))
        return boot

    def close(self) -> None:
        with self._lock:
            self._conn.close()
