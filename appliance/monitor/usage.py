"""The usage ledger (台账): counts every citizen action locally and reports each window.

Counts are written to the state database as they happen, so a power cut loses none. When a window
closes, its counts move into the outbox as one `events/usage` event in the same transaction that
clears them; if the outbox refuses (full), they simply stay and join the next window's report.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from enum import StrEnum

from appliance.contract import EventKind, iso
from appliance.delivery.admission import OutboxRefused
from appliance.delivery.outbox import Outbox
from appliance.state.store import Store

log = logging.getLogger("kiosk.usage")


class Counted(StrEnum):
    """A step of a citizen's visit the usage ledger counts (its value is the heartbeat's counter key)."""

    SESSION_START = "session_start"
    SESSION_END = "session_end"
    GUIDE_VIEWED = "guide_viewed"
    NOTICE_PRINTED = "notice_printed"
    SUBMISSION = "submission"
    RATING = "rating"
    RATING_OFFERED = "rating_offered"  # a task done (notice printed, application filed, booking made): rating asked
    RATING_GIVEN = "rating_given"  # an offer answered with a rating
    RATING_SKIPPED = "rating_skipped"  # an offer skipped, or still open when the visit ended
    ASSIST = "assist"
    APPOINTMENT = "appointment"
    TIMEOUT = "timeout"


class UsageLedger:
    def __init__(self, store: Store, outbox: Outbox, interval_s: int) -> None:
        self._store = store
        self._outbox = outbox
        self._interval_s = interval_s
        self.since_boot: Counter[str] = Counter()
        start = store.meta_get("usage_window_start")
        self._window_start = float(start) if start else time.time()
        if start is None:
            with store.transaction() as conn:
                store.meta_set(conn, "usage_window_start", repr(self._window_start))

    def count(self, action: Counted, item: str = "") -> None:
        with self._store.transaction() as conn:
            conn.execute(
                "INSERT INTO usage_counts (action, item, count) VALUES (?, ?, 1) "
                "ON CONFLICT(action, item) DO UPDATE SET count = count + 1",
                (action.value, item),
            )
        self.since_boot[action.value] += 1

    def flush_if_due(self, now: float | None = None) -> bool:
        now = now or time.time()
        if now - self._window_start < self._interval_s:
            return False
        return self.flush(now)

    def flush(self, now: float | None = None) -> bool:
        """Close the window: its counts go into the outbox. True when the window was closed."""
        now = now or time.time()
        with self._store.read() as conn:
            rows = conn.execute("SELECT action, item, count FROM usage_counts ORDER BY action, item").fetchall()

        def clear(conn) -> None:
            # Subtract what was reported rather than delete all: a count made meanwhile stays.
            conn.executemany(
                "UPDATE usage_counts SET count = count - ? WHERE action = ? AND item = ?",
                [(c, a, i) for a, i, c in rows],
            )
            conn.execute("DELETE FROM usage_counts WHERE count <= 0")
            self._store.meta_set(conn, "usage_window_start", repr(now))

        if not rows:
            with self._store.transaction() as conn:
                clear(conn)
        else:
            payload = {
                "window_start": iso(self._window_start, "seconds"),
                "window_end": iso(now, "seconds"),
                "counts": [{"action": a, "item": i, "count": c} for a, i, c in rows],
            }
            try:
                self._outbox.enqueue(EventKind.USAGE, payload, also=clear)
            except OutboxRefused as exc:
                log.warning("usage report kept for the next window: %s", exc)
                return False
        self._window_start = now
        return True
