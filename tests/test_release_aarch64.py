"""The Pi for real (issue 17, point 8): a signed aarch64 release bundle installed for, and run by, Debian
bookworm's own arm64 CPython 3.11 under qemu-user (`qemu-aarch64-static -cpu cortex-a72`, a Raspberry Pi 4's
core) — no Pi, nothing registered in the host kernel (no binfmt_misc), the host's apt left as it is.

The arm64 Python comes from `debootstrap --foreign` (its first stage only downloads and unpacks; nothing of
arm64 is run), its remaining packages unpacked with `dpkg-deb -x`. pip, run by that arm64 Python, installs
the bundle's wheels with no index: it judges every environment marker on aarch64, so a dependency the
bundle lacks fails the install. Then, on aarch64 code: every module of `appliance` and `drivers` imports,
the compiled dependencies load and work (Ed25519 over the real bundle, pydantic-core on a KioskConfig,
lgpio, pyserial, PyYAML, rapidfuzz, Pillow), and `kiosk run --headless` with simulated hardware (its
simulators on host pseudo-terminals: qemu-user shares the host's kernel and network) reaches a real
Mosquitto on loopback, runs a remote print-test, reports running through `kiosk status`, and stops cleanly
on SIGTERM.

What only a real Pi can show (GPIO on /dev/gpiochip*, KMS/DRM and Kivy's GL, the hardware watchdog, real
USB-serial adapters, speed) is in the README's releases section."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest
from PIL import Image

from appliance.config import ConfigError, parse_config
from appliance.monitor.status_file import describe
from appliance.release.build import BOOTH_EXTRAS
from appliance.release.bundle import Manifest, parse_manifest
from tests.support import Collector, Mosquitto, kiosk_config_data, wait_until, write_toml

REPO = Path(__file__).resolve().parent.parent
MIRROR = os.environ.get("KIOSK_DEBIAN_MIRROR", "http://deb.debian.org/debian")
QEMU = "qemu-aarch64-static"  # Debian's qemu-user-static; run by name, never through binfmt_misc
CPU = "cortex-a72"  # a Pi 4's core (ARMv8.0-A, as a Pi 3's A53): `max` would accept instructions a Pi lacks
ARM64_PYTHON = ("python3.11-minimal", "libpython3.11-stdlib")  # with what they depend on: ssl, ffi, sqlite
VERSION = "8.0.1"
DEVICE = "test-kiosk-0001"
EM_AARCH64 = 183  # the ELF header's e_machine for AArch64
COMPILED = ("pydantic_core._pydantic_core", "cryptography.hazmat.bindings._rust", "_lgpio", "_cffi_backend",
            "PIL._imaging", "yaml._yaml", "rapidfuzz.fuzz_cpp")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(tool) for tool in (QEMU, "debootstrap", "dpkg-deb")),
    reason="needs root with qemu-aarch64-static (qemu-user-static), debootstrap and dpkg-deb (.ci/run installs "
           "them; CI runs as root)")


@dataclass
class Pi:
    work: Path
    root: Path  # Debian bookworm arm64, unpacked: the folder qemu-user looks up every path in first (-L)
    site: Path  # the bundle installed by the arm64 pip (--target)
    bundle: Path
    public_key: Path
    foreign_key: Path
    manifest: Manifest
    verified: subprocess.CompletedProcess
    install: subprocess.CompletedProcess

    def python(self, *args: str | Path, log: Path | None = None, timeout: float = 600):
        """The arm64 python3.11 under qemu-user with the installed bundle on its path (the working directory
        is not the checkout, so nothing of it is imported); started in the background writing to `log` when
        one is given."""
        command = [QEMU, "-cpu", CPU, "-L", str(self.root), str(self.root / "usr/bin/python3.11"), *map(str, args)]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(self.work), "PYTHONPATH": str(self.site),
               "PIP_CONFIG_FILE": os.devnull}
        if log is not None:
            with open(log, "wb") as output:
                return subprocess.Popen(command, env=env, cwd=self.work, stdout=output, stderr=subprocess.STDOUT)
        return subprocess.run(command, env=env, cwd=self.work, capture_output=True, text=True, timeout=timeout)


def release(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "appliance.cli", "release", *map(str, args)], capture_output=True,
                          text=True, timeout=900)


def unpack_arm64_python(root: Path) -> None:
    """Debian's arm64 python3.11 into `root`: debootstrap's first stage unpacks the base system and
    downloads the rest, which dpkg-deb unpacks (no maintainer script runs: they would be arm64 code)."""
    for deb in sorted((root / "var/cache/apt/archives").glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, capture_output=True, timeout=120)
    # qemu-user's -L takes any path that exists in the folder over the host's: the device nodes debootstrap
    # made there would stand in for the host's /dev, and a ptmx node away from a devpts mount cannot open a
    # pseudo-terminal (ENODEV). Without them, /dev is the host's.
    shutil.rmtree(root / "dev")


@pytest.fixture(scope="module")
def pi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pi]:
    work = tmp_path_factory.mktemp("aarch64")
    root = work / "root"
    debootstrap_log = work / "debootstrap.log"
    with open(debootstrap_log, "wb") as output:
        debootstrap = subprocess.Popen(
            ["debootstrap", "--arch=arm64", "--foreign", "--variant=minbase", f"--include={','.join(ARM64_PYTHON)}",
             "bookworm", str(root), MIRROR], stdout=output, stderr=subprocess.STDOUT)
    try:  # the bundle is built (from PyPI) while debootstrap downloads
        built = release("build", "--version", VERSION, "--platform", "aarch64", "-o", work)
        assert built.returncode == 0, built.stderr
        bundle = work / f"kiosk-{VERSION}-aarch64.bundle"
        made = release("keygen", "--key", work / "release.pem")
        assert made.returncode == 0, made.stderr
        (work / "release.pub").write_text(made.stdout.strip().splitlines()[-1] + "\n")
        foreign = release("keygen", "--key", work / "foreign.pem")
        assert foreign.returncode == 0, foreign.stderr
        (work / "foreign.pub").write_text(foreign.stdout.strip().splitlines()[-1] + "\n")
        assert release("sign", bundle, "--key", work / "release.pem").returncode == 0
        verified = release("verify", bundle, "--public-key", work / "release.pub")
        debootstrap.wait(timeout=1200)
    finally:
        if debootstrap.poll() is None:
            debootstrap.kill()
            debootstrap.wait()
    assert debootstrap.returncode == 0, debootstrap_log.read_text(errors="replace")[-3000:]
    assert verified.returncode == 0, verified.stderr  # nothing is unpacked from a bundle that does not verify
    unpack_arm64_python(root)

    wheels = work / "wheels"
    wheels.mkdir()
    with tarfile.open(bundle) as tar:
        manifest = parse_manifest(tar.extractfile("manifest.json").read())
        for name in manifest.files:  # only what the signed manifest lists, each by its plain file name
            (wheels / Path(name).name).write_bytes(tar.extractfile(name).read())
    tools = work / "tools"  # the host venv's pip (pure Python), run by the arm64 interpreter
    shutil.copytree(Path(find_spec("pip").origin).parent, tools / "pip")
    site = work / "site"
    made_pi = Pi(work, root, site, bundle, work / "release.pub", work / "foreign.pub", manifest, verified,
                 subprocess.CompletedProcess([], 0))
    made_pi.install = made_pi.python(
        "-c", f"import sys; sys.path.insert(0, {str(tools)!r}); from pip._internal.cli.main import main; "
              "sys.exit(main())",
        "install", "--no-index", "--find-links", wheels, "--target", site, "--no-compile", "--no-cache-dir",
        "--disable-pip-version-check", "--root-user-action=ignore", f"kiosk-appliance[{BOOTH_EXTRAS}]=={VERSION}")
    yield made_pi
    shutil.rmtree(work, ignore_errors=True)


def _distribution(file_name: str) -> str:
    """A wheel's or a .dist-info's project name, normalised (PEP 503)."""
    return file_name.split("-")[0].lower().replace("_", "-").replace(".", "-")


def _elf_machine(path: Path) -> int | None:
    with open(path, "rb") as binary:
        header = binary.read(20)
    return int.from_bytes(header[18:20], "little") if header[:4] == b"\x7fELF" and header[4] == 2 else None


def test_the_signed_bundle_resolves_every_dependency_on_aarch64_with_cpython_311_wheels(pi: Pi) -> None:
    assert f"release {VERSION}" in pi.verified.stdout and "signature and" in pi.verified.stdout
    assert (pi.manifest.version, pi.manifest.platform, pi.manifest.python) == (VERSION, "aarch64", "cp311")
    wheels = [Path(name).name for name in pi.manifest.files]
    assert Path(pi.manifest.product).name == f"kiosk_appliance-{VERSION}-py3-none-any.whl"
    for wheel in wheels:
        python, abi, platform = wheel[:-4].split("-")[-3:]
        assert platform == "any" or ("aarch64" in platform and python == "cp311" and abi in ("cp311", "abi3")), wheel

    # pip on aarch64, with the bundle as its only index, found everything and used every wheel it was given
    assert pi.install.returncode == 0, pi.install.stdout[-3000:] + pi.install.stderr[-3000:]
    installed = {_distribution(p.name) for p in pi.site.glob("*.dist-info")}
    # pip's own wheel rides along so that each release can build the next (appliance/release/installer.py)
    assert installed == {_distribution(w) for w in wheels} - {"pip"}, "the bundle holds exactly what a Pi needs"
    assert "lgpio" in installed, "asked for by the aarch64 marker alone"

    shared = [p for p in pi.site.rglob("*.so*") if p.is_file()]
    assert len(shared) > 20 and {p: _elf_machine(p) for p in shared} == {p: EM_AARCH64 for p in shared}


PROBE = r"""
import importlib, json, pkgutil, platform, sys, sysconfig
from pathlib import Path

