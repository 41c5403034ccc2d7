"""Simulated booths on the wire: births, heartbeats and events exactly as the contract has them, from a
plain MQTT client, for the dashboard's tests and screenshots (and many booths at once for benchmarks).

Real booths (in-process kiosks) are used where a test needs a booth to act (answer a command);
these stand in for the rest of a fleet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt

from appliance.contract import encode, event_topic, heartbeat_topic, iso, stamped, status_topic
from appliance.state.ids import UlidGenerator

ITEMS = ["GA-001", "GA-002", "RS-002", "RS-005", "YB-001", "GJJ-002", "SW-003", "BDC-001", "MZ-004", "JY-001"]


@dataclass
class FakeBooth:
    device: str
    site: str
    region: str
    boot: int = 1
    seq: int = 0
    printer: tuple[str, str] = ("ok", "ok")
    card_reader: tuple[str, str] = ("ok", "ok")
    outbox_depth: int = 0
    outbox_oldest_s: int | None = None
    outbox_unconfirmed: int = 0  # delivered to the broker, not yet confirmed by central
    clock_synced: bool = True
    disk_free_mb: int = 12_000
    cpu_temp_c: float = 48.0
    rng: random.Random = field(init=False)
    ids: UlidGenerator = field(default_factory=UlidGenerator)  # its own, as a real booth (and per process)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.device)  # each booth its own, repeatable, day

    facts_rev: int = 1  # numbers the rare facts (catalogue version, update block, the Pi's troubles)
    update: dict | None = None  # the software update block, for a booth that reports one (release_sim)

    def facts(self) -> dict:
        """Every fact a booth's birth carries (and every tenth heartbeat): fixed for the connection, and rare."""
        facts = {"software": "0.1.0", "site": self.site, "region": self.region,
                 "fitted": ["card_reader", "printer", "leds"],
                 "outbox": {"policy": {"capacity": 100_000, "max_age_days": 30, "when_full": "refuse_low_value_first",
                                       "expiring_kinds": ["usage"], "min_free_disk_mb": 200}},
                 "system": {"disk_total_mb": 29_000,
                            "pi": {"service_restarts": 0, "throttling": None, "filesystem_errors": None}},
                 "link": {"tls": True, "connects_since_boot": 1},
                 "catalog_version": "2026.11", "facts_rev": self.facts_rev}
        if self.update is not None:
            facts["update"] = self.update
        return facts

    def birth(self, status: str = "online") -> tuple[str, bytes]:
        body = {"status": status, "boot": self.boot, "software": "0.1.0", "site": self.site, "region": self.region}
        if status != "offline":
            body = {**self.facts(), **body}
        return status_topic(self.device), encode(stamped(self.device, self.clock_synced, body))

    def heartbeat(self) -> tuple[str, bytes]:
        """What changes, as a booth sends it: zeros, nulls and ok drivers left out."""
        drivers = {"card_reader": dict(zip(("state", "reason"), self.card_reader, strict=True)),
                   "printer": dict(zip(("state", "reason"), self.printer, strict=True))}
        outbox = {"depth": self.outbox_depth, "oldest_age_s": self.outbox_oldest_s,
                  "unconfirmed": self.outbox_unconfirmed,
                  "oldest_unconfirmed_age_s": self.outbox_oldest_s if self.outbox_unconfirmed else None}
        body = {
            "boot": self.boot, "uptime_s": 3600, "mode": "online", "leds": "ready",
            "outbox": {key: value for key, value in outbox.items() if value},
            "drivers": {name: health for name, health in drivers.items() if health != {"state": "ok", "reason": "ok"}},
            "system": {"disk_free_mb": self.disk_free_mb, "mem_available_mb": 1200, "rss_mb": 320.0,
                       "cpu_temp_c": self.cpu_temp_c, "load_1m": 0.4},
            "counters": {}, "facts_rev": self.facts_rev,
        }
        return heartbeat_topic(self.device), encode(stamped(self.device, self.clock_synced, body))

    def event(self, kind: str, payload: dict, created: float) -> tuple[str, bytes]:
        self.seq += 1
        body = {"id": self.ids.new(), "seq": self.seq, "kind": kind, "created": iso(created),
                "created_clock_synced": True, "boot": self.boot, "payload": payload}
        return event_topic(self.device, kind), encode(stamped(self.device, True, body))

    def usage(self, window_start: float, sessions: int) -> tuple[str, bytes]:
        counts: dict[tuple[str, str], int] = {("session_start", ""): sessions, ("session_end", ""): sessions,
                                              ("timeout", ""): max(0, sessions // 6)}
        for _ in range(sessions):
            item = self.rng.choice(ITEMS[: self.rng.randint(3, len(ITEMS))])
            for action in self.rng.choice([["guide_viewed"], ["guide_viewed", "notice_printed"],
                                           ["guide_viewed", "submission"], ["guide_viewed", "appointment"]]):
                counts[(action, item)] = counts.get((action, item), 0) + 1
        payload = {"window_start": iso(window_start, "seconds"), "window_end": iso(window_start + 86_000, "seconds"),
                   "counts": [{"action": a, "item": i, "count": n} for (a, i), n in sorted(counts.items())]}
        return self.event("usage", payload, window_start + 86_000)

    def rating(self, level: int, created: float) -> tuple[str, bytes]:
        payload = {"item": self.rng.choice(ITEMS), "level": level, "channel": "kiosk", "session": "s"}
        if level <= 2:
            payload["reasons"] = [self.rng.choice(["排队等候时间长", "办事指南不清楚", "设备故障"])]
        return self.event("rating", payload, created)


def publish(client: mqtt.Client, messages: list[tuple[str, bytes]], qos: int = 1) -> None:
    for topic, payload in messages:
        client.publish(topic, payload, qos=qos, retain=topic.endswith("/status")).wait_for_publish(10)


def demo_fleet(client: mqtt.Client, now: float) -> list[FakeBooth]:
    """Seven booths in two districts, in every state an operator meets, with a day of heartbeats, two
    weeks of usage and a few hundred ratings, so every panel of the dashboard has something to show."""
    booths = [
        FakeBooth("bj-dc-0001", "东城区政务服务中心 一楼大厅", "110101"),
        FakeBooth("bj-dc-0002", "东华门街道便民服务站", "110101", printer=("degraded", "paper_near_end")),
        FakeBooth("bj-dc-0003", "和平里社区服务站", "110101", printer=("fault", "paper_end")),
        FakeBooth("bj-xc-0001", "西城区政务服务中心 24小时自助区", "110102", outbox_depth=840, outbox_oldest_s=5400,
              outbox_unconfirmed=300),
        FakeBooth("bj-xc-0002", "工商银行 西单支行", "110102", card_reader=("absent", "port_missing")),
        FakeBooth("bj-xc-0003", "金融街街道便民服务站", "110102", clock_synced=False),
        FakeBooth("bj-xc-0004", "月坛社区服务站", "110102"),
    ]
    messages: list[tuple[str, bytes]] = []
    for booth in booths:
        messages.append(booth.birth())
        for day in range(14, 0, -1):
            messages.append(booth.usage(now - day * 86_400, booth.rng.randint(20, 90)))
        for _ in range(40):
            level = booth.rng.choices([5, 4, 3, 2, 1], weights=[60, 22, 9, 5, 4])[0]
            messages.append(booth.rating(level, now - booth.rng.uniform(0, 13 * 86_400)))
    publish(client, messages)
    for step in range(24):  # a day of hourly heartbeats, compressed: the charts get a line
        for booth in booths:
            booth.cpu_temp_c = round(45 + 8 * booth.rng.random() + (step % 12) * 0.6, 1)
            booth.disk_free_mb -= booth.rng.randint(0, 15)
            publish(client, [booth.heartbeat()], qos=0)
    publish(client, [booths[-1].birth("offline")])
    return booths
