"""The Raspberry Pi's own troubles for the heartbeat: under-voltage and throttling, SD-card filesystem
errors, and how often systemd has restarted the service.

Each comes from where the kernel and systemd publish it; off a Pi (or in a test's directory tree given
as `root`) a missing source reads as None, never as "fine".
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

THROTTLED = "sys/devices/platform/soc/soc:firmware/get_throttled"  # the firmware's flags, hex
# get_throttled bits (Raspberry Pi firmware): now / since boot.
UNDER_VOLTAGE, FREQ_CAPPED, THROTTLED_NOW, SOFT_TEMP_LIMIT = 0, 1, 2, 3
OCCURRED = 16


def throttling(root: Path) -> dict[str, bool] | None:
    flags = _read_int(root / THROTTLED, base=16)
    if flags is None:
        voltage = _hwmon_under_voltage(root)
        return None if voltage is None else {"under_voltage_now": voltage}

    def bit(n: int) -> bool:
        return bool(flags >> n & 1)

    return {"under_voltage_now": bit(UNDER_VOLTAGE), "under_voltage_since_boot": bit(UNDER_VOLTAGE + OCCURRED),
            "throttled_now": bit(THROTTLED_NOW), "throttled_since_boot": bit(THROTTLED_NOW + OCCURRED),
            "freq_capped_now": bit(FREQ_CAPPED), "soft_temp_limit_now": bit(SOFT_TEMP_LIMIT)}


def _hwmon_under_voltage(root: Path) -> bool | None:
    """The `rpi_volt` hwmon device's alarm, where the firmware attribute is not exposed."""
    for name in sorted((root / "sys/class/hwmon").glob("hwmon*/name")):
        if name.read_text().strip() == "rpi_volt":
            alarm = _read_int(name.parent / "in0_lcrit_alarm")
            return None if alarm is None else alarm != 0
    return None


def filesystem_errors(root: Path) -> dict[str, int] | None:
    """ext4's error count per block device (the SD card's partitions on a Pi)."""
    counts = {path.parent.name: _read_int(path) for path in sorted((root / "sys/fs/ext4").glob("*/errors_count"))}
    counts = {device: count for device, count in counts.items() if count is not None}
    return counts or None


def service_restarts(unit: str = "kiosk.service") -> int | None:
    """systemd's `NRestarts` of the unit: how often it was restarted (watchdog, crashes) since boot.
    It changes only when the service starts again, so it is read once per start."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return None
    try:
        shown = subprocess.run([systemctl, "show", "--property=NRestarts", "--value", unit], capture_output=True,
                               text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = shown.stdout.strip()
    return int(value) if shown.returncode == 0 and value.isdigit() else None


def pi_health(restarts: int | None, root: Path = Path("/")) -> dict[str, Any]:
    return {"throttling": throttling(root), "filesystem_errors": filesystem_errors(root),
            "service_restarts": restarts}


def _read_int(path: Path, base: int = 10) -> int | None:
    try:
        return int(path.read_text().strip(), base)
    except (OSError, ValueError):
        return None
