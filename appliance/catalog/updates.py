"""Catalogue updates from central: a retained, signed message per region.

Only a catalogue signed with the configured key is considered, and only one the publisher ordered after
everything this booth has installed: its `sequence` (inside the signed bytes) must be higher than the
highest the booth keeps in its state database, which survives restarts and software rollbacks. So a
replayed old message is refused, as is one with the same sequence and other content; the same message
again (the retained one at a reconnect) is ignored. Every refusal is an alert naming what came, and
the catalogue in use stays. A message is bounded in size before anything of it is parsed."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.catalog.holder import CatalogHolder
from appliance.catalog.model import CatalogError, parse_catalog
from appliance.catalog.signing import CatalogRejected, open_message
from appliance.events import CatalogChanged, Notify
from appliance.state.store import Store

log = logging.getLogger("kiosk.catalog")

MAX_MESSAGE_BYTES = 2 * 1024 * 1024  # the whole catalogue is about 0.55 MB as a signed message with its index
HIGHEST_KEY = "catalog_sequence"


class CatalogUpdates:
    def __init__(self, holder: CatalogHolder, public_key: Ed25519PublicKey | None, alert: Callable[..., None],
                 notify: Notify, store: Store) -> None:
        """`alert(code, severity, message, **details)`: how a refusal reaches central (monitor/alerts.py)."""
        self._holder = holder
        self._key = public_key
        self._alert = alert
        self._notify = notify
        self._store = store

    def highest(self) -> int:
        """The highest sequence this booth has installed (the catalogue in use may say so itself)."""
        current = self._holder.current.sequence if self._holder.current else 0
        return max(int(self._store.meta_get(HIGHEST_KEY, "0")), current)

    def receive(self, topic: str, payload: bytes) -> None:
        if not payload:
            return  # the publisher cleared the retained message: nothing was offered
        try:
            if len(payload) > MAX_MESSAGE_BYTES:
                raise CatalogRejected("oversized", f"catalogue message of {len(payload)} bytes exceeds "
                                                   f"{MAX_MESSAGE_BYTES}: not read")
            opened = open_message(payload, self._key)
            candidate = parse_catalog(json.loads(opened.catalog))
            if not self._ordered_after_ours(candidate):
                return
            catalog = self._holder.replace(opened.catalog, opened.search)
            with self._store.transaction() as conn:
                self._store.meta_set(conn, HIGHEST_KEY, str(catalog.sequence))
        except CatalogRejected as exc:
            log.warning("catalogue update refused: %s", exc)
            self._alert("catalog_rejected", "warning", str(exc), reason=exc.reason)
            return
        except (CatalogError, ValueError, AttributeError, OSError) as exc:
            log.warning("catalogue update unusable: %s; still using %s", exc, self._holder.version)
            self._alert("catalog_invalid", "warning", f"{exc}; still using {self._holder.version}")
            return
        log.info("catalogue %s (sequence %d) installed (%d items)", catalog.version, catalog.sequence,
                 len(catalog.items))
        self._notify(CatalogChanged(catalog.version))

    def _ordered_after_ours(self, candidate) -> bool:
        """True for a newer catalogue; False for the one in use again; `CatalogRejected` for an older one or
        another with the same sequence."""
        highest = self.highest()
        if candidate.sequence > highest:
            return True
        if candidate.sequence == highest and candidate == self._holder.current:
            return False  # the retained message again, at a reconnect
        what = f"catalogue {candidate.version} (sequence {candidate.sequence})"
        if candidate.sequence == highest:
            raise CatalogRejected("conflict", f"{what} differs from the one installed with that sequence; "
                                              f"still using {self._holder.version}")
        raise CatalogRejected("replayed", f"{what} is older than the sequence {highest} installed here; "
                                          f"still using {self._holder.version}")
