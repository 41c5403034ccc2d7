"""The `kiosk` command as a maintainer meets it: birth and will, clean shutdown, clear error messages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import Mosquitto, free_port, kiosk_config_data, make_test_ca, wait_until, write_toml

KIOSK = [sys.executable, "-m", "appliance.cli"]


def _start(config: Path) -> subprocess.Popen:
    return subprocess.Popen([*KIOSK, "run", "--headless", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _statuses(collector) -> list[dict]:
    return [m.json() for m in collector.on("/status")]


def test_will_birth_and_clean_shutdown(tmp_path: Path, broker, collector) -> None:
    config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(tmp_path / "state", broker.port))
    first = _start(config)
    collector.wait_for(lambda c: any(s["status"] == "online" for s in _statuses(c)))
    boot1 = _statuses(collector)[-1]["boot"]

    first.send_signal(signal.SIGKILL)
    first.communicate()
    collector.wait_for(lambda c: _statuses(c)[-1]["status"] == "offline")
    will = _statuses(collector)[-1]
    assert will["boot"] == boot1 and will["reason"] == "connection_lost"

    second = _start(config)
    collector.wait_for(lambda c: _statuses(c)[-1]["status"] == "online")
    birth = _statuses(collector)[-1]
    assert birth["boot"] > boot1, "a restart must announce a higher boot counter than the stale will"

    second.send_signal(signal.SIGTERM)
    _, err = second.communicate(timeout=15)
    assert second.returncode == 0, err
    collector.wait_for(lambda c: _statuses(c)[-1]["status"] == "offline")
    goodbye = _statuses(collector)[-1]
    assert goodbye["reason"] == "shutdown" and goodbye["boot"] == birth["boot"]
    assert "stopped" in err

    # The retained status a newcomer (central after a restart) sees is the last word: offline.
    from tests.support import Collector

    late = Collector(broker, topic="kiosk/v1/+/status", client_id="late-reader")
    try:
        retained = late.wait_for(lambda c: c.on("/status"))
        assert retained[0].retain and retained[0].json()["status"] == "offline"
    finally:
        late.close()


def _config_error(tmp_path: Path, text: str | None, *, run: bool = False) -> str:
    config = tmp_path / "bad.toml"
    if text is not None:
        config.write_text(text, encoding="utf-8")
    args = ["run", "--headless", "--config", str(config)] if run else ["config", "check", "--config", str(config)]
    done = subprocess.run([*KIOSK, *args], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done
    assert "Traceback" not in done.stderr
    return done.stderr


GOOD = """
[device]
id = "ok-device-01"
site = "测试网点"
region = "370203"
[broker]
host = "127.0.0.1"
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD.replace('host = "127.0.0.1"', 'host = "127.0.0.1"\nport = 70000'),
         ["broker.port = 70000", "less than or equal to 65535"]),
        (GOOD.replace('id = "ok-device-01"', 'id = "Kiosk 1/2"'), ["device.id = 'Kiosk 1/2'", "lower-case letters"]),
        (GOOD.replace('region = "370203"', 'region = "3702"'), ["device.region = '3702'", "6-digit"]),
        (GOOD.replace('region = "370203"', ""), ["device.region is missing"]),
        (GOOD + "\n[heartbeat]\ninterval = 60\n", ["heartbeat.interval is not a known setting"]),
        (GOOD + "\n[hardware.leds]\ngreen = 17\namber = 17\n", ["hardware.leds", "three different pins"]),
        (GOOD + '\n[broker.tls]\nca_file = "/nonexistent/ca.crt"\n',
         ["broker.tls.ca_file = '/nonexistent/ca.crt'", "does not exist"]),
        (GOOD.replace("[broker]", "[broker\n"), ["not valid TOML", "line"]),
        (GOOD + '\n[storage]\ndir = "relative/path"\n', ["storage", "absolute"]),
        (GOOD + '\n[hardware.printer]\nconnection = "tcp"\n', ["hardware.printer", "needs host"]),
        (GOOD + '\n[hardware.printer]\nflow_control = "cts"\n', ["hardware.printer.flow_control = 'cts'", "rtscts"]),
        (GOOD + '\n[hardware.printer]\npaper_width_mm = 76\n', ["hardware.printer.paper_width_mm = 76", "58"]),
    ],
)
def test_bad_config_gives_key_value_and_what_is_allowed(tmp_path: Path, text: str, expected: list[str]) -> None:
    message = _config_error(tmp_path, text)
    for part in expected:
        assert part in message, message


def test_unusable_tls_files_are_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text("not a certificate\n")
    message = _config_error(tmp_path, GOOD + f'\n[broker.tls]\nca_file = "{tmp_path / "ca.crt"}"\n', run=True)
    assert "broker.tls.ca_file" in message and "not a usable PEM CA certificate" in message
    tls = make_test_ca(tmp_path / "tls", "ok-device-01")
    mismatched = (f'\n[broker.tls]\nca_file = "{tls.ca}"\ncert_file = "{tls.client_cert}"\n'
                  f'key_file = "{tls.server_key}"\n')
    assert "not a PEM certificate with its matching key" in _config_error(tmp_path, GOOD + mismatched)


def test_missing_config_file_and_bad_file_at_start(tmp_path: Path) -> None:
    assert "not found" in _config_error(tmp_path, None)
    message = _config_error(tmp_path, GOOD.replace("[broker]", "[brokr]"), run=True)
    assert "brokr is not a known setting" in message and "broker is missing" in message


def test_good_config_check_and_example_config(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text(GOOD, encoding="utf-8")
    done = subprocess.run([*KIOSK, "config", "check", "--config", str(tmp_path / "good.toml")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "config OK" in done.stdout
    # The annotated example is valid but for the TLS files that exist only on a provisioned device.
    example = Path(__file__).resolve().parent.parent / "examples" / "kiosk.toml"
    message = _config_error(tmp_path, example.read_text(encoding="utf-8"))
    assert message.count("does not exist") == 3, message


def test_unreachable_broker_is_reported_once_and_the_kiosk_keeps_running(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(tmp_path / "state", free_port()))
    process = _start(config)
    # started (its status file is written once the core runs, after SIGTERM is handled), then several
    # reconnect attempts: the unreachable broker must still be reported once
    wait_until(lambda: (tmp_path / "state" / "status.json").exists() or process.poll() is not None, timeout=30)
    time.sleep(4)
    assert process.poll() is None, "the kiosk must keep running without a broker"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=15)
    assert process.returncode == 0
    # Counted per log line: the test's own tmp path contains the word too.
    assert sum("kiosk.link" in line and "unreachable" in line for line in err.splitlines()) == 1, err
    assert "the kiosk keeps working" in err


def test_refused_login_is_reported_and_not_retried_in_a_tight_loop(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", users={"test-kiosk-0001": "right"}).start()
    try:
        (tmp_path / "password").write_text("wrong\n")
        os.chmod(tmp_path / "password", 0o600)
        config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(
            tmp_path / "state", broker.port,
            broker={"username": "test-kiosk-0001", "password_file": str(tmp_path / "password"),
                    "reconnect_min_s": 1, "reconnect_max_s": 30}))
        process = _start(config)
        wait_until(lambda: broker.log_count("not authorised") >= 1, timeout=15)
        time.sleep(6)
        attempts = broker.log_count("not authorised")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=15)
        assert process.returncode == 0
        assert "refused the login (not authorized)" in err and "check the credentials" in err
        assert err.count("refused the login") == 1, "reported once, not at every retry"
        # With a 1 s minimum backoff a tight loop would try 6+ times in 6 s; after a refusal the
        # kiosk waits reconnect_max_s (30 s) before trying again.
        assert attempts == 1, f"{attempts} login attempts in 6 s"
    finally:
        broker.stop()