bundle, release_key, foreign_key, config_file = sys.argv[1:5]
found = {"machine": platform.machine(), "soabi": sysconfig.get_config_var("SOABI"), "python": sys.version}
import appliance, drivers
found["version"], found["appliance_file"] = appliance.__version__, appliance.__file__
found["modules"] = []
for package in (appliance, drivers):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        importlib.import_module(module.name)
        found["modules"].append(module.name)

from appliance.catalog.signing import load_public_key
from appliance.release.bundle import BundleRejected, verify_bundle
manifest = verify_bundle(Path(bundle), load_public_key(Path(release_key).read_text().strip()))
found["verified"] = [manifest.version, len(manifest.files)]
try:
    verify_bundle(Path(bundle), load_public_key(Path(foreign_key).read_text().strip()))
except BundleRejected as refused:
    found["foreign"] = refused.code

from appliance.config import ConfigError, parse_config
good, bad = json.loads(Path(config_file).read_text())
found["config"] = parse_config(good).model_dump_json()
try:
    parse_config(bad)
except ConfigError as refused:
    found["config_refused"] = str(refused)

import lgpio
from gpiozero.pins.lgpio import LGPIOFactory  # what gpiozero drives a Pi's pins with
try:
    lgpio.gpiochip_open(0)
except lgpio.error as refused:
    found["gpiochip"] = str(refused)

