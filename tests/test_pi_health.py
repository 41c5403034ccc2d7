"""The Pi's health readings from the files the kernel publishes, laid out as on a Pi in a directory
tree (no Pi here), and what central makes of them."""

from __future__ import annotations

from pathlib import Path

from appliance.monitor.pi_health import filesystem_errors, pi_health, throttling
from central.alerts import heartbeat_conditions
from central.settings import Thresholds


def sysfs(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_firmware_flags_say_under_voltage_and_throttling_now_and_since_boot(tmp_path: Path) -> None:
    root = sysfs(tmp_path, {"sys/devices/platform/soc/soc:firmware/get_throttled": "0x50005\n"})
    assert throttling(root) == {"under_voltage_now": True, "under_voltage_since_boot": True,
                                "throttled_now": True, "throttled_since_boot": True,
                                "freq_capped_now": False, "soft_temp_limit_now": False}
    calm = sysfs(tmp_path / "calm", {"sys/devices/platform/soc/soc:firmware/get_throttled": "0x0\n"})
    assert not any(throttling(calm).values())


def test_the_hwmon_alarm_stands_in_when_the_firmware_file_is_missing(tmp_path: Path) -> None:
    root = sysfs(tmp_path, {"sys/class/hwmon/hwmon0/name": "cpu_thermal\n",
                            "sys/class/hwmon/hwmon1/name": "rpi_volt\n",
                            "sys/class/hwmon/hwmon1/in0_lcrit_alarm": "1\n"})
    assert throttling(root) == {"under_voltage_now": True}


def test_sd_card_errors_and_missing_sources(tmp_path: Path) -> None:
    root = sysfs(tmp_path, {"sys/fs/ext4/mmcblk0p2/errors_count": "3\n", "sys/fs/ext4/mmcblk0p1/errors_count": "0\n"})
    assert filesystem_errors(root) == {"mmcblk0p1": 0, "mmcblk0p2": 3}
    assert pi_health(2, tmp_path / "not-a-pi") == {"throttling": None, "filesystem_errors": None,
                                                   "service_restarts": 2}  # unknown, never "fine"


def test_central_alerts_on_under_voltage_and_sd_errors(tmp_path: Path) -> None:
    root = sysfs(tmp_path, {"sys/devices/platform/soc/soc:firmware/get_throttled": "0x1\n",
                            "sys/fs/ext4/mmcblk0p2/errors_count": "3\n"})
    beat = {"drivers": {}, "system": {"disk_free_mb": 9000, "pi": pi_health(0, root)}}
    assert set(heartbeat_conditions(beat, Thresholds())) == {"under_voltage", "sd_card_errors"}
    healthy = {"drivers": {}, "system": {"disk_free_mb": 9000, "pi": pi_health(0, tmp_path / "none")}}
    assert heartbeat_conditions(healthy, Thresholds()) == {}
