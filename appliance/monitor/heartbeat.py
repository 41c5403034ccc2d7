"""What the booth says about itself: the health snapshot (docs/asyncapi.yaml, Heartbeat; no personal
data) published every `heartbeat.interval_s` and at each connection, written to `status.json` every few
seconds for `kiosk status`, and shown on the maintenance screen from the last one written."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.clock import clock_synchronised
from appliance.contract import QOS_HEARTBEAT, DeviceStatus, encode, heartbeat_topic, stamped
from appliance.delivery.link import MqttLink
from appliance.delivery.outbox import Outbox
from appliance.monitor.health import HealthCoordinator
from appliance.monitor.pi_health import pi_health, service_restarts
from appliance.monitor.status_file import snapshot_lines, write_status
from appliance.monitor.system import readings
from drivers.health import Health
from drivers.leds import Leds


class Heartbeat:
    def __init__(self, device_id: str, boot: int, storage_dir: Path, link: MqttLink, outbox: Outbox,
                 catalog_version: Callable[[], str | None], leds: Leds, drivers: Callable[[], dict[str, Health]],
                 health: HealthCoordinator, maintenance: Callable[[], bool],
                 counters: Callable[[], dict[str, int]],
                 update: Callable[[], dict[str, Any]] = lambda: {"state": "idle"}) -> None:
        """`update`: where the booth stands with its software (appliance/release/trial_watch.py, update_block)."""
        self._device_id = device_id
        self._boot = boot
        self._storage_dir = storage_dir
        self._link = link
        self._outbox = outbox
        self._catalog_version = catalog_version
        self._leds = leds
        self._drivers = drivers
        self._health = health
        self._maintenance = maintenance
        self._counters = counters
        self._update = update
        self._service_restarts = service_restarts()
        self._started = time.monotonic()
        self.sent = 0
        self.last_sent_at: float | None = None
        self.latest: dict[str, Any] | None = None  # the last snapshot written to the status file

    def uptime_s(self) -> int:
        return round(time.monotonic() - self._started)

    def snapshot(self) -> dict[str, Any]:
        now = self._health.current
        return {
            "boot": self._boot,
            "uptime_s": self.uptime_s(),
            "software": __version__,
            "catalog_version": self._catalog_version(),
            "mode": DeviceStatus.MAINTENANCE.value if self._maintenance() else DeviceStatus.ONLINE.value,
            "outbox": self._outbox.stats(),
            "drivers": {name: health.as_dict() for name, health in self._drivers().items()},
            "leds": self._leds.pattern.value,
            "link": {**self._link.state(), "held_for_tls": now.held_for_tls if now else 0},
            "system": {**readings(self._storage_dir), "pi": pi_health(self._service_restarts)},
            "counters": {**self._counters(), "heartbeats": self.sent},
            "update": self._update(),
        }

    def publish(self, snapshot: dict[str, Any] | None = None) -> bool:
        """Publish `snapshot` (or one taken now) when connected."""
        if not self._link.connected:
            return False
        payload = encode(stamped(self._device_id, clock_synchronised(), snapshot or self.snapshot()))
        self._link.publish(heartbeat_topic(self._device_id), payload, QOS_HEARTBEAT)
        self.sent += 1
        self.last_sent_at = time.time()
        return True

    def write_status(self, running: bool = True) -> None:
        self.latest = self.snapshot()
        write_status(self._storage_dir, self._device_id, self.latest, running=running)

    def facts(self, site: str) -> list[str]:
        """The maintenance screen's lines, from the last snapshot written (none is taken on the UI's thread)."""
        beat = "never" if self.last_sent_at is None else f"{time.time() - self.last_sent_at:.0f} s ago"
        return [f"{self._device_id} · {site}", *snapshot_lines(self.latest or {}),
                f"  last heartbeat {beat}; clock {'synchronised' if clock_synchronised() else 'NOT synchronised'}"]
