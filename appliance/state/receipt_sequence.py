"""The booth's daily sequence of receipt numbers (appliance/receipt_numbers.py), in the state database.

A number is taken in the very transaction that files its event (the outbox's `also=` hook): `issue`
reads the day's last sequence, builds the payload with the next number, and the event's transaction
moves the day's counter on only if it still stands where it was read. So a number is never given to two
events and never lost to one that was not filed: a power cut before the commit leaves neither the event
nor the number, after it both (the database is WAL with `synchronous=FULL`).

Each day has its own row, kept for good (one short row a day): whichever day the clock says — a Pi
without NTP can start on an old date, or jump back — that day's sequence goes on from where it stopped,
so the booth never gives a number twice. What the booth cannot know is a state database that was lost
(a new SD card): its sequences start again, and central flags a number it already holds for another
event (central/receipts.py).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from appliance.receipt_numbers import MAX_SEQUENCE, NumbersUsedUp, make
from appliance.state.store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS receipt_days (
    day  TEXT PRIMARY KEY,      -- YYYY-MM-DD, the booth's local date when it filed
    last INTEGER NOT NULL       -- the last sequence given that day (1..9999)
);
"""

T = TypeVar("T")
Commit = Callable[[sqlite3.Connection], None]


class SequenceMoved(Exception):
    """The day's counter moved between reading it and filing (a bug: `issue` holds a lock): nothing filed."""


def local_today() -> date:
    return date.fromtimestamp(time.time())


class ReceiptSequence:
    def __init__(self, store: Store, booth_code: str, today: Callable[[], date] = local_today) -> None:
        self._store = store
        self.booth_code = booth_code
        self._today = today
        self._lock = threading.Lock()  # one number at a time, from reading the counter to the event's commit
        with store.transaction() as conn:
            conn.execute(SCHEMA)

    def issue(self, file: Callable[[str, Commit], T]) -> T:
        """Number one filing: `file(number, commit)` must store its event with `commit` run inside the
        event's transaction (the outbox's `also=`). Raises `NumbersUsedUp` when today's are gone."""
        with self._lock:
            day = self._today()
            key = day.isoformat()
            with self._store.read() as conn:
                row = conn.execute("SELECT last FROM receipt_days WHERE day = ?", (key,)).fetchone()
            last = row[0] if row else 0
            if last >= MAX_SEQUENCE:
                raise NumbersUsedUp(f"{MAX_SEQUENCE} receipt numbers given on {key}")
            number = make(self.booth_code, day, last + 1)

            def commit(conn: sqlite3.Connection) -> None:
                if last:
                    moved = conn.execute("UPDATE receipt_days SET last = ? WHERE day = ? AND last = ?",
                                         (last + 1, key, last)).rowcount
                else:
                    moved = conn.execute("INSERT OR IGNORE INTO receipt_days (day, last) VALUES (?, 1)",
                                         (key,)).rowcount
                if moved != 1:  # raised inside the transaction: the event is rolled back with it
                    raise SequenceMoved(f"receipt sequence of {key} moved while filing")

            return file(number, commit)

    def last(self, day: date) -> int:
        """The last sequence given on `day` (0 for none)."""
        with self._store.read() as conn:
            row = conn.execute("SELECT last FROM receipt_days WHERE day = ?", (day.isoformat(),)).fetchone()
        return row[0] if row else 0
