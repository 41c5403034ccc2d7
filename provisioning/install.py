"""Turn a fresh Raspberry Pi OS Bookworm (or Debian 12) into a booth: `sudo provisioning/install.sh`.

It runs with the system's own Python and standard library, because the product's virtual environment
is one of the things it makes. Every step first looks at what is there and changes only what differs,
so running it again reports `0 changes` and touches nothing; an interrupted run is finished by the
next one. What it sets up:

- the Debian packages the booth needs (Python, the CJK font, Mesa's GLES for Kivy on KMS/DRM, touch
  input, time sync);
- the unprivileged user `kiosk` in the groups that open its devices (dialout, gpio, render, video, input);
- `/etc/kiosk` (root:kiosk 0750: the config and keys are read, never written, by the booth),
  `/var/lib/kiosk` (kiosk:kiosk 0750) and its `actions/` request directory (0770: the root-actions unit,
  which has no capabilities, writes its results there through the group);
- the product in `/opt/kiosk/.venv`, from a copy of this checkout in `/opt/kiosk/src`: the first
  release, which `/opt/kiosk/current` and `/opt/kiosk/committed` point at until a release bundle
  replaces it (appliance/release/), with `kiosk` on the maintainer's PATH;
- the systemd units, a hardware watchdog for the whole Pi, a persistent journal;
- the display: no desktop (multi-user.target), no login prompt on the screen, Kivy drawing straight to
  KMS/DRM (see the README for why not a compositor); on a Pi, the KMS overlay and a quiet console.

Steps that need a Raspberry Pi's boot partition, or a running systemd, are skipped with the reason
when they are absent (a chroot, a container) and done by the next run on the Pi.
"""

from __future__ import annotations

import argparse
import grp
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

USER = "kiosk"
GROUPS = ("dialout", "gpio", "render", "video", "input", "audio")  # audio: voice guidance (ALSA)
ETC = Path("/etc/kiosk")
STATE = Path("/var/lib/kiosk")
OPT = Path("/opt/kiosk")
VENV = OPT / ".venv"
CURRENT, COMMITTED = OPT / "current", OPT / "committed"  # appliance/release/layout.py
EXTRAS = "kiosk,screens"
SOURCE_ITEMS = ("pyproject.toml", "README.md", "appliance", "drivers", "screens", "provisioning", "central",
                "systemd")
SYSTEMD = Path("/etc/systemd/system")
UNITS = ("kiosk.service", "kiosk-actions.service", "kiosk-actions.path", "kiosk-update@.service",
         "kiosk-update-check.timer")
ENABLED = ("kiosk.service", "kiosk-actions.path", "kiosk-update-check.timer")
BOOT = Path("/boot/firmware")

PACKAGES = {
    "python3": "the product runs on the system's Python 3.11",
    "python3-venv": "the product's virtual environment",
    "fonts-noto-cjk": "Chinese text on the screen and in raster receipt lines",
    "libgl1-mesa-dri": "Mesa's GPU drivers (V3D on a Pi 4/5)",
    "libgles2": "Kivy draws with OpenGL ES",
    "libegl1": "SDL2 makes its GL context with EGL on KMS/DRM",
    "libgbm1": "SDL2's KMS/DRM backend allocates its buffers with GBM",
    "libdrm2": "SDL2's KMS/DRM backend sets the display mode",
    "libmtdev1": "Kivy's multitouch input",
    "udev": "device nodes with the groups the kiosk user is in",
    "ca-certificates": "TLS to the broker",
    "espeak-ng": "voice guidance (语音播报): offline Mandarin speech for elderly and low-vision citizens",
    "alsa-utils": "aplay plays espeak-ng's speech on the booth's sound device",
}
TIME_SYNC = ("systemd-timesyncd", "chrony", "ntpsec")  # one is needed: receipts and certificates need the time

FILES = {  # small system files the booth needs, with their modes
    Path("/etc/udev/rules.d/60-kiosk-gpio.rules"): (
        "# GPIO chips for the kiosk user's group (Raspberry Pi OS has the same rule; plain Debian has none).\n"
        'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"\n', 0o644),
    Path("/etc/systemd/system.conf.d/kiosk-watchdog.conf"): (
        "# The Pi's hardware watchdog, kept alive by systemd itself: a hung kernel or PID 1 reboots the booth.\n"
        "[Manager]\nRuntimeWatchdogSec=15\nRebootWatchdogSec=2min\n", 0o644),
    Path("/etc/systemd/journald.conf.d/kiosk.conf"): (
        "# Logs survive a power cut (a maintainer reads why the booth restarted), within a bound for the SD card.\n"
        "[Journal]\nStorage=persistent\nSystemMaxUse=64M\n", 0o644),
}
CONFIG_TXT_LINES = ("dtoverlay=vc4-kms-v3d", "dtparam=watchdog=on")  # full KMS for SDL2; the watchdog device
CMDLINE_WORDS = ("consoleblank=0", "vt.global_cursor_default=0", "logo.nologo")  # no blinking console cursor


