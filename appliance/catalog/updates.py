"""Catalogue updates from central: a retained, signed message per region. Only a catalogue signed with
the configured key is installed; anything else is refused with an alert and the catalogue in use stays."""

from __future__ import annotations

import json
import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.catalog.holder import CatalogHolder
from appliance.catalog.model import CatalogError
from appliance.catalog.signing import CatalogRejected, open_message
from appliance.events import CatalogChanged, Notify
from appliance.monitor.alerts import Alerts

log = logging.getLogger("kiosk.catalog")


class CatalogUpdates:
    def __init__(self, holder: CatalogHolder, public_key: Ed25519PublicKey | None, alerts: Alerts,
                 notify: Notify) -> None:
        self._holder = holder
        self._key = public_key
        self._alerts = alerts
        self._notify = notify

    def receive(self, topic: str, payload: bytes) -> None:
        try:
            text = open_message(payload, self._key)
            version = json.loads(text).get("version") if text else None
            if version == self._holder.version:
                return  # the retained message again, at a reconnect
            catalog = self._holder.replace(text)
        except CatalogRejected as exc:
            log.warning("catalogue update refused: %s", exc)
            self._alerts.raise_alert("catalog_rejected", "warning", str(exc), reason=exc.reason)
            return
        except (CatalogError, ValueError, AttributeError, OSError) as exc:
            log.warning("catalogue update unusable: %s; still using %s", exc, self._holder.version)
            self._alerts.raise_alert("catalog_invalid", "warning", f"{exc}; still using {self._holder.version}")
            return
        log.info("catalogue %s installed (%d items)", catalog.version, len(catalog.items))
        self._notify(CatalogChanged(catalog.version))
