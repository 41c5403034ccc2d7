"""Bytes per heartbeat and per day at the default interval, as the broker receives them, for a typical booth:
every device fitted and ok (card reader, printer, LEDs, scanner, touchscreen), a few citizens served (some
counters not zero), the events confirmed by central, the software update block idle.

The heartbeats are the real ones a running kiosk publishes (taken off the wire by a subscriber), a whole
cycle of them (`FULL_EVERY`: the last carries every fact). In the same run, from the same booth:

- before: what the heartbeat was until the facts moved to the birth, the full snapshot in every
  heartbeat (`stamped(snapshot)`, exactly what `Heartbeat.publish` sent), and the birth without facts;
- baseline: a bare liveness message (the common stamp and the boot counter: device, ts, clock_synced,
  boot) and what merely staying connected costs (MQTT keepalive pings at the default keepalive).
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance import __version__
from appliance.clock import clock_synchronised
from appliance.config import BrokerSection, HeartbeatSection
from appliance.contract import DeviceStatus, encode, heartbeat_topic, stamped, status_topic
from appliance.kiosk import Kiosk
from appliance.monitor.heartbeat import FACTS_REPEATS, FULL_EVERY
from drivers.health import OK
from tests.support import Collector, Confirmer, Mosquitto, kiosk_config, wait_until

DAY_S = 86_400
GOAL_BYTES = 600


def publish_packet_bytes(topic: str, payload: bytes, qos: int) -> int:
    """PUBLISH on the wire (MQTT 5): fixed header, topic, packet id for QoS > 0, properties length."""
    body = 2 + len(topic.encode()) + (2 if qos else 0) + 1 + len(payload)
    length_bytes = 1 if body < 128 else 2 if body < 16_384 else 3
    return 1 + length_bytes + body


def serve_a_few_citizens(kiosk: Kiosk) -> None:
    for n in range(4):
        kiosk.view_guide("GA-001")
        if n % 2:
            kiosk.print_notice("GA-001")
        kiosk.rate("GA-001", 5)
        kiosk.end_session()


def main() -> None:
    logging.disable(logging.ERROR)  # the kiosk's own log lines (paho's at the end) would only clutter the figures
    interval = HeartbeatSection().interval_s
    keepalive = BrokerSection(host="x").keepalive_s
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        work = Path(tmp)
        touch = work / "event0"  # a node to watch: the touchscreen counts as fitted and ok
        touch.touch()
        broker = Mosquitto(work / "broker").start()
        collector = Collector(broker)
        confirmer = Confirmer(broker)  # central's confirmations: the outbox empties as at a booth online
        kiosk = Kiosk(kiosk_config(work / "state", broker.port, hardware={"touchscreen": str(touch)}))
        kiosk.start()
        try:
            wait_until(lambda: kiosk.link.connected, timeout=10)
            wait_until(lambda: all(h == OK for h in kiosk.driver_health().values()), timeout=10)
            serve_a_few_citizens(kiosk)
            kiosk.ledger.flush()
            wait_until(lambda: kiosk.outbox.stats()["depth"] == 0, timeout=15)
            kiosk.link.set_status(DeviceStatus.ONLINE)  # a birth now that every device is ok (as at a reconnect)
            first = len(collector.on("/heartbeat"))
            snapshot = kiosk.health_snapshot()
            for _ in range(FULL_EVERY):
                kiosk.publish_heartbeat()
            collector.wait_for(lambda c: len(c.on("/heartbeat")) >= first + FULL_EVERY)
            beats = collector.on("/heartbeat")[first:]
            births = [m for m in collector.on("/status") if m.json()["status"] == "online"]
        finally:
            kiosk.stop()
            confirmer.close()
            collector.close()
            broker.stop()
    device, synced = kiosk.device_id, clock_synchronised()
    topic = heartbeat_topic(device)
    sizes = [publish_packet_bytes(m.topic, m.payload, qos=0) for m in beats]
    plain = [m for m in beats if "fitted" not in m.json() and "catalog_version" not in m.json()]
    full = [m for m in beats if "fitted" in m.json()]
    typical = publish_packet_bytes(topic, plain[-1].payload, qos=0)
    everything = publish_packet_bytes(topic, full[-1].payload, qos=0)
    before = encode(stamped(device, synced, snapshot))
    before_packet = publish_packet_bytes(topic, before, qos=0)
    birth = publish_packet_bytes(births[-1].topic, births[-1].payload, qos=1)
    place = kiosk.config.device
    old_birth = encode(stamped(device, synced, {"status": "online", "boot": kiosk.boot, "software": __version__,
                                                "site": place.site, "region": place.region}))
    old_birth_packet = publish_packet_bytes(status_topic(device), old_birth, qos=1)
    bare = encode(stamped(device, synced, {"boot": kiosk.boot}))
    bare_packet = publish_packet_bytes(topic, bare, qos=0)
    per_day = DAY_S // interval
    after_day = statistics.mean(sizes) * per_day  # a whole cycle: FULL_EVERY - 1 plain, one with every fact
    pings_per_day = DAY_S // keepalive * 4  # PINGREQ 2 bytes + PINGRESP 2 bytes
    counters = {k: v for k, v in snapshot["counters"].items() if v}

    def kib(n: float) -> str:
        return f"{n / 1024:.0f} KiB/day"

    print(f"a typical booth: {len(snapshot['drivers'])} devices fitted and ok, {len(counters)} counters not zero, "
          f"outbox empty, update {snapshot['update']['state']}; as MQTT PUBLISH packets (JSON payload in brackets)")
    print(f"  baseline, bare liveness message (device, ts, clock_synced, boot): {bare_packet} bytes ({len(bare)})")
    print(f"  before: every heartbeat {before_packet} bytes ({len(before)}), {kib(before_packet * per_day)}; "
          f"birth {old_birth_packet} bytes")
    print(f"  after:  heartbeat {typical} bytes ({len(plain[-1].payload)}) — {typical / bare_packet:.1f}x the bare "
          f"message, {typical / before_packet:.2f} of before; goal <= {GOAL_BYTES}: "
          + ("met" if typical <= GOAL_BYTES else "NOT met"))
    print(f"          every {FULL_EVERY}th heartbeat carries every fact: {everything} bytes; "
          f"a change of the rare facts rides {FACTS_REPEATS} heartbeats")
    print(f"          birth (retained, QoS 1, at every connect) {birth} bytes")
    print(f"  per day at interval {interval} s ({per_day} heartbeats): before {kib(before_packet * per_day)}, "
          f"after {kib(after_day)} ({after_day / (before_packet * per_day):.2f}), bare liveness "
          f"{kib(bare_packet * per_day)}, keepalive pings at {keepalive} s {pings_per_day / 1024:.1f} KiB/day")
    print("  (TCP/IP and TLS framing come on top of every figure alike)")
    if "--show" in sys.argv:
        for name, payload in (("heartbeat", plain[-1].payload), ("every fact", full[-1].payload),
                              ("birth", births[-1].payload), ("before", before)):
            print(f"{name}: {json.dumps(json.loads(payload), ensure_ascii=False)}")


if __name__ == "__main__":
    main()
