"""Steps of provisioning/install.py that the debootstrapped root cannot show: the Raspberry Pi's boot
partition (here a copy of Raspberry Pi OS Bookworm's own files in a temporary directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning import install

PI_OS_CONFIG_TXT = """\
# For more options and information see
# http://rptl.io/configtxt
dtparam=audio=on
camera_auto_detect=1
display_auto_detect=1
auto_initramfs=1
dtoverlay=vc4-kms-v3d
max_framebuffers=2
disable_fw_kms_setup=1
arm_64bit=1
disable_overscan=1
arm_boost=1

[cm4]
otg_mode=1

[cm5]
dtoverlay=dwc2,dr_mode=host

[all]
"""
PI_OS_CMDLINE_TXT = ("console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 "
                     "fsck.repair=yes rootwait quiet\n")


@pytest.fixture
def boot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "config.txt").write_text(PI_OS_CONFIG_TXT)
    (tmp_path / "cmdline.txt").write_text(PI_OS_CMDLINE_TXT)
    monkeypatch.setattr(install, "BOOT", tmp_path)
    monkeypatch.setattr(install, "set_owner_and_mode", lambda *args: False)  # owners: the chroot test's part
    return tmp_path


def test_the_pi_gets_the_watchdog_and_a_quiet_console_once(boot: Path, capsys: pytest.CaptureFixture) -> None:
    installer = install.Installer(Path("."), None)
    installer.raspberry_pi_boot()
    config = (boot / "config.txt").read_text()
    assert config.startswith(PI_OS_CONFIG_TXT.rstrip("\n"))  # nothing of Raspberry Pi OS's own changed
    assert config.rstrip("\n").endswith("[all]\n# kiosk (provisioning/install.py)\ndtparam=watchdog=on")
    assert config.count("dtoverlay=vc4-kms-v3d") == 1  # already there: not added twice
    cmdline = (boot / "cmdline.txt").read_text()
    assert cmdline.count("\n") == 1 and cmdline.startswith(PI_OS_CMDLINE_TXT.strip())  # one line, as the Pi needs
    assert cmdline.split()[-3:] == ["consoleblank=0", "vt.global_cursor_default=0", "logo.nologo"]
    assert len(installer.changes) == 2
    capsys.readouterr()

    again = install.Installer(Path("."), None)
    again.raspberry_pi_boot()
    assert again.changes == [] and (boot / "config.txt").read_text() == config
    assert "ok       " in capsys.readouterr().out


def test_without_a_boot_partition_the_step_says_why_it_is_skipped(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(install, "BOOT", tmp_path / "firmware")
    install.Installer(Path("."), None).raspberry_pi_boot()
    assert "skipped  Raspberry Pi boot settings" in capsys.readouterr().out
