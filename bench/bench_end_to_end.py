"""End to end: booth outbox → broker → central's database → central's confirmation → booth row freed.

A booth (the real core, in this process) drains a 20,000-event backlog through the production
Mosquitto config (TLS, client certificates, the ACL) to `kiosk central serve` (its own process,
SQLite database), which confirms the events of each commit on the booth's `ack` topic. The same run
reports the pump-to-broker rate (until the last PUBACK) and the end-to-end rate (until the last row
is freed by a confirmation), and first, as the baseline, the same booth's pump-to-broker rate with
no central (nothing confirms, nothing is freed). Checked afterwards: central's database holds every
event of the backlog.

On one machine central, the broker and the booth share the cores, so the wall-clock end-to-end rate
is mostly central's intake rate here. What confirmations cost the booth itself is therefore also
measured directly: the CPU time the booth spends taking confirmations in (paho's thread) and freeing
rows (the pump), per event, against the booth's whole CPU time per event when it drains alone (this
process runs only the booth); the pump rate that leaves is alone / (alone + confirmations).
Goal: confirmations cost at most a third of the pump's rate (end to end ≥ 2/3 of the baseline).
"""

from __future__ import annotations

import logging
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.kiosk import Kiosk
from bench.prefill import prefill
from tests.support import Mosquitto, TlsFiles, kiosk_config, make_test_ca, wait_until

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
ROUNDS = 3
DEVICE = "test-kiosk-0001"


def booth_config(state: Path, broker: Mosquitto, tls: TlsFiles):
    return kiosk_config(state, broker.port, device_id=DEVICE, outbox={"capacity": 10 * EVENTS}, broker={
        "tls": {"ca_file": str(tls.ca), "cert_file": str(tls.client_cert), "key_file": str(tls.client_key)}})


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(function: Callable[..., None], spent: list[float]) -> Callable[..., None]:
    """`function`, adding the CPU time of its thread that each call takes to spent[0]."""
    def wrapper(*args: object) -> None:
        began = time.thread_time()
        try:
            function(*args)
        finally:
            spent[0] += time.thread_time() - began

    return wrapper


def drain(config) -> tuple[float, float | None, float, float]:
    """(pump-to-broker events/s, end-to-end events/s or None when nothing confirms within a moment,
    this process's CPU µs per event until the last PUBACK, CPU µs per event handling confirmations)."""
    prefill(config, EVENTS)
    kiosk = Kiosk(config)
    confirming = [0.0]
    kiosk.pump.confirmation = timed(kiosk.pump.confirmation, confirming)  # paho's thread: parse, queue
    kiosk.pump._apply_confirmations = timed(kiosk.pump._apply_confirmations, confirming)  # the pump: free rows
    start, cpu = time.perf_counter(), cpu_s()
    kiosk.start()
    try:
        wait_until(lambda: kiosk.pump.delivered >= EVENTS, timeout=600, interval=0.005)
        acked, acked_cpu = time.perf_counter() - start, cpu_s() - cpu
        per_event = acked_cpu / EVENTS * 1e6
        try:
            wait_until(lambda: kiosk.outbox.held == 0, timeout=600 if kiosk.pump.confirmed else 3, interval=0.005)
        except AssertionError:
            return EVENTS / acked, None, per_event, 0.0
        return EVENTS / acked, EVENTS / (time.perf_counter() - start), per_event, confirming[0] / EVENTS * 1e6
    finally:
        kiosk.stop()


def start_central(tmp: Path, broker: Mosquitto, tls: TlsFiles, database: Path) -> subprocess.Popen:
    cert, key = tls.issue("central-1")
    before = broker.log_count("Received SUBSCRIBE from central-1")
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "central", "serve", "--database", f"sqlite:///{database}",
         "--broker-host", "localhost", "--broker-port", str(broker.port), "--ca-file", str(tls.ca),
         "--cert-file", str(cert), "--key-file", str(key), "--client-id", "central-1", "--http-port", "0",
         "--personal-data-key", str(tmp / "personal-data.key")],
        stdout=subprocess.DEVNULL, stderr=(tmp / "central.log").open("ab"), cwd=Path(__file__).resolve().parent.parent)
    wait_until(lambda: broker.log_count("Received SUBSCRIBE from central-1") > before, timeout=60)
    return process


def events_in(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT count(DISTINCT id) FROM events WHERE device = ?", (DEVICE,)).fetchone()[0]


def main() -> None:
    logging.disable(logging.WARNING)
    runs = []
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as directory:
        tmp = Path(directory)
        tls = make_test_ca(tmp / "tls", DEVICE)
        for round_ in range(ROUNDS):  # a fresh broker each round: no session of an earlier central queues
            broker = Mosquitto(tmp / f"broker-{round_}", tls=tls, production=True).start()
            try:
                baseline, _, alone_cpu, _ = drain(booth_config(tmp / f"alone-{round_}", broker, tls))
                database = tmp / f"central-{round_}.sqlite3"
                central = start_central(tmp, broker, tls, database)
                try:
                    pump, end_to_end, _, confirm_cpu = drain(booth_config(tmp / f"with-central-{round_}", broker, tls))
                    assert end_to_end is not None, "central confirmed nothing: see " + str(tmp / "central.log")
                    wait_until(lambda database=database: events_in(database) == EVENTS, timeout=60)
                finally:
                    central.terminate()
                    central.wait(30)
                runs.append((baseline, pump, end_to_end, alone_cpu, confirm_cpu))
            finally:
                broker.stop()
    print(f"end to end, {EVENTS} queued events: booth → production Mosquitto (TLS, ACL) → `kiosk central serve` "
          "(SQLite) → confirmation → row freed; every event found in central's database:")
    for n, (baseline, pump, end_to_end, alone_cpu, confirm_cpu) in enumerate(runs, 1):
        print(f"  round {n}: pump → broker alone {baseline:6.0f}/s   with central: pump → broker {pump:6.0f}/s, "
              f"end to end {end_to_end:6.0f}/s ({end_to_end / baseline:.2f} of alone)   booth CPU per event: "
              f"draining {alone_cpu:5.1f} µs, confirmations {confirm_cpu:4.1f} µs "
              f"({alone_cpu / (alone_cpu + confirm_cpu):.2f} of the rate left)")
    walls = [end_to_end / baseline for baseline, _, end_to_end, _, _ in runs]
    cpus = [alone_cpu / (alone_cpu + confirm_cpu) for _, _, _, alone_cpu, confirm_cpu in runs]
    print(f"  end to end / pump alone, wall clock (central on the same cores): {min(walls):.2f}–{max(walls):.2f}; "
          f"by the booth's own CPU: {min(cpus):.2f}–{max(cpus):.2f}  (goal >= 0.67, confirmations costing at most "
          f"a third: {'met' if min(cpus) >= 2 / 3 else 'NOT met'} for the booth, "
          f"{'met' if min(walls) >= 2 / 3 else 'NOT met'} on the wall clock here)")


if __name__ == "__main__":
    main()
