"""End to end: booth outbox → broker → central's database → central's confirmation → booth row freed.

A booth (the real core, in this process) drains a 20,000-event backlog through the production
Mosquitto config (TLS, client certificates, the ACL) to `kiosk central serve` (its own process,
SQLite database), which confirms the events of each commit on the booth's `ack` topic. The same run
reports the pump-to-broker rate (until the last PUBACK) and the end-to-end rate (until the last row
is freed by a confirmation), and first, as the baseline, the same booth's pump-to-broker rate with
no central (nothing confirms, nothing is freed). Checked afterwards: central's database holds every
event of the backlog.
Goal: confirmations cost at most a third of the pump's rate (end to end ≥ 2/3 of the baseline).
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import tempfile
import time
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


def drain(config) -> tuple[float, float | None]:
    """(pump-to-broker events/s, end-to-end events/s or None when nothing confirms within a moment)."""
    prefill(config, EVENTS)
    kiosk = Kiosk(config)
    start = time.perf_counter()
    kiosk.start()
    try:
        wait_until(lambda: kiosk.pump.delivered >= EVENTS, timeout=600, interval=0.005)
        acked = time.perf_counter() - start
        try:
            wait_until(lambda: kiosk.outbox.depth == 0, timeout=600 if kiosk.pump.confirmed else 3, interval=0.005)
        except AssertionError:
            return EVENTS / acked, None
        return EVENTS / acked, EVENTS / (time.perf_counter() - start)
    finally:
        kiosk.stop()


def start_central(tmp: Path, broker: Mosquitto, tls: TlsFiles, database: Path) -> subprocess.Popen:
    cert, key = tls.issue("central-1")
    before = broker.log_count("Received SUBSCRIBE from central-1")
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance.cli", "central", "serve", "--database", f"sqlite:///{database}",
         "--broker-host", "localhost", "--broker-port", str(broker.port), "--ca-file", str(tls.ca),
         "--cert-file", str(cert), "--key-file", str(key), "--client-id", "central-1", "--http-port", "0"],
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
                baseline, _ = drain(booth_config(tmp / f"alone-{round_}", broker, tls))
                database = tmp / f"central-{round_}.sqlite3"
                central = start_central(tmp, broker, tls, database)
                try:
                    pump, end_to_end = drain(booth_config(tmp / f"with-central-{round_}", broker, tls))
                    assert end_to_end is not None, "central confirmed nothing: see " + str(tmp / "central.log")
                    wait_until(lambda database=database: events_in(database) == EVENTS, timeout=60)
                finally:
                    central.terminate()
                    central.wait(30)
                runs.append((baseline, pump, end_to_end))
            finally:
                broker.stop()
    print(f"end to end, {EVENTS} queued events: booth → production Mosquitto (TLS, ACL) → `kiosk central serve` "
          "(SQLite) → confirmation → row freed; every event found in central's database:")
    for n, (baseline, pump, end_to_end) in enumerate(runs, 1):
        print(f"  round {n}: pump → broker alone {baseline:7.0f}/s   with central: pump → broker {pump:7.0f}/s, "
              f"end to end {end_to_end:7.0f}/s   end to end / alone {end_to_end / baseline:.2f}")
    ratios = [end_to_end / baseline for baseline, _, end_to_end in runs]
    print(f"  end to end / pump alone: {min(ratios):.2f}–{max(ratios):.2f}  (goal >= 0.67, confirmations costing at "
          f"most a third: {'met' if min(ratios) >= 2 / 3 else 'NOT met'})")


if __name__ == "__main__":
    main()
