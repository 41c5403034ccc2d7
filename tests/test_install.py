"""provisioning/install.py in a freshly debootstrapped Debian 12 root, as a maintainer runs it on a new Pi:
the booth's user, groups, packages, directories, product, units and display set up; a second run
reports and changes nothing (every file's mode, owner, size and mtime compared); then the booth is
provisioned with its certificate and started as the kiosk user, tells systemd it is ready and reaches
the production broker over TLS.

Not done here, because they need a Raspberry Pi: the boot partition's settings (the install says it
skipped them and why), drawing to a real KMS/DRM display, and a booted systemd (the units are checked
with `systemd-analyze verify` inside the root and their enable links are inspected instead)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from provisioning.install import GROUPS
from tests.support import Mosquitto, SystemdSocket, make_test_ca, wait_until

REPO = Path(__file__).resolve().parent.parent
MIRROR = os.environ.get("KIOSK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
NOT_COMPARED = {"proc", "dev", "sys", "run", "tmp", "mnt"}
DEVICE = "qd-sn-0100"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(tool) for tool in ("debootstrap", "unshare", "systemd-nspawn")),
    reason="needs root with debootstrap, unshare and systemd-nspawn (.ci/run installs them; CI runs as root)")


@dataclass
class Installed:
    root: Path
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess
    differences: list[str]


def in_root(root: Path, *argv: str, wheelhouse: Path | None = None, env: dict[str, str] | None = None,
            popen: bool = False, timeout: float = 900):
    """Run `argv` chrooted into `root`, with this checkout read-only at /mnt/source and `wheelhouse` at
    /mnt/wheelhouse, in a private mount namespace (the mounts go when the command ends)."""
    mounts = [f"mount --bind {REPO} $R/mnt/source", "mount -o remount,bind,ro $R/mnt/source",
              "mount -t proc proc $R/proc"]
    if wheelhouse:
        mounts.append(f"mount --bind {wheelhouse} $R/mnt/wheelhouse")
    for place in ("mnt/source", "mnt/wheelhouse"):
        (root / place).mkdir(parents=True, exist_ok=True)
    variables = [f"{k}={v}" for k, v in {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                          "LANG": "C.UTF-8", **(env or {})}.items()]
    script = " && ".join(mounts) + ' && exec chroot "$R" env -i "$@"'
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", f'R="$0"; {script}', str(root),
               *variables, *argv]
    if popen:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def snapshot(root: Path) -> dict[str, tuple[int, int, int, int, int]]:
    """Every path's mode, owner, group, size and mtime (the pseudo-filesystems and scratch places aside)."""
    seen = {}
    for directory, subdirectories, files in os.walk(root):
        if Path(directory) == root:
            subdirectories[:] = [d for d in subdirectories if d not in NOT_COMPARED]
        for name in subdirectories + files:
            path = os.path.join(directory, name)
            status = os.lstat(path)
            seen[os.path.relpath(path, root)] = (status.st_mode, status.st_uid, status.st_gid, status.st_size,
                                                 status.st_mtime_ns)
    return seen


def account_id(root: Path, database: str, name: str) -> int:
    """A user's (database "passwd") or group's ("group") numeric id inside `root`."""
    for line in (root / "etc" / database).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise AssertionError(f"no {name} in {root}/etc/{database}")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    work = tmp_path_factory.mktemp("install")
    root = work / "root"
    debootstrap = subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(root), MIRROR],
                                 capture_output=True, text=True, timeout=1200)
    assert debootstrap.returncode == 0, debootstrap.stdout[-2000:] + debootstrap.stderr[-2000:]
    wheelhouse = work / "wheelhouse"  # what a maintainer carries to a site without PyPI (see the README)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(wheelhouse),
                            f"{REPO}[kiosk,screens]", "setuptools>=68"], capture_output=True, text=True, timeout=1200)
    assert built.returncode == 0, built.stderr[-3000:]
    install = ("/mnt/source/provisioning/install.sh", "--source", "/mnt/source",
               "--wheelhouse", "/mnt/wheelhouse")
    first = in_root(root, *install, wheelhouse=wheelhouse)
    before = snapshot(root)
    second = in_root(root, *install, wheelhouse=wheelhouse)
    after = snapshot(root)
    differences = sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))
    yield Installed(root, first, second, differences)
    shutil.rmtree(work, ignore_errors=True)


