"""Memory and start-up of the headless kiosk with 100,000 events queued, against an empty queue.

Each case starts the real `kiosk run --headless` process (no broker, so the queue stays put),
times how long until it logs that it started, samples its resident memory (VmRSS) over a few
seconds of running (heartbeat ticks, health checks), and stops it with SIGTERM.
Goal: memory flat — not growing with the depth of the queue.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.prefill import prefill
from tests.support import free_port, kiosk_config, kiosk_config_data, write_toml

DEPTH = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
RUNS = 3


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def run_kiosk(state: Path) -> tuple[float, int, int]:
    """(seconds to 'started', RSS kB after start, RSS kB after 4 s of running)."""
    config = write_toml(state.parent / f"{state.name}.toml", kiosk_config_data(state, free_port()))
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "appliance.cli", "run", "--headless", "--config", str(config)],
                               stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    for line in process.stderr:
        if "kiosk.core: kiosk" in line and "started" in line:
            break
    started = time.perf_counter() - start
    rss_start = rss_kb(process.pid)
    time.sleep(4)
    rss_later = rss_kb(process.pid)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=20)
    return started, rss_start, rss_later


def main() -> None:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        full = Path(tmp) / "full"
        prefill(kiosk_config(full, 1), DEPTH)
        results: dict[str, list[tuple[float, int, int]]] = {"empty queue": [], f"{DEPTH:,} queued": []}
        for n in range(RUNS):
            results["empty queue"].append(run_kiosk(Path(tmp) / f"empty-{n}"))
            results[f"{DEPTH:,} queued"].append(run_kiosk(full))
    print(f"headless kiosk, no broker, {RUNS} starts each (median):")
    medians = {}
    for name, runs in results.items():
        started = statistics.median(r[0] for r in runs)
        rss0 = statistics.median(r[1] for r in runs) / 1024
        rss1 = statistics.median(r[2] for r in runs) / 1024
        medians[name] = (started, rss1)
        print(f"  {name:16s} start-up {started * 1000:6.0f} ms   RSS at start {rss0:5.1f} MiB   "
              f"after 4 s {rss1:5.1f} MiB")
    (empty_start, empty_rss), (full_start, full_rss) = medians.values()
    print(f"  queued / empty: RSS {full_rss / empty_rss:.2f}x ({full_rss - empty_rss:+.1f} MiB), "
          f"start-up {full_start / empty_start:.2f}x ({(full_start - empty_start) * 1000:+.0f} ms)")


if __name__ == "__main__":
    main()
