"""Memory and start-up of the headless kiosk with 100,000 events queued, and with 100,000 events
delivered to the broker but awaiting central's confirmation, against an empty queue.

Each case starts the real `kiosk run --headless` process, times how long until it logs that it
started, samples its resident memory (VmRSS) over a few seconds of running (heartbeat ticks, health
checks), and stops it with SIGTERM. Without a broker: an empty queue, and 100,000 queued (they stay
put). With a broker: an empty queue; 100,000 sent and all awaiting confirmation (no central, so the
broker acknowledges them and the booth holds them); and 100,000 sent and confirmed (the test
Confirmer plays central, so every row is freed, as a PUBACK freed them before confirmations). RSS is
sampled once the sending is over (status.json says so) and again 4 s later.
Goal: memory flat — not growing with the depth of the queue, nor with what awaits confirmation
(compare "unconfirmed" with "confirmed": both sent the same 100,000 events).
"""

from __future__ import annotations

import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.prefill import prefill
from tests.support import Confirmer, Mosquitto, free_port, kiosk_config, kiosk_config_data, write_toml

DEPTH = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
RUNS = 3


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def outbox_status(state: Path) -> dict:
    try:
        return json.loads((state / "status.json").read_text())["snapshot"]["outbox"]
    except (OSError, ValueError, KeyError):
        return {}


def run_kiosk(state: Path, port: int | None = None, settled: dict | None = None) -> tuple[float, int, int]:
    """(seconds to 'started', RSS kB after start — or once the outbox in status.json shows `settled` —,
    RSS kB 4 s later)."""
    config = write_toml(state.parent / f"{state.name}.toml", kiosk_config_data(
        state, port or free_port(), outbox={"capacity": max(50_000, 2 * DEPTH)}))
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "appliance.cli", "run", "--headless", "--config", str(config)],
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if "kiosk.core: kiosk" in line and "started" in line:
            break
    started = time.perf_counter() - start
    if settled:
        deadline = time.monotonic() + 600
        while not settled.items() <= outbox_status(state).items() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert settled.items() <= outbox_status(state).items(), f"outbox never reached {settled}"
    rss_start = rss_kb(process.pid)
    time.sleep(4)
    rss_later = rss_kb(process.pid)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)
    return started, rss_start, rss_later


def main() -> None:
    queued, awaiting, confirmed = f"{DEPTH:,} queued", f"{DEPTH:,} sent, unconfirmed", f"{DEPTH:,} sent, confirmed"
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        full = Path(tmp) / "full"
        prefill(kiosk_config(full, 1, outbox={"capacity": max(50_000, 2 * DEPTH)}), DEPTH)
        results: dict[str, list[tuple[float, int, int]]] = {
            "empty queue": [], queued: [], "empty, broker": [], awaiting: [], confirmed: []}
        for n in range(RUNS):
            results["empty queue"].append(run_kiosk(Path(tmp) / f"empty-{n}"))
            results[queued].append(run_kiosk(full))
            broker = Mosquitto(Path(tmp) / f"broker-{n}").start()
            try:
                results["empty, broker"].append(run_kiosk(Path(tmp) / f"empty-broker-{n}", broker.port))
                shutil.copytree(full, Path(tmp) / f"sent-{n}")
                results[awaiting].append(run_kiosk(Path(tmp) / f"sent-{n}", broker.port,
                                                   settled={"unconfirmed": DEPTH, "depth": DEPTH}))
                shutil.copytree(full, Path(tmp) / f"confirmed-{n}")
                central = Confirmer(broker)  # plays central's confirming role (tests/support.py)
                try:
                    results[confirmed].append(run_kiosk(Path(tmp) / f"confirmed-{n}", broker.port,
                                                        settled={"depth": 0}))
                finally:
                    central.close()
            finally:
                broker.stop()
    print(f"headless kiosk, {RUNS} starts each (median); with a broker, RSS once the sending is over and 4 s later:")
    medians = {}
    for name, runs in results.items():
        started = statistics.median(r[0] for r in runs)
        rss0 = statistics.median(r[1] for r in runs) / 1024
        rss1 = statistics.median(r[2] for r in runs) / 1024
        medians[name] = (started, rss1)
        print(f"  {name:26s} start-up {started * 1000:6.0f} ms   RSS at start {rss0:5.1f} MiB   "
              f"after 4 s {rss1:5.1f} MiB")
    for name, base in ((queued, "empty queue"), (awaiting, "empty, broker"), (confirmed, "empty, broker"),
                       (awaiting, confirmed)):
        (start_s, rss), (base_start, base_rss) = medians[name], medians[base]
        print(f"  {name} / {base}: RSS {rss / base_rss:.2f}x ({rss - base_rss:+.1f} MiB), "
              f"start-up {start_s / base_start:.2f}x ({(start_s - base_start) * 1000:+.0f} ms)")


if __name__ == "__main__":
    main()