def test_the_install_makes_a_booth_and_a_second_run_changes_nothing(installed: Installed) -> None:
    first, second, root = installed.first, installed.second, installed.root
    assert first.returncode == 0, first.stdout + first.stderr
    assert "python3 (to run the installer)" in first.stdout  # a minimal Debian has no Python; Pi OS has
    assert "changed  user kiosk created" in first.stdout and "changed  product installed" in first.stdout
    assert ("skipped  Raspberry Pi boot settings (KMS overlay, hardware watchdog, quiet console): no "
            "/boot/firmware/config.txt here: not a Raspberry Pi's boot partition") in first.stdout
    assert "skipped  starting the kiosk: systemd is not running here" in first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert "install: 0 changes" in second.stdout and "changed" not in second.stdout
    assert installed.differences == []  # not one file, mode, owner or mtime changed the second time

    assert {"kiosk", *GROUPS} <= set(in_root(root, "id", "-Gn", "kiosk").stdout.split())
    assert in_root(root, "getent", "passwd", "kiosk").stdout.strip().endswith(":/var/lib/kiosk:/usr/sbin/nologin")
    kiosk_uid, kiosk_gid = account_id(root, "passwd", "kiosk"), account_id(root, "group", "kiosk")
    for path, owner in (("etc/kiosk", (0, kiosk_gid, 0o750)), ("var/lib/kiosk", (kiosk_uid, kiosk_gid, 0o750)),
                        ("var/lib/kiosk/actions", (kiosk_uid, kiosk_gid, 0o770)), ("opt/kiosk", (0, 0, 0o755))):
        status = (root / path).stat()
        assert (status.st_uid, status.st_gid, status.st_mode & 0o7777) == owner, path
    for unit in ("kiosk.service", "kiosk-actions.service", "kiosk-actions.path", "kiosk-update@.service",
                 "kiosk-update-check.timer"):
        assert (root / "etc/systemd/system" / unit).read_bytes() == (REPO / "systemd" / unit).read_bytes()
    assert os.readlink(root / "opt/kiosk/current") == os.readlink(root / "opt/kiosk/committed") == "/opt/kiosk/.venv"
    assert (root / "etc/systemd/system/timers.target.wants/kiosk-update-check.timer").is_symlink()
    assert (root / "etc/systemd/system/multi-user.target.wants/kiosk.service").is_symlink()
    assert (root / "etc/systemd/system/multi-user.target.wants/kiosk-actions.path").is_symlink()
    assert os.readlink(root / "etc/systemd/system/default.target").endswith("/multi-user.target")
    assert os.readlink(root / "etc/systemd/system/getty@tty1.service") == "/dev/null"


def test_the_installed_units_verify_and_the_display_stack_is_complete(installed: Installed) -> None:
    root = installed.root
    verify = in_root(root, "systemd-analyze", "verify", "--man=no", "/etc/systemd/system/kiosk.service",
                     "/etc/systemd/system/kiosk-actions.service", "/etc/systemd/system/kiosk-actions.path",
                     "/etc/systemd/system/kiosk-update@commit.service", "/etc/systemd/system/kiosk-update-check.timer")
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr  # ExecStart= exists, user known
    libraries = in_root(root, "ldconfig", "-p").stdout
    for needed in ("libgbm.so.1", "libEGL.so.1", "libGLESv2.so.2", "libdrm.so.2", "libmtdev.so.1", "libudev.so.1"):
        assert needed in libraries, needed  # SDL2's KMS/DRM backend loads these at run time
    site = "/opt/kiosk/.venv/lib/python3.11/site-packages/kivy"
    for module in ("core/window/_window_sdl2", "core/text/_text_sdl2", "graphics/instructions"):
        linked = in_root(root, "sh", "-c", f"ldd {site}/{module}.cpython-311-*.so")
        assert linked.returncode == 0 and "not found" not in linked.stdout, linked.stdout
    window = in_root(root, "runuser", "-u", "kiosk", "--", "/opt/kiosk/.venv/bin/python", "-c",
                     "from kivy.core.window import window_sdl2; print('window provider ok')",
                     env={"KIVY_NO_ARGS": "1", "KIVY_HOME": "/tmp/kivy"})
    assert "window provider ok" in window.stdout, window.stdout + window.stderr


@dataclass
class Site:
    """The booth's sheet made real: a test CA, the production broker, and the provisioned root."""

    root: Path
    broker: Mosquitto
    init: subprocess.CompletedProcess


