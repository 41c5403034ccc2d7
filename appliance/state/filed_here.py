"""The booth's own note of what it filed (受理记录): receipt number, event id, kind, item and time —
nothing personal — so a citizen asking about a receipt this very booth issued gets an answer even while
the booth is offline, or before central has the case ("filed here, waiting to be sent").

The note is written right after its event is filed (the event's id is the outbox's to give): a note
that cannot be written leaves the event filed, only this booth's offline answer for it missing. Beside
it, a keyed digest of the applicant's ID number (`holder`, HMAC with a key derived from this booth's
device key, which never leaves it): placing the same card again finds the notes of that citizen, and no
one else's, without the number being kept. Notes live in the state database beside the outbox and are
kept `KEEP_DAYS`; whether the event is still waiting is the outbox's to say (`Outbox.holds`: an event
stays there until central confirms it).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from appliance.receipt_numbers import NUMBER, holder_digest
from appliance.state.store import Store

KEEP_DAYS = 90
SCHEMA = """
CREATE TABLE IF NOT EXISTS filed_here (
    case_ref TEXT PRIMARY KEY,  -- the event's id
    kind     TEXT NOT NULL,     -- submission or appointment
    item     TEXT NOT NULL,     -- the catalogue item's code
    filed_at REAL NOT NULL      -- unix time
    -- number TEXT: the receipt number printed (16 digits); NULL for notes of an older release
    -- holder TEXT: the applicant's keyed digest, with this booth's own key; both added by UPGRADES
);
"""
UPGRADES = (("number", "ALTER TABLE filed_here ADD COLUMN number TEXT"),
            ("holder", "ALTER TABLE filed_here ADD COLUMN holder TEXT"))


@dataclass(frozen=True)
class FiledNote:
    case_ref: str  # the event's id
    kind: str
    item: str
    filed_at: float
    number: str | None = None  # the receipt number (None on a note from before numbers)


class FiledHere:
    def __init__(self, store: Store, holder_key: bytes) -> None:
        """`holder_key`: this booth's own key for the digest of an applicant's ID number (never sent)."""
        self._store = store
        self._holder_key = holder_key
        with store.transaction() as conn:
            conn.execute(SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(filed_here)")}
            for column, statement in UPGRADES:
                if column not in columns:
                    conn.execute(statement)

    def holder(self, id_number: str) -> str:
        """This booth's keyed digest of an ID number: what its notes are found by when the card comes back."""
        return holder_digest(self._holder_key, id_number)

    def note_in(self, conn: sqlite3.Connection, case_ref: str, kind: str, item: str, number: str | None = None,
                holder: str | None = None, now: float | None = None) -> None:
        """Remember a receipt just issued, in the caller's transaction (the event's); forget notes older
        than `KEEP_DAYS`."""
        now = now or time.time()
        conn.execute("INSERT OR IGNORE INTO filed_here (case_ref, kind, item, filed_at, number, holder) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (case_ref, kind, item, now, number, holder))
        conn.execute("DELETE FROM filed_here WHERE filed_at < ?", (now - KEEP_DAYS * 86_400,))

    def note(self, case_ref: str, kind: str, item: str, number: str | None = None, holder: str | None = None,
             now: float | None = None) -> None:
        """`note_in` in a transaction of its own."""
        with self._store.transaction() as conn:
            self.note_in(conn, case_ref, kind, item, number, holder, now)

    def find(self, ref: str) -> FiledNote | None:
        """The note of a receipt number (16 digits) or of an event id (an older receipt's number)."""
        column = "number" if NUMBER.fullmatch(ref) else "case_ref"
        with self._store.read() as conn:
            row = conn.execute(f"SELECT case_ref, kind, item, filed_at, number FROM filed_here WHERE {column} = ? "
                               "ORDER BY filed_at DESC LIMIT 1", (ref,)).fetchone()
        return None if row is None else FiledNote(*row)

    def of_holder(self, holder: str, limit: int = 20) -> list[FiledNote]:
        """The notes of one citizen (by this booth's digest of their ID number), newest first."""
        with self._store.read() as conn:
            rows = conn.execute("SELECT case_ref, kind, item, filed_at, number FROM filed_here WHERE holder = ? "
                                "ORDER BY filed_at DESC LIMIT ?", (holder, limit)).fetchall()
        return [FiledNote(*row) for row in rows]
