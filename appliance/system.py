"""Readings of the machine itself for the heartbeat: disk, memory, CPU temperature, load."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")


def _meminfo_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_kb() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
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
    available = _meminfo_kb("MemAvailable")
    rss = rss_kb()
    return {
        "disk_free_mb": disk.free // 2**20,
        "disk_total_mb": disk.total // 2**20,
        "mem_available_mb": None if available is None else available // 1024,
        "rss_mb": None if rss is None else round(rss / 1024, 1),
        "cpu_temp_c": cpu_temperature_c(),
        "load_1m": round(os.getloadavg()[0], 2),
    }