@pytest.fixture(scope="module")
def provisioned(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = installed.root
    sheet = root / "root" / "site"
    tls = make_test_ca(sheet, DEVICE)
    broker = Mosquitto(tmp_path_factory.mktemp("broker"), tls=tls, production=True).start()
    (sheet / "site.toml").write_text(
        f'device_id = "{DEVICE}"\nsite = "市南区政务服务中心 一楼大厅"\nregion = "370202"\n'
        f'broker_host = "127.0.0.1"\nbroker_port = {broker.port}\nca_file = "/etc/kiosk/ca.crt"\n'
        'admin_pin = "246810"\n', encoding="utf-8")
    shutil.copy(tls.ca, root / "etc/kiosk/ca.crt")
    init = in_root(root, "kiosk", "provision", "init", "--from", "/root/site/site.toml",
                   "--cert-file", "/root/site/device.crt", "--key-file", "/root/site/device.key")
    yield Site(root, broker, init)
    broker.stop()


def test_provisioning_leaves_files_the_service_can_read_and_not_change(provisioned: Site) -> None:
    root = provisioned.root
    assert provisioned.init.returncode == 0, provisioned.init.stdout + provisioned.init.stderr
    kiosk_gid = account_id(root, "group", "kiosk")
    for name, owner in (("kiosk.toml", (0, kiosk_gid, 0o640)), ("device.key", (0, kiosk_gid, 0o640)),
                        ("device.crt", (0, 0, 0o644))):
        status = (root / "etc/kiosk" / name).stat()
        assert (status.st_uid, status.st_gid, status.st_mode & 0o777) == owner, name
    checked = in_root(root, "runuser", "-u", "kiosk", "--", "kiosk", "config", "check")
    assert checked.returncode == 0 and f"config OK: device {DEVICE}" in checked.stdout, checked.stderr


def test_a_provisioned_booth_starts_as_the_kiosk_user_and_reaches_the_broker(provisioned: Site) -> None:
    root = provisioned.root
    notify = SystemdSocket(within=root / "run")
    os.chmod(notify.home, 0o755)
    os.chmod(notify.path, 0o777)  # systemd's own socket is writable by the service's user too
    booth = in_root(root, "runuser", "-u", "kiosk", "--", "kiosk", "run", "--headless", popen=True,
                    env={"NOTIFY_SOCKET": f"/run/{notify.home.name}/notify", "WATCHDOG_USEC": "30000000"})
    try:
        wait_until(lambda: "READY=1" in notify.lines(), timeout=60)
        wait_until(lambda: "broker: connected" in in_root(root, "kiosk", "status").stdout, timeout=30)
        said = in_root(root, "kiosk", "status")
        assert said.returncode == 0 and f"kiosk {DEVICE}: running" in said.stdout and ", TLS" in said.stdout
        assert json.loads((root / "var/lib/kiosk/status.json").read_text())["device"] == DEVICE
        assert (root / "var/lib/kiosk/status.json").stat().st_uid != 0  # written by the kiosk user
    finally:
        os.killpg(booth.pid, signal.SIGTERM)
        booth.wait(30)
        notify.close()


class BootedRoot:
    """The root booted with its own systemd as PID 1 (systemd-nspawn, the host's network), so the units
    run as on the Pi: sandbox, notify, watchdog, restarts, the path unit. Commands go in with nsenter."""

    def __init__(self, root: Path, log: Path) -> None:
        self.log = log.open("w")
        self.nspawn = subprocess.Popen(["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "-D", str(root),
                                        "--boot"], stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self.init_pid: int | None = None
        try:
            self.init_pid = wait_until(self._find_init, timeout=60, interval=0.5)
            wait_until(lambda: self.run("systemctl", "is-system-running").stdout.strip() in ("running", "degraded"),
                       timeout=120, interval=0.5)
        except BaseException:
            self._kill()
            raise

    def _find_init(self) -> int | None:
        """The container's PID 1: the first process named systemd below nspawn."""
        waiting = [self.nspawn.pid]
        while waiting:
            pid = waiting.pop(0)
            try:
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                name = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if pid != self.nspawn.pid and name == "systemd":
                return pid
            waiting += [int(child) for child in children]
        return None

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["nsenter", "--target", str(self.init_pid), "--all", "env", "-i",
                               "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", *argv],
                              capture_output=True, text=True, timeout=timeout)

    def show(self, unit: str, prop: str) -> str:
        return self.run("systemctl", "show", "--value", "-p", prop, unit).stdout.strip()

    def power_off(self) -> None:
        self.run("systemctl", "poweroff")
        try:
            self.nspawn.wait(60)
        except subprocess.TimeoutExpired:
            self._kill()  # closes the log too
        else:
            self.log.close()

    def _kill(self) -> None:
        """Killing the container's PID 1 ends every process in it; then nspawn itself."""
        if self.init_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.init_pid, signal.SIGKILL)
        self.nspawn.kill()
        self.nspawn.wait(30)
        self.log.close()


