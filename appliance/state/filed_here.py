"""The booth's own note of what it filed (受理记录): receipt number, kind, item and time — nothing
personal — so a citizen asking about a receipt this very booth issued gets an answer even while the
booth is offline, or before central has the case ("filed here, waiting to be sent").

Notes live in the state database beside the outbox and are kept `KEEP_DAYS`; whether the event is
still waiting is the outbox's to say (`Outbox.holds`: an event stays there until central confirms it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from appliance.state.store import Store

KEEP_DAYS = 90
SCHEMA = """
CREATE TABLE IF NOT EXISTS filed_here (
    case_ref TEXT PRIMARY KEY,  -- the receipt number (the event's id)
    kind     TEXT NOT NULL,     -- submission or appointment
    item     TEXT NOT NULL,     -- the catalogue item's code
    filed_at REAL NOT NULL      -- unix time
);
"""


@dataclass(frozen=True)
class FiledNote:
    case_ref: str
    kind: str
    item: str
    filed_at: float


class FiledHere:
    def __init__(self, store: Store) -> None:
        self._store = store
        with store.transaction() as conn:
            conn.execute(SCHEMA)

    def note(self, case_ref: str, kind: str, item: str, now: float | None = None) -> None:
        """Remember a receipt just issued (and forget those older than `KEEP_DAYS`)."""
        now = now or time.time()
        with self._store.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO filed_here (case_ref, kind, item, filed_at) VALUES (?, ?, ?, ?)",
                         (case_ref, kind, item, now))
            conn.execute("DELETE FROM filed_here WHERE filed_at < ?", (now - KEEP_DAYS * 86_400,))

    def find(self, case_ref: str) -> FiledNote | None:
        with self._store.read() as conn:
            row = conn.execute("SELECT kind, item, filed_at FROM filed_here WHERE case_ref = ?",
                               (case_ref,)).fetchone()
        return None if row is None else FiledNote(case_ref, *row)
