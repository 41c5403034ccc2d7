"""`kiosk release build`: a booth's software as one bundle — the product's wheel, built from this
checkout with the release's version stamped in, and every dependency's wheel for the booth's platform
(CPython 3.11 as on Raspberry Pi OS Bookworm; aarch64 by default), fetched from the package index.

pip judges environment markers on the build host, not the target, so what the target alone needs
(`lgpio` on a Pi) is asked for by name."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from appliance.release.bundle import Manifest, file_entry, write_bundle

ROOT = Path(__file__).resolve().parents[2]
BOOTH_EXTRAS = "kiosk,screens"  # a booth's software: no central, no test tools
PYTHON = "cp311"
GLIBC_MINORS = range(17, 37)  # Bookworm's glibc is 2.36: any manylinux wheel up to it runs there
PLATFORM_TAGS = {arch: (f"manylinux2014_{arch}", *(f"manylinux_2_{minor}_{arch}" for minor in GLIBC_MINORS))
                 for arch in ("aarch64", "x86_64")}
TARGET_ONLY = {"aarch64": ("lgpio>=0.2.2",), "x86_64": ()}
INSTALLER = ("pip>=23",)  # each release's pip builds the next release's environment (release/installer.py)
VERSION = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
SOURCE_SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".hypothesis",
                                     "tests", "bench", "docs", "node_modules", ".pytest_cache")


class BuildError(Exception):
    """A bundle could not be built; the message says what to fix."""


def sequence_of(version: str) -> int:
    """Releases are ordered by their version (X.Y.Z), inside the signed manifest: a booth never installs a
    lower one; going back means building the old code as a new, higher version."""
    match = VERSION.fullmatch(version)
    if match is None:
        raise BuildError(f"release version {version!r} must be X.Y.Z (numbers of up to 3 digits)")
    major, minor, patch = (int(part) for part in match.groups())
    return major * 1_000_000 + minor * 1_000 + patch


def build_release(version: str, platform: str, out_dir: Path, min_upgrade_from: str = "0.0.0",
                  source: Path = ROOT) -> Path:
    sequence = sequence_of(version)
    sequence_of(min_upgrade_from)
    if platform not in PLATFORM_TAGS:
        raise BuildError(f"platform {platform!r}: choose one of {', '.join(PLATFORM_TAGS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kiosk-release-") as work:
        work_dir = Path(work)
        product = _product_wheel(version, source, work_dir)
        wheels = work_dir / "wheels"
        platforms = [arg for tag in PLATFORM_TAGS[platform] for arg in ("--platform", tag)]
        _pip("download", f"{product}[{BOOTH_EXTRAS}]", *TARGET_ONLY[platform], *INSTALLER, "--only-binary=:all:",
             "--python-version", "3.11", "--implementation", "cp", "--abi", PYTHON, *platforms, "-d", str(wheels))
        files = {f"wheels/{path.name}": path for path in sorted(wheels.glob("*.whl"))}
        manifest = Manifest(version, sequence, min_upgrade_from, platform, PYTHON, f"wheels/{product.name}",
                            {name: file_entry(path) for name, path in files.items()})
        bundle = out_dir / f"kiosk-{version}-{platform}.bundle"
        write_bundle(bundle, manifest, files)
    return bundle


def _product_wheel(version: str, source: Path, work_dir: Path) -> Path:
    """The product's wheel from a copy of the checkout with `version` in its pyproject."""
    tree = work_dir / "source"
    shutil.copytree(source, tree, ignore=SOURCE_SKIP)
    pyproject = tree / "pyproject.toml"
    text, stamped = re.subn(r'(?m)^version = "[^"]*"$', f'version = "{version}"', pyproject.read_text())
    if stamped != 1:
        raise BuildError(f"{source / 'pyproject.toml'} has no single `version = \"…\"` line to stamp")
    pyproject.write_text(text)
    _pip("wheel", str(tree), "--no-deps", "-w", str(work_dir / "product"))
    found = sorted((work_dir / "product").glob("kiosk_appliance-*.whl"))
    if len(found) != 1:
        raise BuildError("pip wheel made no product wheel")
    return found[0]


def _pip(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise BuildError(f"pip {args[0]} failed: {' / '.join(tail)}")