def test_booted_under_systemd_the_booth_is_ready_restarted_when_hung_and_restarted_on_request(
        provisioned: Site, tmp_path: Path) -> None:
    root = provisioned.root
    # The one change to the unit: the core without the screen (no KMS/DRM display in a container), and a
    # 6 s watchdog instead of 30 s so that a hang is seen quickly.
    drop_in = root / "etc/systemd/system/kiosk.service.d/test.conf"
    drop_in.parent.mkdir(exist_ok=True)
    drop_in.write_text("[Service]\nExecStart=\nExecStart=/opt/kiosk/current/bin/kiosk run --headless\nWatchdogSec=6\n")
    booted = BootedRoot(root, tmp_path / "console.log")
    try:
        wait_until(lambda: booted.show("kiosk.service", "ActiveState") == "active", timeout=60, interval=0.5)
        first = booted.show("kiosk.service", "MainPID")
        assert booted.run("stat", "-c", "%U", f"/proc/{first}").stdout.strip() == "kiosk"
        wait_until(lambda: "broker: connected" in booted.run("kiosk", "status").stdout, timeout=30, interval=0.5)
        assert booted.show("kiosk-actions.path", "ActiveState") == "active"

        booted.run("sh", "-c", f"kill -STOP {first}")  # the whole process hangs: no more watchdog pings
        wait_until(lambda: booted.show("kiosk.service", "NRestarts") == "1", timeout=90, interval=0.5)
        wait_until(lambda: booted.show("kiosk.service", "ActiveState") == "active", timeout=60, interval=0.5)
        second = booted.show("kiosk.service", "MainPID")
        assert second != first
        assert "Watchdog timeout" in booted.run("journalctl", "-u", "kiosk.service", "--no-pager").stdout

        asked = booted.run("runuser", "-u", "kiosk", "--", "/opt/kiosk/.venv/bin/python", "-c",
                           "from pathlib import Path; from appliance.root_actions import request_action; "
                           "request_action(Path('/var/lib/kiosk/actions'), 'test-1', 'restart-kiosk')")
        assert asked.returncode == 0, asked.stderr
        wait_until(lambda: booted.show("kiosk.service", "MainPID") not in (second, "0"), timeout=60, interval=0.5)
        wait_until(lambda: booted.show("kiosk.service", "ActiveState") == "active", timeout=60, interval=0.5)
        result = json.loads((root / "var/lib/kiosk/actions/test-1.result").read_text())
        assert result["action"] == "restart-kiosk" and result["ok"] is True, result
    finally:
        booted.power_off()
        drop_in.unlink()


@dataclass
class Releases:
    """Release bundles of this checkout for the booted root (x86_64, like the test machine), signed with a
    release key whose public half the root's /etc/kiosk holds, and the ways a bundle can be wrong."""

    good: Path  # 0.2.0
    crashing: Path  # 0.3.0: `kiosk run` dies at start (its core cannot be imported)
    flipped: Path  # 0.2.0 with one byte of its product wheel flipped after signing
    foreign: Path  # 0.2.0 signed with another key
    later: Path  # 0.5.0, for the power cut during its install


