"""What the booth says about itself: the health snapshot (no personal data), written to `status.json` every
few seconds for `kiosk status` and the maintenance screen, and sent to central in two parts
(docs/asyncapi.yaml, Status and Heartbeat; README, "The heartbeat"):

- the *fixed* facts, which cannot change while a connection lasts (software, site, region, the devices
  fitted, the outbox's bounds, the disk's size, systemd's restart count, TLS, connects since boot), and
  the *rare* facts, which change now and then (catalogue version, the `update` block, the Pi's
  under-voltage and SD-card errors), ride the retained birth at every connect;
- the heartbeat every `heartbeat.interval_s` carries what changes (outbox, drivers not ok, system
  readings, counters; zeros, nulls and ok drivers left out) and `facts_rev`, which numbers the rare facts.
  The rare facts ride it too for `FACTS_REPEATS` heartbeats after they changed, and every `FULL_EVERY`th
  heartbeat carries both kinds: heartbeats are QoS 0, so a lost one costs central at most that long, and
  `facts_rev` tells central when what it holds is not the booth's latest.

Every part keeps its place and name from the full snapshot: central puts the heartbeat back together by
laying it over the facts it holds (central.heartbeats).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance import __version__
from appliance.clock import clock_synchronised
from appliance.contract import (
    QOS_HEARTBEAT,
    RARE_FACTS,
    DeviceStatus,
    encode,
    heartbeat_topic,
    merge_nested,
    pick_paths,
    stamped,
)
from appliance.delivery.link import MqttLink
from appliance.delivery.outbox import Outbox
from appliance.monitor.health import HealthCoordinator
from appliance.monitor.pi_health import pi_health, service_restarts
from appliance.monitor.status_file import snapshot_lines, write_status
from appliance.monitor.system import readings
from drivers.health import OK, Health
from drivers.leds import Leds

FACTS_REPEATS = 3  # a change of the rare facts rides this many heartbeats in a row (QoS 0: one may be lost)
FULL_EVERY = 10  # and every 10th heartbeat after a birth carries every fact (a central that missed one catches up)

# Where each fact sits in the full snapshot (and so in the birth and the heartbeat that carry it).
FIXED = (("software",), ("outbox", "policy"), ("system", "disk_total_mb"), ("system", "pi", "service_restarts"),
         ("link", "tls"), ("link", "connects_since_boot"))
RARE = RARE_FACTS  # appliance/contract.py: the booth and central agree on them
_OK = OK.as_dict()


class Heartbeat:
    def __init__(self, device_id: str, boot: int, storage_dir: Path, link: MqttLink, outbox: Outbox,
                 catalog_version: Callable[[], str | None], leds: Leds, drivers: Callable[[], dict[str, Health]],
                 health: HealthCoordinator, maintenance: Callable[[], bool],
                 counters: Callable[[], dict[str, int]],
                 update: Callable[[], dict[str, Any]] = lambda: {"state": "idle"},
                 site: str = "", region: str = "") -> None:
        """`update`: where the booth stands with its software (appliance/release/trial_watch.py, update_block).
        `site`, `region`: the config's, for the heartbeats that carry every fact. The link's births take
        their facts from here (`birth_facts`)."""
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
        self._place = {"site": site, "region": region}
        self._service_restarts = service_restarts()
        self._started = time.monotonic()
        self._lock = threading.Lock()  # the ticker publishes, and paho's thread at a connect (birth, heartbeat)
        self._rare: dict[str, Any] | None = None  # the rare facts as last numbered
        self.facts_rev = 0  # +1 whenever the rare facts change (this boot)
        self._repeats = 0  # heartbeats still to carry the rare facts after a change
        self._since_full = 0  # heartbeats since the last message that carried every fact
        self.sent = 0
        self.last_sent_at: float | None = None
        self.latest: dict[str, Any] | None = None  # the last snapshot written to the status file
        link.birth_facts = self.birth_facts

    def uptime_s(self) -> int:
        return round(time.monotonic() - self._started)

    def snapshot(self) -> dict[str, Any]:
        """Everything at once: the status file, `kiosk status`, the `status` command."""
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

    # -- on the wire ----------------------------------------------------------------------------------
    def fixed_facts(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """What cannot change while a connection lasts, with the names of the devices fitted."""
        return {**pick_paths(snapshot, FIXED), **self._place, "fitted": list(snapshot["drivers"])}

    def birth_facts(self) -> dict[str, Any]:
        """Every fact, for the link's birth (online or maintenance) at each connect: QoS 1 and retained."""
        snapshot = self.snapshot()
        with self._lock:
            self._number(pick_paths(snapshot, RARE))
            self._repeats = self._since_full = 0  # the birth carried them all
            rev = self.facts_rev
        return merge_nested(merge_nested(self.fixed_facts(snapshot), pick_paths(snapshot, RARE)), {"facts_rev": rev})

    def message(self, snapshot: dict[str, Any]) -> dict[str, Any]:
        """The heartbeat to publish from `snapshot`: what changes, and the facts when they are due."""
        rare = pick_paths(snapshot, RARE)
        with self._lock:
            if self._number(rare):
                self._repeats = FACTS_REPEATS
            self._since_full += 1
            full = self._since_full >= FULL_EVERY
            carry = full or self._repeats > 0
            self._repeats = max(0, self._repeats - 1)
            if full:
                self._since_full = 0
            rev = self.facts_rev
        beat = _changing(snapshot)
        beat["facts_rev"] = rev
        if carry:
            beat = merge_nested(beat, rare)
        if full:
            beat = merge_nested(beat, self.fixed_facts(snapshot))
        return beat

    def _number(self, rare: dict[str, Any]) -> bool:
        """Give the rare facts a new number if they changed (under the lock); True if they did."""
        if rare == self._rare:
            return False
        self._rare = rare
        self.facts_rev += 1
        return True

    def publish(self, snapshot: dict[str, Any] | None = None) -> bool:
        """Publish the heartbeat of `snapshot` (or of one taken now) when connected."""
        if not self._link.connected:
            return False
        body = self.message(snapshot or self.snapshot())
        payload = encode(stamped(self._device_id, clock_synchronised(), body))
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


AGES = ("oldest_age_s", "oldest_unconfirmed_age_s")  # 0 s is an age, not nothing


def _changing(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What a heartbeat always carries, nulls and counts of 0 left out (absent means null or 0): the outbox,
    the system readings, the counters, the link's events held for TLS; and only the drivers not ok."""
    outbox = {key: value for key, value in snapshot["outbox"].items() if key != "policy"}
    system = {key: value for key, value in snapshot["system"].items() if key not in ("disk_total_mb", "pi")}
    beat = {"boot": snapshot["boot"], "uptime_s": snapshot["uptime_s"], "mode": snapshot["mode"],
            "leds": snapshot["leds"], "outbox": _sparse(outbox, counts=True),
            "drivers": {name: health for name, health in snapshot["drivers"].items() if health != _OK},
            "system": _sparse(system), "counters": _sparse(snapshot["counters"], counts=True)}
    link = _sparse({"held_for_tls": snapshot["link"].get("held_for_tls")}, counts=True)
    if link:
        beat["link"] = link
    return beat


def _sparse(values: dict[str, Any], counts: bool = False) -> dict[str, Any]:
    """`values` without its nulls and, with `counts`, without its counts of 0."""
    return {key: value for key, value in values.items()
            if value is not None and not (counts and key not in AGES and value == 0 and type(value) is int)}
