"""Central's ingest at fleet size: 2,000 simulated booths publish births, heartbeats and events at an
accelerated rate (as fast as four publisher processes can) through a real Mosquitto; central (`kiosk
central serve`, SQLite) records them while a plain paho subscriber in its own process counts the same
messages in the same run. Sustained ingest = messages ÷ time from the first to the last one handled;
goal: central ≥ 0.5 of the plain subscriber. Also central's memory with the whole fleet known.

The booths are simulated at the message level (tests/fleet_sim.py: the contract's topics, payloads and
QoS), 500 booths per publisher connection; the broker runs the test config (plain loopback, no ACL).
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, func, select

from central.tables import events, heartbeats, status_history
from tests.fleet_sim import FakeBooth
from tests.support import Mosquitto, free_port, wait_until

BOOTHS = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
PUBLISHERS = 4
HEARTBEATS, EVENTS = 10, 5  # per booth, besides its birth
TOTAL = BOOTHS * (1 + HEARTBEATS + EVENTS)


def messages(first: int, count: int) -> list[tuple[str, bytes, int]]:
    now = time.time()
    out = []
    for n in range(first, first + count):
        booth = FakeBooth(f"bench-{n:05d}", f"网点 {n}", f"{110101 + n % 16}")
        out.append((*booth.birth(), 1))
        for i in range(max(HEARTBEATS, EVENTS)):
            if i < HEARTBEATS:
                out.append((*booth.heartbeat(), 0))
            if i < EVENTS:
                kind = i % 3
                topic, payload = (booth.usage(now - 86_400, 30) if kind == 0 else
                                  booth.rating(5 - i % 5, now) if kind == 1 else
                                  booth.event("assist", {"item": None, "screen": "help", "mode": "on_site",
                                                         "session": f"s{i}", "site": booth.site}, now))
                out.append((topic, payload, 1))
    return out


def publisher(port: int, first: int, count: int, go: multiprocessing.Event) -> None:
    batch = messages(first, count)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fleet-pub-{first}", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    go.wait()
    infos = [client.publish(topic, payload, qos=qos) for topic, payload, qos in batch]
    for info in infos:
        info.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def plain_counter(port: int, ready: multiprocessing.Event, result: multiprocessing.Queue) -> None:
    """The baseline: subscribe to the same topics (QoS 1, the same shared-subscription form) and count."""
    seen = {"n": 0, "first": 0.0, "last": 0.0}

    def on_message(_client, _userdata, _message) -> None:
        now = time.perf_counter()
        if not seen["n"]:
            seen["first"] = now
        seen["n"] += 1
        seen["last"] = now

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="plain-counter", protocol=mqtt.MQTTv5)
    client.on_message = on_message
    client.on_connect = lambda c, *_a: (c.subscribe([(f"$share/plain/kiosk/v1/+/{s}", 1) for s in
                                                      ("status", "heartbeat", "events/#")]), ready.set())
    client.connect("127.0.0.1", port)
    client.loop_start()
    deadline = time.time() + 600
    while seen["n"] < TOTAL and time.time() < deadline:
        time.sleep(0.01)
    client.loop_stop()
    result.put((seen["n"], seen["last"] - seen["first"]))


def recorded(engine) -> int:
    with engine.connect() as conn:
        return sum(conn.execute(select(func.count()).select_from(t)).scalar_one()
                   for t in (status_history, heartbeats, events))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broker = Mosquitto(Path(tmp) / "broker").start()
        database = f"sqlite:///{tmp}/central.sqlite3"
        log = Path(tmp) / "central.log"
        central = subprocess.Popen([sys.executable, "-m", "appliance.cli", "central", "serve", "--database", database,
                                    "--broker-host", "127.0.0.1", "--broker-port", str(broker.port),
                                    "--http-port", str(free_port()),
                                    "--personal-data-key", str(Path(tmp) / "personal-data.key")],
                                   stdout=subprocess.DEVNULL, stderr=log.open("w"))
        engine = create_engine(database)
        try:
            wait_until(lambda: "dashboard at" in log.read_text(), timeout=30)
            idle_rss = rss_mb(central.pid)
            go, ready, result = multiprocessing.Event(), multiprocessing.Event(), multiprocessing.Queue()
            counter = multiprocessing.Process(target=plain_counter, args=(broker.port, ready, result))
            counter.start()
            ready.wait(10)
            share = BOOTHS // PUBLISHERS
            pubs = [multiprocessing.Process(target=publisher, args=(broker.port, i * share, share, go))
                    for i in range(PUBLISHERS)]
            for p in pubs:
                p.start()
            time.sleep(3 + BOOTHS / 500)  # the publishers build their messages and connect
            before = recorded(engine)
            go.set()
            start = time.perf_counter()
            first_seen = last_change = None
            done = 0
            while done < TOTAL and time.perf_counter() - (last_change or start) < 15:
                now_done = recorded(engine) - before
                if now_done != done:
                    last_change = time.perf_counter()
                    first_seen = first_seen or last_change
                    done = now_done
                time.sleep(0.05)
            central_s = (last_change or start) - (first_seen or start)
            plain_n, plain_s = result.get(timeout=600)
            for p in [*pubs, counter]:
                p.join(30)
            central_rss = rss_mb(central.pid)
        finally:
            central.terminate()
            central.wait(30)
            broker.stop()
    central_rate, plain_rate = done / central_s, plain_n / plain_s
    print(f"fleet ingest: {BOOTHS} booths, {TOTAL} messages (birth, {HEARTBEATS} heartbeats QoS 0, "
          f"{EVENTS} events QoS 1 each), {PUBLISHERS} publisher processes, local Mosquitto:")
    print(f"  baseline, plain paho subscriber counting: {plain_n} in {plain_s:.2f} s = {plain_rate:,.0f} msg/s")
    print(f"  central (kiosk central serve, SQLite): {done} recorded in {central_s:.2f} s = {central_rate:,.0f} msg/s"
          + (f" ({TOTAL - done} not recorded: see its log)" if done < TOTAL else ""))
    ratio = central_rate / plain_rate
    print(f"  ratio {ratio:.2f} (goal ≥ 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
    print(f"  central RSS: {idle_rss:.1f} MiB idle, {central_rss:.1f} MiB with {BOOTHS} booths known "
          f"(+{central_rss - idle_rss:.1f} MiB); cpu count {os.cpu_count()}")


if __name__ == "__main__":
    main()