@pytest.fixture(scope="module")
def releases(provisioned: Site, tmp_path_factory: pytest.TempPathFactory) -> Releases:
    import io
    import tarfile

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from appliance.catalog.signing import write_new_key
    from appliance.release.build import SOURCE_SKIP, build_release
    from appliance.release.bundle import sign_bundle

    work = tmp_path_factory.mktemp("releases")
    public = write_new_key(work / "release.pem")
    (provisioned.root / "etc/kiosk/release.pub").write_text(public + "\n")
    key = load_key(work / "release.pem")
    broken = work / "broken-source"
    shutil.copytree(REPO, broken, ignore=SOURCE_SKIP)
    core = broken / "appliance" / "kiosk.py"
    broken_on_purpose = 'raise SystemExit("release 0.3.0 is broken on purpose: its core cannot start")\n'
    core.write_text(core.read_text() + broken_on_purpose)  # after the module's code: `from __future__` stays first
    built = {}
    for version, source in (("0.2.0", REPO), ("0.3.0", broken), ("0.5.0", REPO)):
        built[version] = build_release(version, "x86_64", work / version, source=source)
        sign_bundle(built[version], key)
    # Both wrong bundles are 0.2.0's: the signature and the hashes are judged before anything else.
    flipped = work / "flipped.bundle"
    with tarfile.open(built["0.2.0"]) as source, tarfile.open(flipped, "w") as out:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name.startswith("wheels/kiosk_appliance"):
                data = data[:1000] + bytes([data[1000] ^ 1]) + data[1001:]
            out.addfile(member, io.BytesIO(data))
    foreign = work / "foreign.bundle"
    shutil.copy(built["0.2.0"], foreign)
    sign_bundle(foreign, Ed25519PrivateKey.generate())
    bundles = provisioned.root / "root" / "bundles"
    bundles.mkdir(exist_ok=True)
    for path in (built["0.2.0"], built["0.3.0"], flipped, foreign, built["0.5.0"]):
        shutil.copy(path, bundles / path.name)
    return Releases(*(Path("/root/bundles") / p.name for p in (built["0.2.0"], built["0.3.0"], flipped, foreign,
                                                               built["0.5.0"])))


def load_key(path: Path):
    from appliance.catalog.signing import load_private_key

    return load_private_key(path.read_bytes())


