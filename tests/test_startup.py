"""The booth's start-up (issue 19): the first frame does not wait for the core, and a touch that comes before
the core is up is answered once it is, not lost. Its speed is `bench/bench_screens.py --startup-only`'s."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import kiosk_config_data, write_toml

PROBE = Path(__file__).with_name("startup_probe.py")
pytestmark = pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (Debian package xvfb)")


@pytest.mark.parametrize("size", ["800x480", "1080x1920"])  # portrait's home lists services: they come after
def test_the_first_frame_comes_before_the_core_and_an_early_touch_waits_for_it(display, tmp_path: Path, broker,
                                                                               size: str) -> None:
    config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(tmp_path / "state", broker.port))
    done = subprocess.run([sys.executable, str(PROBE), str(config), size], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "DISPLAY": display})
    assert done.returncode == 0, done.stderr[-3000:]
    moments = {line["moment"]: line for line in map(json.loads, done.stdout.splitlines()) if line}
    first, tapped, up = moments["first frame"], moments["tapped"], moments["core up"]

    # home alone, drawn without the core, its drivers, the outbox, python-escpos or the search index
    assert (first["core_ready"], first["current"], first["screens"], first["loaded"]) == (False, "home", ["home"], [])
    # the tap waited for the core, then did what it asks: the departments on screen, built when first entered
    assert tapped["core_ready"] and tapped["current"] == "browse" and tapped["departments"]
    assert tapped["screens"] == ["browse", "home"]
    assert "appliance.kiosk" in tapped["loaded"] and "screens.apply" not in tapped["loaded"]
    assert up["core_ready"] and up["current"] == "browse"
    # portrait's home lists the most used services once the core (and its catalogue) is up, not before
    assert (first["services"], moments["home again"]["services"]) == ((0, 14) if size == "1080x1920" else (0, 0))
