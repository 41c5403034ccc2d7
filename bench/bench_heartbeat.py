"""Bytes per heartbeat and per day at the default interval, as the broker receives them.

The heartbeat is the real one a running kiosk publishes (taken off the wire by a subscriber).
Baseline in the same run: what merely staying connected costs — MQTT keepalive pings at the
default keepalive — and a bare liveness message with only the common stamp and boot counter.
"""

from __future__ import annotations

import json
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.config import BrokerSection, HeartbeatSection
from appliance.contract import encode, heartbeat_topic, stamped
from appliance.kiosk import Kiosk
from tests.support import Collector, Mosquitto, kiosk_config, wait_until

DAY_S = 86_400


def publish_packet_bytes(topic: str, payload: bytes, qos: int) -> int:
    """PUBLISH on the wire (MQTT 5): fixed header, topic, packet id for QoS > 0, properties length."""
    body = 2 + len(topic.encode()) + (2 if qos else 0) + 1 + len(payload)
    length_bytes = 1 if body < 128 else 2 if body < 16_384 else 3
    return 1 + length_bytes + body


def main() -> None:
    logging.disable(logging.WARNING)  # the kiosk's own log lines would only clutter the figures
    interval = HeartbeatSection().interval_s
    keepalive = BrokerSection(host="x").keepalive_s
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        broker = Mosquitto(Path(tmp) / "broker").start()
        collector = Collector(broker, topic="kiosk/v1/+/heartbeat")
        kiosk = Kiosk(kiosk_config(Path(tmp) / "state", broker.port))
        kiosk.start()
        try:
            received = wait_until(lambda: collector.on("/heartbeat"), timeout=10)[0]
        finally:
            kiosk.stop()
            collector.close()
            broker.stop()
    topic = received.topic
    payload = received.payload
    heartbeat = publish_packet_bytes(topic, payload, qos=0)
    per_day = DAY_S // interval
    bare = encode(stamped(kiosk.device_id, True, {"boot": kiosk.boot}))
    bare_packet = publish_packet_bytes(heartbeat_topic(kiosk.device_id), bare, qos=0)
    pings_per_day = DAY_S // keepalive * 4  # PINGREQ 2 bytes + PINGRESP 2 bytes
    print(f"heartbeat: {len(payload)} bytes of JSON, {heartbeat} bytes as an MQTT PUBLISH "
          f"({len(json.loads(payload))} top-level fields)")
    print(f"  per day at interval {interval} s: {per_day} heartbeats = {heartbeat * per_day / 1024:.0f} KiB")
    print(f"  baseline, bare liveness message: {bare_packet} bytes, {bare_packet * per_day / 1024:.0f} KiB/day "
          f"(the full snapshot is {heartbeat / bare_packet:.1f}x)")
    print(f"  baseline, keepalive pings at {keepalive} s: {pings_per_day / 1024:.1f} KiB/day")
    print("  (TCP/IP and TLS framing come on top of every figure alike)")


if __name__ == "__main__":
    main()
