"""`./dev run` as a newcomer runs it, without a display: the broker, central and the booth come up wired
to each other (the booth's birth and heartbeat counted in central's database), the dashboard answers at
the address printed and the login printed opens it, and Ctrl-C (SIGINT) stops everything with exit
status 0 and no process left behind; a second run, stopped by SIGTERM, keeps the first run's state."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from central.database import Database
from central.tables import devices, heartbeats, users
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
DEVICE = "dev-kiosk-0001"


def descendants(pid: int) -> set[int]:
    """Every living process below `pid` (children started in sessions of their own included)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class DevRun:
    """`python -m tools.dev_run` (what `./dev run` execs) with no display, its output collected."""

    def __init__(self, state: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        self.process = subprocess.Popen([sys.executable, "-m", "tools.dev_run", "--state-dir", str(state)], cwd=ROOT,
                                        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.children: set[int] = set()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def said(self, pattern: str) -> re.Match | None:
        return re.search(pattern, self.output, re.MULTILINE)

    def wait_ready(self) -> tuple[str, str, str]:
        """The dashboard's address, the user and the password, as printed."""
        wait_until(lambda: self.said(r"Ctrl-C stops all three") or self.process.poll() is not None, timeout=60)
        assert self.process.poll() is None, self.output
        self.children |= descendants(self.process.pid)
        url = self.said(r"^dev run:   dashboard  (http://\S+)/$")
        login = self.said(r"^dev run:   login      (\S+) / (\S+) ")
        assert url and login, self.output
        return url.group(1), login.group(1), login.group(2)

    def stop(self, signum: int) -> int:
        self.children |= descendants(self.process.pid)
        self.process.send_signal(signum)
        status = self.process.wait(timeout=45)
        self._reader.join(timeout=5)
        return status

    def kill_leftovers(self) -> None:
        """After a failed test only: nothing of this run outlives it."""
        if self.process.poll() is None:
            self.children |= descendants(self.process.pid)
            self.process.kill()
            self.process.wait()
        for pid in self.children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def heartbeats_since(db: Database, since: float) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(heartbeats)
                            .where(heartbeats.c.device == DEVICE, heartbeats.c.received_at >= since)).scalar_one()


def booth_row(db: Database) -> dict | None:
    with db.read() as conn:
        row = conn.execute(select(devices).where(devices.c.id == DEVICE)).mappings().first()
    return dict(row) if row else None


def online_on_dashboard(url: str, user: str, password: str) -> dict:
    """Log in as printed and read the overview: the booth's row, once it says online."""
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/login").status_code == 200
        answer = client.post("/api/login", json={"username": user, "password": password})
        assert answer.status_code == 200, answer.text
        assert answer.json()["role"] == "admin"

        def booth() -> dict | None:
            rows = client.get("/api/fleet").json()["devices"]
            # status: what the booth said (online, maintenance, offline); state adds the alerts (degraded,
            # e.g. on a machine whose clock is not NTP-synchronised)
            return next((row for row in rows if row["device"] == DEVICE and row["status"] == "online"), None)

        return wait_until(booth, timeout=15, interval=0.3)


def run_once(state: Path, stop_with: int) -> tuple[DevRun, tuple[str, str, str], dict]:
    started = time.time()
    run = DevRun(state)
    try:
        url, user, password = run.wait_ready()
        db = Database(f"sqlite:///{state / 'central' / 'central.sqlite3'}")
        assert heartbeats_since(db, started) >= 1, "the booth's heartbeat of this run is in central's database"
        row = booth_row(db)
        assert row["status"] == "online" and row["region"] == "370203"
        assert online_on_dashboard(url, user, password)["device"] == DEVICE
        assert run.stop(stop_with) == 0, run.output
    finally:
        run.kill_leftovers()
    left = sorted(pid for pid in run.children if alive(pid))
    assert len(run.children) >= 3 and not left, f"{len(run.children)} processes started, still running: {left}"
    assert booth_row(db)["status"] == "offline", "the booth said offline on its way out"
    with db.read() as conn:
        accounts = conn.execute(select(func.count()).select_from(users)).scalar_one()
    return run, (url, user, password), {"boot": row["boot"], "accounts": accounts}


def test_dev_run_starts_the_whole_product_wired_and_stops_it_all(tmp_path: Path) -> None:
    state = tmp_path / "dev-run"
    # The ports of a "last run", so this test leaves 8883 and 8080 to a developer's own ./dev run
    state.mkdir()
    (state / "ports.json").write_text(json.dumps({"broker": free_port(), "dashboard": free_port()}))
    first, login, seen = run_once(state, signal.SIGINT)
    assert "(new: delete it to start afresh)" in first.output
    ports = json.loads((state / "ports.json").read_text())
    assert login[0] == f"http://127.0.0.1:{ports['dashboard']}"
    assert "made a throwaway CA" in first.output and "made now, an admin" in first.output
    ca = (state / "tls" / "ca.crt").read_bytes()
    assert seen == {"boot": 1, "accounts": 1}
    assert "stopped: booth, central and broker" in first.output

    second, login_again, seen_again = run_once(state, signal.SIGTERM)
    assert "kept from the last run" in second.output and "made a throwaway CA" not in second.output
    assert login_again == login and "made at the first run" in second.output, "same address, same login"
    assert (state / "tls" / "ca.crt").read_bytes() == ca
    assert seen_again == {"boot": 2, "accounts": 1}, "the booth's state and central's accounts were kept"
    with Database(f"sqlite:///{state / 'central' / 'central.sqlite3'}").read() as conn:
        assert conn.execute(select(func.count()).select_from(heartbeats)
                            .where(heartbeats.c.device == DEVICE)).scalar_one() >= 2
