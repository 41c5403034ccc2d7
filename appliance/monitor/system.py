"""Readings of the machine itself for the heartbeat: disk, memory, CPU temperature, load."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def _proc_kb(path: str, field: str) -> int | None:
    """A `Field:   123 kB` line of a /proc file, in kB."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def cpu_temperature_c() -> float | None:
    try:
        return round(int(THERMAL_ZONE.read_text().strip()) / 1000, 1)
    except (OSError, ValueError):
        return None


def readings(storage_dir: Path) -> dict[str, Any]:
    disk = shutil.disk_usage(storage_dir)
    available = _proc_kb("/proc/meminfo", "MemAvailable")
    rss = _proc_kb("/proc/self/status", "VmRSS")
    return {
        "disk_free_mb": disk.free // 2**20,
        "disk_total_mb": disk.total // 2**20,
        "mem_available_mb": None if available is None else available // 1024,
        "rss_mb": None if rss is None else round(rss / 1024, 1),
        "cpu_temp_c": cpu_temperature_c(),
        "load_1m": round(os.getloadavg()[0], 2),
    }
