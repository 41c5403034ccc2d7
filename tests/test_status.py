"""`kiosk status` on the device: the running service's health for a person, from the file the service
rewrites (never a second kiosk); and plainly "not running" once it has stopped."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.support import kiosk_config_data, wait_until, write_toml


def status(config) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance.cli", "status", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)


def test_status_shows_the_running_service_and_then_that_it_stopped(broker, tmp_path) -> None:
    config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(tmp_path / "state", broker.port))
    never = status(config)
    assert never.returncode == 1 and "has not run" in never.stdout
    kiosk = subprocess.Popen([sys.executable, "-m", "appliance.cli", "run", "--headless", "--config", str(config)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        shown = wait_until(lambda: (lambda s: s if s.returncode == 0 and "broker: connected" in s.stdout else None)(
            status(config)), timeout=30)
        lines = shown.stdout.splitlines()
        assert lines[0] == "kiosk test-kiosk-0001: running, online"
        assert any(line.startswith("  outbox: ") for line in lines)
        assert any(line.startswith("  printer: ok") for line in lines)
        assert any(line.startswith("  card_reader: ok") for line in lines)
    finally:
        kiosk.send_signal(signal.SIGTERM)
        kiosk.wait(30)
    stopped = status(config)
    assert stopped.returncode == 1 and "NOT running" in stopped.stdout and "clean stop" in stopped.stdout
