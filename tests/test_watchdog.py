"""The sd_notify/watchdog protocol against a real NOTIFY_SOCKET datagram socket: READY, pings at half
of WATCHDOG_USEC, STOPPING; and no pings while a core loop hangs or paho's network thread is gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from tests.support import SystemdSocket, kiosk_config_data, wait_until, write_toml


@pytest.fixture
def systemd() -> Iterator[SystemdSocket]:
    notify = SystemdSocket()
    yield notify
    notify.close()


def test_the_service_says_ready_pings_at_half_the_interval_and_says_stopping(broker, systemd, tmp_path) -> None:
    config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(tmp_path / "state", broker.port))
    env = {**os.environ, "NOTIFY_SOCKET": str(systemd.path), "WATCHDOG_USEC": "1000000"}
    kiosk = subprocess.Popen([sys.executable, "-m", "appliance.cli", "run", "--headless", "--config", str(config)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: "READY=1" in systemd.lines(), timeout=30)
        ready_at = next(at for at, line in systemd.messages if line == "READY=1")
        wait_until(lambda: systemd.lines(ready_at + 3).count("WATCHDOG=1") >= 1, timeout=10)
        pings = [at for at, line in systemd.messages if line == "WATCHDOG=1" and ready_at < at <= ready_at + 3]
        assert 4 <= len(pings) <= 7  # every 0.5 s for a 1 s WatchdogSec
    finally:
        kiosk.send_signal(signal.SIGTERM)
        kiosk.wait(30)
    assert "STOPPING=1" in systemd.lines()


def test_no_pings_while_a_core_loop_hangs_or_the_network_thread_is_gone(broker, systemd, make_kiosk,
                                                                         monkeypatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(systemd.path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    monkeypatch.setattr("appliance.monitor.ticker.LOOP_ALLOWANCE_S", 2.0)
    kiosk = make_kiosk(broker.port)
    wait_until(lambda: kiosk.watchdog.pings >= 3)

    hang = threading.Event()
    kiosk.ticker.every(1, "hang", hang.wait)  # the core's ticker blocks in its next pass
    wait_until(lambda: "STATUS=not alive: core-ticker" in systemd.lines(), timeout=10)
    stalled_at = time.monotonic()
    time.sleep(1.5)
    assert "WATCHDOG=1" not in systemd.lines(stalled_at)  # systemd would restart the service now
    hang.set()
    wait_until(lambda: "WATCHDOG=1" in systemd.lines(time.monotonic() - 0.5), timeout=10)

    kiosk.link.stop()  # paho's network thread ends: nothing would reconnect any more
    wait_until(lambda: "STATUS=not alive: mqtt-network" in systemd.lines(), timeout=10)
    gone_at = time.monotonic()
    time.sleep(1.0)
    assert "WATCHDOG=1" not in systemd.lines(gone_at)


def test_a_vanished_touchscreen_is_reported_and_ends_in_a_restart(broker, systemd, make_kiosk, monkeypatch,
                                                                   tmp_path) -> None:
    """A file stands in for /dev/input/eventN (no touch device here): the watcher compares device nodes."""
    device = tmp_path / "event3"
    device.write_bytes(b"")
    monkeypatch.setenv("NOTIFY_SOCKET", str(systemd.path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    kiosk = make_kiosk(broker.port, hardware={"touchscreen": str(device)})
    wait_until(lambda: kiosk.watchdog.pings >= 2)
    assert kiosk.health_snapshot()["drivers"]["touchscreen"] == {"state": "ok", "reason": "ok"}
    device.unlink()  # the touch controller resets: its node goes away …
    wait_until(lambda: "STATUS=not alive: touchscreen" in systemd.lines(), timeout=10)
    assert kiosk.health_snapshot()["drivers"]["touchscreen"] == {"state": "absent", "reason": "device_gone"}
    device.write_bytes(b"")  # … and comes back as a new node, which the UI's old handle does not see
    assert kiosk.health_snapshot()["drivers"]["touchscreen"] == {"state": "fault", "reason": "device_replaced"}
    since = time.monotonic()
    time.sleep(1.0)
    assert "WATCHDOG=1" not in systemd.lines(since)  # so systemd restarts the service, which reopens it