class InstallError(RuntimeError):
    """A step that could not be done; the message says which and what it answered."""


class Installer:
    """Brings this machine to the booth's state, one idempotent step at a time, and tells what it did."""

    def __init__(self, source: Path, wheelhouse: Path | None) -> None:
        self.source = source
        self.wheelhouse = wheelhouse
        self.changes: list[str] = []
        self.units_changed = False

    # -- reporting -------------------------------------------------------------------------------------
    def changed(self, what: str) -> None:
        self.changes.append(what)
        print(f"  changed  {what}", flush=True)

    @staticmethod
    def ok(what: str) -> None:
        print(f"  ok       {what}", flush=True)

    @staticmethod
    def skipped(what: str, why: str) -> None:
        print(f"  skipped  {what}: {why}", flush=True)

    # -- steps -----------------------------------------------------------------------------------------
    def run(self) -> int:
        for step in (self.packages, self.groups_and_user, self.directories, self.product, self.system_files,
                     self.units, self.display, self.raspberry_pi_boot, self.start):
            step()
        print(f"install: {len(self.changes)} changes")
        if not (ETC / "kiosk.toml").exists():
            print("next: `sudo kiosk provision init --interactive` (or --from the site's sheet), then "
                  "`sudo kiosk provision check`")
        return 0

    def packages(self) -> None:
        wanted = list(PACKAGES)
        if not any(installed(p) for p in TIME_SYNC):
            wanted.append(TIME_SYNC[0])
        missing = [p for p in wanted if not installed(p)]
        if not missing:
            self.ok(f"Debian packages ({len(wanted)})")
            return
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        command(["apt-get", "update", "-qq"], env=env)
        command(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
        self.changed(f"Debian packages installed: {', '.join(missing)}")

    def groups_and_user(self) -> None:
        for group in (USER, *GROUPS):
            if not group_exists(group):
                command(["groupadd", "--system", group])
                self.changed(f"group {group} created")
        try:
            pwd.getpwnam(USER)
            self.ok(f"user {USER}")
        except KeyError:
            command(["useradd", "--system", "--gid", USER, "--home-dir", str(STATE), "--no-create-home",
                     "--shell", "/usr/sbin/nologin", "--comment", "self-service kiosk", USER])
            self.changed(f"user {USER} created (no login, home {STATE})")
        member_of = {g.gr_name for g in grp.getgrall() if USER in g.gr_mem}
        missing = [g for g in GROUPS if g not in member_of]
        if missing:
            command(["usermod", "--append", "--groups", ",".join(missing), USER])
            self.changed(f"user {USER} added to {', '.join(missing)}")
        else:
            self.ok(f"user {USER} in {', '.join(GROUPS)}")

    def directories(self) -> None:
        for path, owner, group, mode in ((ETC, "root", USER, 0o750), (STATE, USER, USER, 0o750),
                                         (STATE / "actions", USER, USER, 0o770), (OPT, "root", "root", 0o755)):
            self.ensure_directory(path, owner, group, mode)

    def product(self) -> None:
        source_files = dict(product_files(self.source))
        copied = sync_tree(source_files, OPT / "src")
        if copied:
            self.changed(f"product source in {OPT / 'src'} ({len(copied)} files updated)")
        else:
            self.ok(f"product source in {OPT / 'src'}")
        if not (VENV / "bin" / "python").exists():
            command([sys.executable, "-m", "venv", str(VENV)])
            self.changed(f"virtual environment {VENV}")
        stamp = VENV / ".kiosk-installed"
        fingerprint = self.fingerprint(source_files)
        if stamp.exists() and stamp.read_text() == fingerprint:
            self.ok(f"product installed in {VENV}")
        else:
            self.pip_install()
            stamp.write_text(fingerprint)
            self.changed(f"product installed in {VENV}")
        # The first release: kiosk.service runs `current`, the root side's guard runs from `committed`.
        # Once a release from central or a USB stick has switched them, they are the releases' to move.
        for link in (CURRENT, COMMITTED):
            if link.is_symlink():
                self.ok(f"{link} → {os.readlink(link)}")
            else:
                self.ensure_symlink(link, VENV)
        self.ensure_symlink(Path("/usr/local/bin/kiosk"), CURRENT / "bin" / "kiosk")

    def pip_install(self) -> None:
        """The product and its dependencies; offline from a wheelhouse when one is given (which then
        holds setuptools too, to build the product)."""
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-cache-dir",
               "--disable-pip-version-check"]
        if self.wheelhouse:
            pip += ["--no-index", "--find-links", str(self.wheelhouse)]
        src = OPT / "src"
        try:
            command([*pip, f"{src}[{EXTRAS}]"])
            command([*pip, "--force-reinstall", "--no-deps", str(src)])  # same version number, new code
        finally:  # the in-tree build's leftovers are not part of the source copy
            shutil.rmtree(src / "build", ignore_errors=True)
            for egg_info in src.glob("*.egg-info"):
                shutil.rmtree(egg_info)

    def fingerprint(self, source_files: dict[str, Path]) -> str:
        digest = hashlib.sha256(f"{sys.version_info[:3]} {EXTRAS}\n".encode())
        for relative, path in sorted(source_files.items()):
            digest.update(relative.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        if self.wheelhouse:
            for wheel in sorted(self.wheelhouse.iterdir()):
                digest.update(wheel.name.encode() + b"\n")
        return digest.hexdigest() + "\n"

    def system_files(self) -> None:
        for path, (text, mode) in FILES.items():
            self.ensure_file(path, text.encode(), mode)

    def units(self) -> None:
        for unit in UNITS:
            if self.ensure_file(SYSTEMD / unit, (self.source / "systemd" / unit).read_bytes(), 0o644):
                self.units_changed = True
        for unit in ENABLED:
            if systemctl_answer("is-enabled", unit) == "enabled":
                self.ok(f"{unit} enabled")
            else:
                command(["systemctl", "enable", unit])
                self.changed(f"{unit} enabled")

    def display(self) -> None:
        """No desktop and no login prompt on the booth's screen: the kiosk draws to KMS/DRM by itself."""
        if systemctl_answer("get-default") == "multi-user.target":
            self.ok("boots to multi-user.target (no desktop)")
        else:
            command(["systemctl", "set-default", "multi-user.target"])
            self.changed("boots to multi-user.target (no desktop)")
        if systemctl_answer("is-enabled", "getty@tty1.service") == "masked":
            self.ok("no login prompt on the screen (getty@tty1 masked)")
        else:
            command(["systemctl", "mask", "getty@tty1.service"])
            self.changed("no login prompt on the screen (getty@tty1 masked)")

    def raspberry_pi_boot(self) -> None:
        config_txt, cmdline_txt = BOOT / "config.txt", BOOT / "cmdline.txt"
        if not config_txt.is_file() or not cmdline_txt.is_file():
            self.skipped("Raspberry Pi boot settings (KMS overlay, hardware watchdog, quiet console)",
                         f"no {config_txt} here: not a Raspberry Pi's boot partition")
            return
        lines = config_txt.read_text().splitlines()
        missing = [line for line in CONFIG_TXT_LINES if line not in lines]
        if missing:
            text = "\n".join([*lines, "", "[all]", "# kiosk (provisioning/install.py)", *missing]) + "\n"
            self.ensure_file(config_txt, text.encode(), config_txt.stat().st_mode & 0o777)
        else:
            self.ok(f"{config_txt}: {', '.join(CONFIG_TXT_LINES)}")
        words = cmdline_txt.read_text().split()
        if all(word in words for word in CMDLINE_WORDS):
            self.ok(f"{cmdline_txt}: quiet console")
        else:
            line = " ".join([*words, *(w for w in CMDLINE_WORDS if w not in words)]) + "\n"
            self.ensure_file(cmdline_txt, line.encode(), cmdline_txt.stat().st_mode & 0o777)

    def start(self) -> None:
        if not Path("/run/systemd/system").is_dir():
            self.skipped("starting the kiosk", "systemd is not running here (a chroot or container); "
                         "the units start at the next boot")
            return
        if self.units_changed:
            command(["systemctl", "daemon-reload"])
        if not (ETC / "kiosk.toml").exists():
            self.skipped("starting the kiosk", f"no {ETC / 'kiosk.toml'} yet")
        elif self.changes or systemctl_answer("is-active", "kiosk.service") != "active":
            command(["systemctl", "restart", "kiosk.service", "kiosk-actions.path", "kiosk-update-check.timer"])
            self.changed("kiosk.service (re)started")
        else:
            self.ok("kiosk.service running")

    # -- idempotent primitives -------------------------------------------------------------------------
    def ensure_directory(self, path: Path, owner: str, group: str, mode: int) -> None:
        what = f"{path} ({owner}:{group} {mode:04o})"
        made = not path.is_dir()
        path.mkdir(parents=True, exist_ok=True)
        if set_owner_and_mode(path, owner, group, mode) or made:
            self.changed(what)
        else:
            self.ok(what)

    def ensure_file(self, path: Path, content: bytes, mode: int) -> bool:
        """Write `path` (root-owned) only when its content or mode differs; say which. True if changed."""
        if path.is_file() and path.read_bytes() == content:
            if set_owner_and_mode(path, "root", "root", mode):
                self.changed(f"{path} (mode {mode:04o})")
                return True
            self.ok(str(path))
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.kiosk-tmp")
        temporary.write_bytes(content)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
        self.changed(str(path))
        return True

    def ensure_symlink(self, link: Path, target: Path) -> None:
        if link.is_symlink() and Path(os.readlink(link)) == target:
            self.ok(f"{link} → {target}")
            return
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
        self.changed(f"{link} → {target}")


def product_files(source: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, file) of what the booth runs, without caches or build leftovers."""
    for item in SOURCE_ITEMS:
        path = source / item
        if not path.exists():
            raise InstallError(f"{path} is missing: run this from a checkout of the kiosk (or give --source)")
        for file in ([path] if path.is_file() else sorted(path.rglob("*"))):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                yield str(file.relative_to(source)), file


def sync_tree(files: dict[str, Path], destination: Path) -> list[str]:
    """Make `destination` hold exactly `files` (root-owned, world-readable); return what was updated."""
    updated = []
    for relative, source in sorted(files.items()):
        target = destination / relative
        content = source.read_bytes()
        if target.is_file() and target.read_bytes() == content:
            continue
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        target.write_bytes(content)
        os.chmod(target, 0o644)
        updated.append(relative)
    if destination.is_dir():
        for existing in sorted(destination.rglob("*"), reverse=True):
            relative = str(existing.relative_to(destination))
            if existing.is_file() and relative not in files:
                existing.unlink()
                updated.append(f"{relative} (removed)")
            elif existing.is_dir() and not any(existing.iterdir()):
                existing.rmdir()
    return updated


def set_owner_and_mode(path: Path, owner: str, group: str, mode: int) -> bool:
    """True if anything had to change."""
    uid, gid = pwd.getpwnam(owner).pw_uid, grp.getgrnam(group).gr_gid
    status = path.lstat()
    changed = False
    if (status.st_uid, status.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
        changed = True
    if status.st_mode & 0o7777 != mode:
        os.chmod(path, mode)
        changed = True
    return changed


def installed(package: str) -> bool:
    answer = subprocess.run(["dpkg-query", "--show", "--showformat=${db:Status-Abbrev}", package],
                            capture_output=True, text=True)
    return answer.returncode == 0 and answer.stdout.startswith("ii")


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def systemctl_answer(*args: str) -> str:
    """systemctl's one-word answer (works without a running systemd for is-enabled and get-default)."""
    return subprocess.run(["systemctl", *args], capture_output=True, text=True).stdout.strip()


def command(argv: Sequence[str], env: dict[str, str] | None = None) -> None:
    done = subprocess.run(list(argv), capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        raise InstallError(f"`{' '.join(argv)}` failed (exit {done.returncode}):\n{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Turn this Raspberry Pi OS / Debian 12 machine into a booth "
                                     "(safe to run again: it changes only what differs).")
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the kiosk checkout to install (default: the one this script is in)")
    parser.add_argument("--wheelhouse", type=Path,
                        help="install Python packages offline from this directory of wheels (no PyPI)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("install: run as root (sudo provisioning/install.sh)", file=sys.stderr)
        return 2
    if not Path("/etc/debian_version").exists() or sys.version_info < (3, 11):
        print("install: needs Raspberry Pi OS Bookworm or Debian 12 (Python 3.11 or newer)", file=sys.stderr)
        return 2
    if args.wheelhouse and not args.wheelhouse.is_dir():
        print(f"install: --wheelhouse {args.wheelhouse} is not a directory", file=sys.stderr)
        return 2
    try:
        return Installer(args.source.resolve(), args.wheelhouse).run()
    except InstallError as exc:
        print(f"install: {exc}\nNothing done so far is undone; fix the cause and run it again.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