import serial
with serial.serial_for_url("loop://", timeout=1) as port:
    sent = "身份证 ok".encode()
    port.write(sent)
    found["serial"] = port.read(len(sent)).decode()

import yaml
found["yaml"] = yaml.load("a: [1, 二]", Loader=yaml.CSafeLoader)
from rapidfuzz import fuzz
found["rapidfuzz"] = fuzz.ratio("公积金提取", "公积金提起")
from PIL import Image, ImageDraw
image = Image.new("1", (64, 16), 1)
ImageDraw.Draw(image).rectangle((0, 0, 31, 15), fill=0)
found["pillow_black"] = image.histogram()[0]
import paho.mqtt.client as mqtt
found["paho"] = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="probe").is_connected()

found["compiled"] = {}
for name, module in sorted(sys.modules.items()):
    file = getattr(module, "__file__", None) or ""
    if file.endswith(".so"):
        with open(file, "rb") as binary:
            found["compiled"][name] = int.from_bytes(binary.read(20)[18:20], "little")
print(json.dumps(found, ensure_ascii=False))
"""


def _checkout_modules() -> list[str]:
    names = []
    for package in ("appliance", "drivers"):
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(set(names) - {"appliance", "drivers"})


def test_the_product_and_its_compiled_dependencies_import_and_work_on_aarch64(pi: Pi, tmp_path: Path) -> None:
    good = kiosk_config_data(tmp_path / "state", 1883)
    bad = kiosk_config_data(tmp_path / "state", 1883, hardware={"leds": {"green": 40}}, broker={"port": "one"})
    with pytest.raises(ConfigError) as on_host:
        parse_config(bad)
    (tmp_path / "configs.json").write_text(json.dumps([good, bad]))
    (tmp_path / "probe.py").write_text(PROBE)
    ran = pi.python(tmp_path / "probe.py", pi.bundle, pi.public_key, pi.foreign_key, tmp_path / "configs.json")
    assert ran.returncode == 0, ran.stderr[-3000:]
    found = json.loads(ran.stdout.strip().splitlines()[-1])

    assert found["machine"] == "aarch64" and found["soabi"] == "cpython-311-aarch64-linux-gnu", found["python"]
    assert found["version"] == VERSION and found["appliance_file"].startswith(str(pi.site)), "the bundle's product"
    assert sorted(found["modules"]) == _checkout_modules(), "every module of appliance and drivers imported"
    assert found["verified"] == [VERSION, len(pi.manifest.files)] and found["foreign"] == "bad_signature"
    assert found["config"] == parse_config(good).model_dump_json(), "pydantic-core reads a config as on the host"
    assert found["config_refused"] == str(on_host.value) and "40" in found["config_refused"]
    assert "gpiochip" in found["gpiochip"], "lgpio's C library answered (no /dev/gpiochip0 off a Pi)"
    assert found["serial"] == "身份证 ok"
    assert found["yaml"] == {"a": [1, "二"]} and found["rapidfuzz"] == 80.0 and found["pillow_black"] == 32 * 16
    assert found["paho"] is False
    assert set(COMPILED) <= set(found["compiled"]), found["compiled"]
    assert set(found["compiled"].values()) == {EM_AARCH64}, found["compiled"]


def test_the_headless_kiosk_runs_on_aarch64_against_a_real_broker_and_stops_cleanly(pi: Pi, tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    collector = Collector(broker)
    state = tmp_path / "state"
    config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(state, broker.port))
    log = tmp_path / "kiosk.log"
    kiosk = pi.python(pi.site / "bin" / "kiosk", "run", "--headless", "--config", config, log=log)
    try:
        def connected() -> dict | None:
            assert kiosk.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                snapshot = json.loads((state / "status.json").read_text())["snapshot"]
            except (FileNotFoundError, ValueError):
                return None
            return snapshot if snapshot["link"]["connected"] else None

        snapshot = wait_until(connected, timeout=300, interval=0.5)
        assert snapshot["software"] == VERSION and snapshot["mode"] == "online"
        assert {name: health["state"] for name, health in snapshot["drivers"].items()} == {
            "card_reader": "ok", "printer": "ok", "leds": "ok", "scanner": "ok"}, "simulators over pseudo-terminals"
        birth = collector.wait_for(lambda c: c.on(f"{DEVICE}/status"), timeout=60)[-1].json()
        assert birth["status"] == "online" and birth["software"] == VERSION

        # Under qemu on a loaded 2-core machine the whole process runs some ten times slower than on a Pi, the
        # simulated printer's thread included, and now and then a status byte misses the driver's half-second
        # (two full-suite runs at load 5 and 12 saw print_failed; alone it passes): a print that fails for that
        # is asked again, twice at most.
        results = []
        for attempt in range(3):
            collector.client.publish(f"kiosk/v1/{DEVICE}/cmd/print-test", json.dumps({"id": f"arm-{attempt}"}), qos=1)
            results.append(collector.wait_for(lambda c, n=attempt: [m for m in c.on("/cmd-result")
                                                                  if m.json()["id"] == f"arm-{n}"],
                                              timeout=120)[-1].json())
            if results[-1]["ok"] or results[-1].get("error", {}).get("code") != "print_failed":
                break
        assert results[-1]["ok"] and results[-1]["result"] == {"printed": True}, json.dumps(results)
        page = wait_until(lambda: next((state / "sim" / "receipts").glob("receipt-*.png"), None), timeout=30)
        with Image.open(page) as receipt:
            assert receipt.convert("L").getextrema()[0] < 64, "the test page has ink on it"

        shown = pi.python(pi.site / "bin" / "kiosk", "status", "--config", config)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert shown.stdout.splitlines()[0] == f"kiosk {DEVICE}: running, online"
        assert "  broker: connected" in shown.stdout and f"software {VERSION}" in shown.stdout

        kiosk.send_signal(signal.SIGTERM)
        assert kiosk.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
        goodbye = collector.wait_for(lambda c: [m.json() for m in c.on(f"{DEVICE}/status")
                                                if m.json()["status"] == "offline"], timeout=30)[-1]
    finally:
        if kiosk.poll() is None:
            kiosk.kill()
            kiosk.wait()
        collector.close()
        broker.stop()
    output = log.read_text(errors="replace")
    assert f"kiosk {DEVICE} stopped" in output and "Traceback" not in output
    assert goodbye["reason"] == "shutdown" and goodbye["boot"] == birth["boot"]
    alive, text = describe(state)
    assert not alive and "clean stop" in text
