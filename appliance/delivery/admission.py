"""What the outbox may take: the bounds on disk, size and count, and who is refused first when full.

Citizen kinds are never refused for capacity (only a disk about to fill refuses them, loudly); usage
is refused at capacity, alerts after a small reserve, so "outbox full" itself still gets through.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from appliance.config import OutboxSection
from appliance.contract import CITIZEN_KINDS, EventKind
from appliance.errors import CodedError

ALERT_RESERVE = 0.02  # alerts may use 2 % over capacity, so "outbox full" itself gets through
EXPIRING_KINDS = (EventKind.USAGE.value, EventKind.ALERT.value)
ENVELOPE_BYTES = 300  # what the envelope and stamp add around a payload, generously


class OutboxRefused(CodedError):
    """`enqueue` did not store the event; `code` says why (outbox_full, disk_full, too_large)."""


class Admission:
    """Judges each event before it is stored (the outbox calls it under its lock, with what it holds)."""

    def __init__(self, limits: OutboxSection, storage_dir: Path) -> None:
        self._limits = limits
        self._storage_dir = storage_dir
        self._disk_checked_at = 0.0
        self._free_mb = 0
        self._full_alerted = False
        self.refused = 0

    def admit(self, kind: EventKind, payload_bytes: int, held: int) -> None:
        """Raises `OutboxRefused` (and counts it) when this event may not be stored now."""
        try:
            self._check(kind, payload_bytes + ENVELOPE_BYTES, held)
        except OutboxRefused:
            self.refused += 1
            raise

    def _check(self, kind: EventKind, size: int, held: int) -> None:
        now = time.monotonic()
        if now - self._disk_checked_at >= 1.0:  # a statvfs per event would cost more than it tells
            self._free_mb = shutil.disk_usage(self._storage_dir).free // (1024 * 1024)
            self._disk_checked_at = now
        if self._free_mb < self._limits.min_free_disk_mb:
            raise OutboxRefused(
                "disk_full",
                f"only {self._free_mb} MB free on the storage disk (outbox.min_free_disk_mb = "
                f"{self._limits.min_free_disk_mb}); {kind} event not stored",
            )
        if kind not in CITIZEN_KINDS:
            capacity = self._limits.capacity
            limit = capacity if kind != EventKind.ALERT else capacity + max(1, int(capacity * ALERT_RESERVE))
            if held >= limit:
                raise OutboxRefused("outbox_full", f"outbox holds {held} events (capacity {capacity}); {kind} refused")
        if size > self._limits.max_event_bytes:
            raise OutboxRefused("too_large", f"{kind} event of {size} bytes exceeds outbox.max_event_bytes "
                                             f"({self._limits.max_event_bytes})")

    def needs_full_alert(self, held: int) -> bool:
        """True once each time the outbox reaches capacity (again only after it fell below 90 %)."""
        full = held >= self._limits.capacity
        if full and not self._full_alerted:
            self._full_alerted = True
            return True
        if held < self._limits.capacity * 0.9:
            self._full_alerted = False
        return False

    def policy(self) -> dict[str, Any]:
        limits = self._limits
        return {
            "capacity": limits.capacity,
            "max_age_days": limits.max_age_days,
            "when_full": "refuse_low_value_first",  # usage at capacity, alerts past a 2 % reserve, citizens never
            "expiring_kinds": list(EXPIRING_KINDS),
            "min_free_disk_mb": limits.min_free_disk_mb,
            "confirm_timeout_s": limits.confirm_timeout_s,  # unconfirmed this long after the PUBACK: sent again
        }
