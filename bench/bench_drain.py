"""Drain rate: 20,000 queued events delivered to a local Mosquitto by the kiosk's pump, against a
plain paho-mqtt QoS 1 publish loop to the same broker in the same run (same topic and message, the
same number of messages on the wire at once, no TLS on either side). The pump's figure includes
everything it does per event: reading and opening the sealed rows, marking them in flight, and
marking them delivered after each PUBACK (no central runs here, so nothing confirms them: the rows
stay, as they would until central's confirmation; bench/bench_end_to_end.py measures that part);
both are CPU-bound on one core (the GIL), so the ratio is a CPU-cost ratio. Each side's CPU time
per event (this process: the kiosk with all its threads, its start included, or the plain client)
is printed too; on a shared machine it is steadier than the wall clock. Each side's end is seen
the same way, by a counter in the path the work takes anyway (the plain loop's on_publish, the
pump's marks), with no polling thread.
Goal: at least 0.8 of the plain loop. The kiosk's client (appliance/delivery/mqtt_client.Client)
reads a plain PUBACK without paho's general MQTT 5 decoding, which costs a stock client about as
much as the rest of the event; the plain loop is stock paho. So that the outbox's own cost stays in
sight, the same loop through the kiosk's client is measured too ("same client").
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from appliance.config import OutboxSection
from appliance.contract import event_envelope, event_topic
from appliance.delivery.mqtt_client import Client
from appliance.kiosk import Kiosk
from bench.prefill import PAYLOAD, prefill
from tests.support import Mosquitto, kiosk_config

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
WINDOW = OutboxSection().inflight_window  # the default
DEVICE = "test-kiosk-0001"  # kiosk_config's device


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pump_rate(broker: Mosquitto, state: Path) -> tuple[float, float]:
    """(events/s, CPU µs per event)."""
    config = kiosk_config(state, broker.port, outbox={"inflight_window": WINDOW, "capacity": 10 * EVENTS})
    prefill(config, EVENTS)
    kiosk = Kiosk(config)
    # The end is when the last PUBACK is marked on disk. The harness learns it as the plain loop's does,
    # from a counter in the path the work takes anyway (there on_publish, here the pump's marks), not by
    # polling: a polling thread (and the outbox's stats, a scan of every row) would take CPU and the GIL
    # from the threads measured.
    marked, done = 0, threading.Event()
    mark_delivered = kiosk.outbox.mark_delivered

    def counted(seqs: list[int]) -> int:
        nonlocal marked
        count = mark_delivered(seqs)
        marked += count
        if marked >= EVENTS:
            done.set()
        return count

    kiosk.outbox.mark_delivered = counted  # type: ignore[method-assign]
    start, cpu = time.perf_counter(), cpu_s()
    kiosk.start()
    finished = done.wait(600)
    elapsed, used = time.perf_counter() - start, cpu_s() - cpu
    try:  # checked after the clock stopped
        assert finished, f"only {marked} of {EVENTS} events marked delivered within 600 s"
        assert kiosk.pump.delivered == EVENTS and kiosk.outbox.stats()["unconfirmed"] == EVENTS
    finally:
        kiosk.stop()
    return EVENTS / elapsed, used / EVENTS * 1e6


def plain_rate(broker: Mosquitto, message: bytes, client_class: type[mqtt.Client] = mqtt.Client) -> tuple[float, float]:
    """(messages/s, CPU µs per message), through a stock paho client or the kiosk's."""
    done = threading.Event()
    acked = 0

    def on_publish(client, userdata, mid, reason, properties) -> None:
        nonlocal acked
        acked += 1
        if acked == EVENTS:
            done.set()

    client = client_class(CallbackAPIVersion.VERSION2, client_id="plain-loop", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(max(1, WINDOW // 4))  # what the kiosk's link puts on the wire
    client.on_publish = on_publish
    start, cpu = time.perf_counter(), cpu_s()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    topic = event_topic(DEVICE, "rating")  # the pump's topic: the same bytes on the wire
    for _ in range(EVENTS):
        client.publish(topic, message, qos=1)
    done.wait(600)
    elapsed, used = time.perf_counter() - start, cpu_s() - cpu
    client.disconnect()
    client.loop_stop()
    return EVENTS / elapsed, used / EVENTS * 1e6


def sample_message() -> bytes:
    """A message exactly as the pump sends one of the prefilled events."""
    payload = json.dumps({**PAYLOAD, "n": 1}, ensure_ascii=False).encode()
    envelope = event_envelope("01KAAAAAAAAAAAAAAAAAAAAAAA", 1, "rating", time.time(), True, 1, payload)
    return f'{{"device":"{DEVICE}","ts":"2026-11-23T10:00:00.000+08:00","clock_synced":true,'.encode() + envelope[1:]


def main() -> None:
    logging.disable(logging.WARNING)  # the kiosk's own log lines would only clutter the figures
    message = sample_message()
    runs = []
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        broker = Mosquitto(Path(tmp) / "broker").start()
        try:
            for round_ in range(2):
                plain = plain_rate(broker, message)
                same = plain_rate(broker, message, Client)
                pump = pump_rate(broker, Path(tmp) / f"state-{round_}")
                runs.append((pump, plain, same))
        finally:
            broker.stop()
    print(f"drain of {EVENTS} queued events to a local Mosquitto, QoS 1, pump window {WINDOW} "
          f"({max(1, WINDOW // 4)} on the wire), {len(message)}-byte messages:")
    for n, ((pump, pump_cpu), (plain, plain_cpu), (same, same_cpu)) in enumerate(runs, 1):
        print(f"  round {n}: kiosk pump {pump:7.0f} events/s ({pump_cpu:5.1f} µs CPU each)   plain paho loop "
              f"{plain:7.0f} msgs/s ({plain_cpu:5.1f} µs CPU each)   ratio {pump / plain:.2f} "
              f"(by CPU {plain_cpu / pump_cpu:.2f})   same client {same:7.0f} msgs/s ({same_cpu:5.1f} µs CPU "
              f"each): ratio {pump / same:.2f} (by CPU {same_cpu / pump_cpu:.2f})")
    ratios = [pump / plain for (pump, _), (plain, _), _ in runs]
    by_cpu = [plain_cpu / pump_cpu for (_, pump_cpu), (_, plain_cpu), _ in runs]
    print(f"  ratio pump / plain loop: {min(ratios):.2f}–{max(ratios):.2f}, by CPU time "
          f"{min(by_cpu):.2f}–{max(by_cpu):.2f}  (goal >= 0.8: {'met' if min(ratios) >= 0.8 else 'NOT met'})")
    same_ratios = [pump / same for (pump, _), _, (same, _) in runs]
    same_by_cpu = [cpu / pump_cpu for (_, pump_cpu), _, (_, cpu) in runs]
    print(f"  ratio pump / the same loop through the kiosk's client: {min(same_ratios):.2f}–{max(same_ratios):.2f}, "
          f"by CPU time {min(same_by_cpu):.2f}–{max(same_by_cpu):.2f}")


if __name__ == "__main__":
    main()