def test_releases_install_commit_roll_back_by_themselves_and_refuse_what_is_not_signed(
        provisioned: Site, releases: Releases, tmp_path: Path) -> None:
    """v1 (the checkout's install) → v2 commits; v3, which cannot start, comes back to v2 by itself with the
    reason in `kiosk update status` and in the heartbeat, and the events queued under v2 are delivered
    after it; a flipped byte and a foreign key are refused with nothing changed; a power cut during an
    install boots into a working release."""
    from tests.support import Collector

    root, broker = provisioned.root, provisioned.broker
    config = root / "etc/kiosk/kiosk.toml"
    original_config = config.read_text()
    config.write_text(original_config + "\n[updates]\ncommit_window_s = 30\n")
    drop_in = root / "etc/systemd/system/kiosk.service.d/test.conf"
    drop_in.parent.mkdir(exist_ok=True)
    drop_in.write_text("[Service]\nExecStart=\nExecStart=/opt/kiosk/current/bin/kiosk run --headless\n")
    central = Collector(broker, topic=f"kiosk/v1/{DEVICE}/#", client_id="central-1",
                        cert=broker.tls.issue("central-1"))
    booted = BootedRoot(root, tmp_path / "console.log")

    def status() -> str:
        return booted.run("kiosk", "update", "status").stdout

    def running_release() -> str:
        pid = booted.show("kiosk.service", "MainPID")
        return booted.run("readlink", f"/proc/{pid}/exe").stdout.strip() if pid not in ("", "0") else ""

    try:
        wait_until(lambda: booted.show("kiosk.service", "ActiveState") == "active", timeout=60, interval=0.5)
        assert "committed: 0.1.0 (/opt/kiosk/.venv)" in status()

        # v1 → v2: installed beside it, on trial, committed after 30 s of health.
        installed = booted.run("kiosk", "update", "install", str(releases.good), timeout=900)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        wait_until(lambda: "trial:     0.2.0" in status(), timeout=30, interval=0.5)
        wait_until(lambda: "last:      committed 0.2.0" in status(), timeout=180, interval=1)
        said = status()
        assert "current:   0.2.0 (/opt/kiosk/releases/0.2.0)" in said and "committed: 0.2.0" in said, said
        assert "previous:  0.1.0 (/opt/kiosk/.venv)" in said, said
        assert running_release().startswith("/usr/bin/python3"), "the release's venv runs the system's Python"
        assert booted.run("sh", "-c", "tr '\\0' ' ' < /proc/$(systemctl show -p MainPID --value kiosk)/cmdline"
                          ).stdout.startswith("/opt/kiosk/releases/0.2.0/bin/python")

        # Events queued under v2 while it is stopped (as a power cut would leave them).
        booted.run("systemctl", "stop", "kiosk.service")
        queued = booted.run(
            "runuser", "-u", "kiosk", "--", "/opt/kiosk/current/bin/python", "-c",
            "from appliance.config import load_config\n"
            "from appliance.delivery.outbox import Outbox\n"
            "from appliance.state.sealing import Sealer, load_or_create_key\n"
            "from appliance.state.store import Store\n"
            "config = load_config(); where = config.storage.dir; store = Store(where / 'outbox.sqlite3')\n"
            "outbox = Outbox(store, Sealer(load_or_create_key(where / 'device.key')), config.outbox,\n"
            "                boot=int(store.meta_get('boot', '0')), clock_synced=lambda: True)\n"
            "for n in range(5): outbox.enqueue('rating', {'item': 'GA-001', 'level': 5, 'n': n})\n"
            "store.close()\n",
        )
        assert queued.returncode == 0, queued.stderr[-2000:]

        # v3 cannot start: three starts on trial, then the previous release by itself.
        installed = booted.run("kiosk", "update", "install", str(releases.crashing), timeout=900)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        wait_until(lambda: "last:      rolled_back 0.3.0" in status(), timeout=180, interval=1)
        said = status()
        assert "stopped 3 times during its trial (crashed or failed the watchdog)" in said, said
        assert "current:   0.2.0" in said and "trial:     none" in said, said
        wait_until(lambda: booted.show("kiosk.service", "ActiveState") == "active", timeout=60, interval=0.5)
        journal = booted.run("journalctl", "-u", "kiosk.service", "--no-pager", "-o", "cat").stdout.splitlines()
        told = [line for line in journal if "0.3.0" in line or "rolled back" in line]
        assert any("release 0.3.0 is broken on purpose" in line for line in told), told
        assert any("rolled back to 0.2.0" in line for line in told), told
        # Central hears why, in the booth's facts (its birth, and heartbeats that carry them); and gets what
        # was queued under v2.
        def told() -> list[dict]:
            return [body["update"] for m in central.on("/status") + central.on("/heartbeat")
                    if (body := json.loads(m.payload)).get("update", {}).get("state") == "rolled_back"]

        update = wait_until(told, timeout=60, interval=0.5)[-1]
        assert update["version"] == "0.3.0" and "stopped 3 times" in update["reason"], update
        wait_until(lambda: sum(1 for e in central.events("rating") if e["payload"].get("item") == "GA-001") >= 5,
                   timeout=60, interval=0.5)

        # Not what the key signed: refused, and nothing changes.
        listing = "ls -la --time-style=full-iso /opt/kiosk /opt/kiosk/releases; cat /opt/kiosk/wheels/index.json"
        before = booted.run("sh", "-c", listing).stdout
        for bundle, reason in ((releases.flipped, "refused (hash_mismatch)"),
                               (releases.foreign, "refused (bad_signature)")):
            refused = booted.run("kiosk", "update", "install", str(bundle))
            assert refused.returncode == 2 and reason in refused.stderr, refused.stdout + refused.stderr
        assert booted.run("sh", "-c", listing).stdout == before

        # A power cut in the middle of installing v5: the booth boots into a working release.
        cut = subprocess.Popen(["nsenter", "--target", str(booted.init_pid), "--all", "env", "-i",
                                "PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "kiosk", "update", "install",
                                str(releases.later)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: (root / "opt/kiosk/releases/0.5.0/bin").is_dir(), timeout=600, interval=0.2)
        booted._kill()  # the whole container at once, mid-build
        cut.wait(30)
    finally:
        booted.power_off()
    booted = BootedRoot(root, tmp_path / "console-after-cut.log")
    try:
        wait_until(lambda: booted.show("kiosk.service", "ActiveState") == "active", timeout=90, interval=0.5)
        wait_until(lambda: "broker: connected" in booted.run("kiosk", "status").stdout, timeout=60, interval=0.5)
        said = status()
        assert "current:   0.2.0" in said and "trial:     none" in said, said  # the half-built 0.5.0 never ran
        installed = booted.run("kiosk", "update", "install", str(releases.later), timeout=900)  # and when asked again
        assert installed.returncode == 0, installed.stdout + installed.stderr
        wait_until(lambda: "trial:     0.5.0" in status(), timeout=30, interval=0.5)
    finally:
        booted.power_off()
        central.close()
        drop_in.unlink()
        config.write_text(original_config)
