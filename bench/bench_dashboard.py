"""The dashboard under an office's load: 2,000 booths with 90 days of usage reports and ratings in
central's database (SQLite), `kiosk central serve` in its own process, ten logged-in operators asking
at once. Each operator loops over the overview API (/api/fleet), the usage page's API (/api/usage, 14
days) and, as the baseline, a static file served by the same server (/static/app.css) through the
same middleware (host check, session, CSRF, headers). Prints p50 and p95 latency per request kind.

    .venv/bin/python bench/bench_dashboard.py [BOOTHS] [DAYS]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from central import accounts
from central.database import Database
from tests.fleet_sim import FakeBooth
from tests.support import Mosquitto, free_port, wait_until

BOOTHS = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000
DAYS = int(sys.argv[2]) if len(sys.argv) > 2 else 90
OPERATORS = 10
ROUNDS = 10  # per operator, each round one request of each kind
PASSWORD = "bench password 1"
KINDS = {"overview /api/fleet": "/api/fleet", "usage /api/usage?days=14": "/api/usage?days=14",
         "static /static/app.css (baseline)": "/static/app.css"}


def fill(db: Database) -> int:
    """Births, a heartbeat each, and DAYS of daily usage reports and ratings per booth, recorded the
    way the intake records them (in batches, one transaction each). Returns the number of events."""
    now = time.time()
    booths = [FakeBooth(f"bench-{n:05d}", f"网点 {n}", f"{110101 + n % 16}") for n in range(BOOTHS)]
    with db.transaction() as conn:
        for booth in booths:
            db.record_status(conn, booth.device, json.loads(booth.birth()[1]), now)
        db.record_heartbeats(conn, [(b.device, json.loads(b.heartbeat()[1]), now) for b in booths])
    total = 0
    for day in range(DAYS, 0, -1):
        batch = []
        for booth in booths:
            at = now - day * 86_400
            level = booth.rng.choices([5, 4, 3, 2, 1], weights=[60, 22, 9, 5, 4])[0]
            for _topic, data in (booth.usage(at, booth.rng.randint(10, 40)), booth.rating(level, at + 3600)):
                batch.append((booth.device, json.loads(data), at + 86_000))
        with db.transaction() as conn:
            db.record_events(conn, batch)
        total += len(batch)
    return total


def operator(url: str, name: str, latencies: dict[str, list[float]], lock: threading.Lock) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        assert client.post("/api/login", json={"username": name, "password": PASSWORD}).status_code == 200
        for _ in range(ROUNDS):
            for kind, path in KINDS.items():
                start = time.perf_counter()
                answer = client.get(path)
                spent = time.perf_counter() - start
                assert answer.status_code == 200, (path, answer.status_code)
                with lock:
                    latencies[kind].append(spent)


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def main() -> None:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        url = f"sqlite:///{tmp}/central.sqlite3"
        db = Database(url)
        start = time.perf_counter()
        events = fill(db)
        made = time.perf_counter() - start
        with db.transaction() as conn:
            for n in range(OPERATORS):
                accounts.add_user(conn, f"oper{n}", "operator", [], PASSWORD)
        db.engine.dispose()
        broker = Mosquitto(Path(tmp) / "broker").start()
        port = free_port()
        central = subprocess.Popen([sys.executable, "-m", "appliance.cli", "central", "serve", "--database", url,
                                    "--broker-port", str(broker.port), "--http-port", str(port),
                                    "--personal-data-key", str(Path(tmp) / "personal-data.key")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _up(base), timeout=60)
            latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
            lock = threading.Lock()
            workers = [threading.Thread(target=operator, args=(base, f"oper{n}", latencies, lock))
                       for n in range(OPERATORS)]
            began = time.perf_counter()
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            elapsed = time.perf_counter() - began
            rss = _rss_mb(central.pid)
        finally:
            central.terminate()
            central.wait(30)
            broker.stop()
    print(f"dashboard: {BOOTHS} booths, {DAYS} days, {events:,} events ({made:.0f} s to record), "
          f"{OPERATORS} operators at once, {ROUNDS} rounds each, kiosk central serve on SQLite "
          f"(RSS {rss:.0f} MB after):")
    static = latencies["static /static/app.css (baseline)"]
    for kind, values in latencies.items():
        print(f"  {kind:<36} p50 {p(values, 50):8.1f} ms   p95 {p(values, 95):8.1f} ms   "
              f"(p95 {p(values, 95) / p(static, 95):6.1f}× the static file's)")
    print(f"  {sum(map(len, latencies.values())) / elapsed:.1f} requests/s over {elapsed:.1f} s")


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/login", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
