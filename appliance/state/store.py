"""The device's state database (`outbox.sqlite3` under the storage dir).

One SQLite file holds the outbox, the usage ledger, command results and small counters, so that
moving usage counts into the outbox, for instance, is a single transaction. WAL with
`synchronous=FULL`: a commit that returned is on disk and survives a power cut.

Versioned, because a software update can be rolled back: `PRAGMA user_version` is the schema a
release wrote, and meta `readable_from` the oldest schema that can still read it. A release opens a
database from a newer one when that database says it may (changes so far only add, so older code
reads it as it was) and leaves its marks alone; otherwise it refuses with the reason and changes
nothing, so the rows wait for a release that can read them.
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
SCHEMA_VERSION = 1  # raise with every change to SCHEMA or UPGRADES
READABLE_FROM = 1  # the oldest schema whose code reads what this one writes (raise it for a change old code misreads)
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
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"state database {path} cannot be opened: {exc}") from exc
        try:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._full = True  # the synchronous setting in force (switched only when a transaction needs the other)
            self._open_schema()
        except (sqlite3.Error, OSError, StoreError) as exc:
            self._conn.close()
            raise StoreError(f"state database {path} cannot be opened: {exc}") from exc
        self._lock = threading.RLock()

    def _open_schema(self) -> None:
        """Create or upgrade the schema, or read a newer one that allows it; `StoreError` when it does not."""
        found = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'readable_from'").fetchone()
            oldest = int(row[0]) if row else found
            if oldest > SCHEMA_VERSION:
                raise StoreError(f"it was written by a newer release (schema {found}, readable from schema "
                                 f"{oldest}) and this release reads schema {SCHEMA_VERSION} at most; it is kept "
                                 "unchanged for a release that can read it")
            return
        self._conn.executescript(SCHEMA)
        self._upgrade()
        self._conn.execute("INSERT INTO meta (key, value) VALUES ('readable_from', ?) "
                           "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(READABLE_FROM),))
        self._conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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
