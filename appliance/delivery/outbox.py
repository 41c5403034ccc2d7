"""The durable outbox: everything the device must deliver, kept on disk until central has it.

Rows go ready → in flight → delivered (the broker's PUBACK: the broker holds it, perhaps only in
memory) → gone (deleted only when central confirms that it committed the event, naming both its
seq and its id), or set aside (a poison event, with its reason). A broker can acknowledge and then
crash, so a PUBACK frees nothing: delivered rows are sent again when their confirmation is overdue
and at every reconnect. In-flight and delivered rows return to ready when the outbox is opened, so
a power cut or a broker crash at any moment loses nothing that `enqueue` accepted; the price is a
duplicate of what was in flight or unconfirmed, which consumers drop by `id`.

Bounds: `capacity` rows and `max_age_days`. When full, low-value kinds are refused first (usage at
capacity, alerts after a small reserve); citizen kinds are never refused for capacity and never
aged out — only a disk about to fill refuses them, loudly.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from appliance.config import OutboxSection
from appliance.contract import EventKind, event_envelope
from appliance.delivery.admission import EXPIRING_KINDS, Admission
from appliance.state.ids import UlidGenerator
from appliance.state.sealing import CANNOT_OPEN, Sealer
from appliance.state.store import UNCONFIRMED_INDEX, Store

READY, IN_FLIGHT, SET_ASIDE, DELIVERED = 0, 1, 2, 3  # DELIVERED: PUBACK received, central's confirmation not yet


class Pending(NamedTuple):
    """An event taken for delivery: its opened envelope JSON, ready to publish (a tuple: one is made
    per event sent, and a frozen dataclass costs twice as much to make)."""

    id: str
    seq: int
    kind: str
    envelope: bytes


@dataclass(frozen=True)
class Accepted:
    id: str
    seq: int


@dataclass(frozen=True)
class Confirmed:
    """What one confirmation did: rows freed, and rows whose seq a pair named with another id (the
    pair is stale or forged: it frees nothing)."""

    freed: int
    mismatched: int


class Outbox:
    def __init__(self, store: Store, sealer: Sealer, limits: OutboxSection, *, boot: int,
                 clock_synced: Callable[[], bool], on_change: Callable[[], None] = lambda: None) -> None:
        self._store = store
        self._sealer = sealer
        self._limits = limits
        self._boot = boot
        self._clock_synced = clock_synced
        self._on_change = on_change
        self._ids = UlidGenerator()
        self._lock = threading.Lock()
        self._admission = Admission(limits, store.path.parent)
        self.expired = 0
        # The lowest seq that may be ready, per set of kinds `take` skips: `take` walks seq order from
        # there instead of from the start, past rows that wait for central's confirmation. Changed
        # only inside store transactions, which the store serialises.
        self._floors: dict[tuple[str, ...], int] = {}
        with store.transaction() as conn:
            # A new start: whatever was in flight or unconfirmed is sent again.
            conn.execute(f"UPDATE outbox SET state = {READY} WHERE state IN ({IN_FLIGHT}, {DELIVERED})")
            highest = conn.execute("SELECT max(seq) FROM outbox").fetchone()[0] or 0
            self._next_seq = max(highest, int(store.meta_get("seq_high", "0"))) + 1
            self._held = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]

    # -- putting events in ---------------------------------------------------------------------
    def enqueue(self, kind: EventKind, payload: dict[str, Any], *,
                also: Callable[[sqlite3.Connection], None] | None = None) -> Accepted:
        """Store an event durably and return its id and seq; `also` runs in the same transaction.

        Raises `OutboxRefused` when the bounds refuse this kind; nothing is stored then.
        """
        kind = EventKind(kind)
        payload_json = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self._admission.admit(kind, len(payload_json), self._held)
            event_id = self._ids.new()
            seq = self._next_seq
            body = self._sealer.seal(payload_json, event_id.encode())
            with self._store.transaction() as conn:
                conn.execute(
                    "INSERT INTO outbox (seq, id, kind, created, synced, boot, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (seq, event_id, kind.value, time.time(), self._clock_synced(), self._boot, body),
                )
                if also is not None:
                    also(conn)
            self._next_seq += 1
            self._held += 1
        self._on_change()
        return Accepted(event_id, seq)

    def needs_full_alert(self) -> bool:
        """True once each time the outbox reaches capacity (the caller raises the alert)."""
        with self._lock:
            return self._admission.needs_full_alert(self._held)

    # -- taking them out -----------------------------------------------------------------------
    def take(self, limit: int, skip_kinds: Iterable[str] = ()) -> list[Pending]:
        """Mark up to `limit` ready events in flight, oldest first, and return them opened.

        A row whose body cannot be opened is set aside on the spot rather than blocking the rest.
        The in-flight mark is not flushed on its own: after a power cut every in-flight row goes
        back to ready anyway, which is what an unflushed mark amounts to.
        """
        skip = tuple(sorted(skip_kinds))
        marks = ",".join("?" * len(skip))
        where = f"state = {READY}" + (f" AND kind NOT IN ({marks})" if skip else "")
        taken: list[Pending] = []
        broken: list[tuple[str, int]] = []
        with self._store.transaction(durable=False) as conn:
            rows = conn.execute(
                f"SELECT body, id, seq, kind, created, synced, boot FROM outbox WHERE seq >= ? AND {where} "
                "ORDER BY seq LIMIT ?",
                (self._floors.get(skip, 0), *skip, limit),
            ).fetchall()
            if not rows:
                return taken
            # The rows read are exactly the ready ones in this seq range that pass the filter.
            conn.execute(f"UPDATE outbox SET state = {IN_FLIGHT} WHERE {where} AND seq BETWEEN ? AND ?",
                         (*skip, rows[0][2], rows[-1][2]))
            self._floors[skip] = rows[-1][2] + 1
            add = taken.append
            for (_, event_id, seq, kind, created, synced, boot), payload_json in zip(
                    rows, self._sealer.open_many(row[:2] for row in rows), strict=True):
                if payload_json is None:
                    broken.append((CANNOT_OPEN, seq))
                    continue
                add(Pending(event_id, seq, kind, event_envelope(event_id, seq, kind, created, synced, boot,
                                                                payload_json)))
            if broken:
                conn.executemany(f"UPDATE outbox SET state = {SET_ASIDE}, reason = ? WHERE seq = ?", broken)
        return taken

    def _lower_floor(self, seq: int | None) -> None:
        """Rows from `seq` on are ready again: `take` must look there (call inside a transaction)."""
        if seq is not None:
            for skip, floor in self._floors.items():
                self._floors[skip] = min(floor, seq)

    def mark_delivered(self, seqs: Iterable[int]) -> int:
        """The broker acknowledged these (PUBACK): they now wait for central's confirmation.

        Not flushed on its own: a lost mark only means the row is ready again after a power cut,
        and every delivered row is sent again at start anyway. Returns how many rows were marked.
        """
        seqs = list(seqs)
        if not seqs:
            return 0
        now = time.monotonic()  # compared only within this run: every delivered row is ready again at start
        with self._store.transaction(durable=False) as conn:
            before = conn.total_changes
            conn.executemany(f"UPDATE outbox SET state = {DELIVERED}, delivered = ? "
                             f"WHERE state = {IN_FLIGHT} AND seq BETWEEN ? AND ?",
                             [(now, first, last) for first, last in _runs(seqs)])
            return conn.total_changes - before

    def confirm(self, pairs: Iterable[tuple[int, str]]) -> Confirmed:
        """Central committed these events: delete each row whose seq *and* id match, whatever its state.

        A pair that matches no row is a confirmation of an event already freed (central confirms
        redeliveries too). A pair whose seq is held under another id is stale or forged (from before
        the state database was replaced, say): it frees nothing and is counted as mismatched. Not
        flushed on its own: a deletion lost in a power cut costs one duplicate, never an event.
        """
        pairs = list(pairs)
        mismatched = 0
        with self._lock, self._store.transaction(durable=False) as conn:
            before = conn.total_changes
            conn.executemany("DELETE FROM outbox WHERE seq = ? AND id = ?", pairs)
            freed = conn.total_changes - before
            if freed < len(pairs):  # a row still held under a seq a pair named has another id
                seqs = sorted({seq for seq, _ in pairs})
                for start in range(0, len(seqs), 500):
                    chunk = seqs[start:start + 500]
                    mismatched += conn.execute(
                        f"SELECT count(*) FROM outbox WHERE seq IN ({','.join('?' * len(chunk))})", chunk).fetchone()[0]
            if freed:
                self._remember_seq_high(conn)
                self._held -= freed
        return Confirmed(freed, mismatched)

    def redeliver(self, delivered_before: float = math.inf) -> int:
        """Make delivered rows whose PUBACK came before `delivered_before` (time.monotonic()) ready
        again, all of them by default (at a reconnect): their confirmation is overdue, or the broker
        that acknowledged them may have lost them. Returns how many."""
        with self._store.transaction(durable=False) as conn:
            # The partial index of unconfirmed rows, named: left to itself the planner walks the whole
            # table in seq order looking for min(seq), which is every row when none is overdue.
            first = conn.execute(f"SELECT min(seq) FROM outbox INDEXED BY {UNCONFIRMED_INDEX} "
                                 f"WHERE state = {DELIVERED} AND delivered < ?", (delivered_before,)).fetchone()[0]
            if first is None:
                return 0
            cursor = conn.execute(f"UPDATE outbox INDEXED BY {UNCONFIRMED_INDEX} SET state = {READY} "
                                  f"WHERE state = {DELIVERED} AND delivered < ?", (delivered_before,))
            self._lower_floor(first)
        return cursor.rowcount

    def _remember_seq_high(self, conn: sqlite3.Connection) -> None:
        """Rows are about to vanish: keep the highest seq given out, so it is never given again."""
        self._store.meta_set(conn, "seq_high", str(self._next_seq - 1))

    def release(self, seqs: Iterable[int]) -> None:
        """Put in-flight events back to ready (their publish never left the device)."""
        seqs = list(seqs)
        with self._store.transaction() as conn:
            conn.executemany(
                f"UPDATE outbox SET state = {READY} WHERE seq = ? AND state = {IN_FLIGHT}", [(s,) for s in seqs]
            )
            self._lower_floor(min(seqs, default=None))

    def set_aside(self, seq: int, reason: str) -> None:
        """A poison event: keep it (never silently dropped) but stop trying to deliver it."""
        with self._store.transaction() as conn:
            conn.execute(f"UPDATE outbox SET state = {SET_ASIDE}, reason = ? WHERE seq = ?", (reason, seq))

    def retry_set_aside(self) -> int:
        """A maintainer's decision: give every set-aside event another try."""
        with self._store.transaction() as conn:
            cursor = conn.execute(f"UPDATE outbox SET state = {READY}, reason = NULL WHERE state = {SET_ASIDE}")
            self._lower_floor(0)
        self._on_change()
        return cursor.rowcount

    def expire(self, now: float | None = None) -> int:
        """Drop low-value events older than the age limit; citizen events are never aged out."""
        cutoff = (now or time.time()) - self._limits.max_age_days * 86_400
        marks = ",".join("?" * len(EXPIRING_KINDS))
        with self._lock, self._store.transaction() as conn:
            cursor = conn.execute(
                f"DELETE FROM outbox WHERE created < ? AND state != {IN_FLIGHT} AND kind IN ({marks})",
                (cutoff, *EXPIRING_KINDS),
            )
            self._remember_seq_high(conn)
            self._held -= cursor.rowcount
            self.expired += cursor.rowcount
        return cursor.rowcount

    # -- what the heartbeat reports ------------------------------------------------------------
    @property
    def held(self) -> int:
        """Every row held, set-aside and unconfirmed ones included: what the capacity counts (the
        heartbeat's `depth` leaves the set-aside ones out)."""
        return self._held

    def oldest_age_s(self) -> int | None:
        """Age of the oldest event still held, unconfirmed ones included (cheap: only set-aside rows are skipped)."""
        return self._age(f"SELECT created FROM outbox WHERE state != {SET_ASIDE} ORDER BY seq LIMIT 1")

    def oldest_unconfirmed_age_s(self) -> int | None:
        """Age (since it was created) of the oldest event the broker has but central has not confirmed."""
        return self._age(f"SELECT created FROM outbox WHERE seq = "
                         f"(SELECT min(seq) FROM outbox INDEXED BY {UNCONFIRMED_INDEX} WHERE state = {DELIVERED})")

    def _age(self, query: str) -> int | None:
        with self._store.read() as conn:
            row = conn.execute(query).fetchone()
        return None if row is None else max(0, round(time.time() - row[0]))

    def holds(self, event_id: str) -> bool:
        """Whether the event is still here, central not having confirmed it (a scan: for a rare question)."""
        with self._store.read() as conn:
            return conn.execute("SELECT 1 FROM outbox WHERE id = ? LIMIT 1", (event_id,)).fetchone() is not None

    def waiting(self, kinds: Iterable[str]) -> int:
        """Ready events of these kinds (a scan: for a rare question, such as what waits for TLS)."""
        kinds = list(kinds)
        with self._store.read() as conn:
            return conn.execute(f"SELECT count(*) FROM outbox WHERE state = {READY} AND kind IN "
                                f"({','.join('?' * len(kinds))})", kinds).fetchone()[0]

    def stats(self) -> dict[str, Any]:
        with self._store.read() as conn:
            counts = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall())
        return {
            # everything still held for delivery: until central confirms it, an event is the booth's
            "depth": counts.get(READY, 0) + counts.get(IN_FLIGHT, 0) + counts.get(DELIVERED, 0),
            "in_flight": counts.get(IN_FLIGHT, 0),
            "unconfirmed": counts.get(DELIVERED, 0),
            "set_aside": counts.get(SET_ASIDE, 0),
            "oldest_age_s": self.oldest_age_s(),
            "oldest_unconfirmed_age_s": self.oldest_unconfirmed_age_s(),
            "refused_since_boot": self._admission.refused,
            "expired_since_boot": self.expired,
            "policy": self._admission.policy(),
        }


def _runs(seqs: list[int]) -> list[tuple[int, int]]:
    """Consecutive seqs as (first, last) ranges: PUBACKs mostly come in order, so a batch of
    acknowledgements is one range, one statement instead of a statement with hundreds of parameters."""
    runs: list[tuple[int, int]] = []
    for seq in sorted(seqs):
        if runs and seq == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs
