"""The units in systemd/ pass `systemd-analyze verify` (with the install path pointed at this checkout's
venv), with not even a warning, and say what the booth relies on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted(p for p in (ROOT / "systemd").iterdir() if p.suffix in (".service", ".path", ".timer"))
# Where the units run the product from: the release kiosk.service runs, the committed one the root side's
# code runs from (appliance/release/layout.py), and the first install's.
INSTALLED = ("/opt/kiosk/current/bin/", "/opt/kiosk/committed/bin/", "/opt/kiosk/.venv/bin/")


def verify(unit_text: str, name: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Verify `name` with this text, beside the other units it may name, installed into this venv."""
    venv = str(Path(sys.executable).parent) + "/"

    def here(text: str) -> str:
        for installed in INSTALLED:
            text = text.replace(installed, venv)
        return text

    for unit in UNITS:
        (tmp_path / unit.name).write_text(here(unit.read_text()))
    (tmp_path / name).write_text(here(unit_text))
    return subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / name)], capture_output=True,
                          text=True, cwd=tmp_path)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_every_unit_verifies_cleanly(unit: Path, tmp_path: Path) -> None:
    checked = verify(unit.read_text(), unit.name, tmp_path)
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_check_catches_a_mistake(tmp_path: Path) -> None:
    broken = (ROOT / "systemd" / "kiosk.service").read_text().replace("WatchdogSec=30", "WatchdogSec=half a minute")
    assert "Failed to parse" in verify(broken, "kiosk.service", tmp_path).stderr


def test_the_kiosk_unit_is_watched_restarted_and_sandboxed() -> None:
    text = (ROOT / "systemd" / "kiosk.service").read_text()
    settings = {}
    for key, value in re.findall(r"^(\w+)=(.*)$", text, re.MULTILINE):
        settings.setdefault(key, []).append(value)
    for key, value in {"Type": "notify", "Restart": "always", "StartLimitAction": "reboot", "User": "kiosk",
                       "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/kiosk", "PrivateTmp": "yes",
                       "NoNewPrivileges": "yes", "ProtectHome": "yes", "CapabilityBoundingSet": "",
                       "DevicePolicy": "closed", "Wants": "network-online.target"}.items():
        assert settings.get(key) == [value], key
    assert int(settings["WatchdogSec"][0]) > 0
    assert {"char-ttyUSB rw", "char-gpiochip rw", "char-drm rw"} <= set(settings["DeviceAllow"])
