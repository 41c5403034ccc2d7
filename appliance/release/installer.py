"""The root side's install: verify a release itself, admit it, put its wheels in the store, build its
environment offline beside the running one, and switch to it on trial.

It takes a bundle (a maintainer's USB stick: `kiosk update install`) or a staging directory the
unprivileged kiosk filled from central (appliance/release/fetch.py). Either way it trusts nothing the
kiosk wrote: the manifest's signature is checked with the release key in /etc/kiosk, every wheel
against the manifest's sha256 *after* it was copied into root's store, and staged files are opened
without following links. Nothing changes until everything is in place: a release that is refused,
does not fit or fails to build leaves the booth exactly as it was.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.contract import UpdateState
from appliance.errors import CodedError
from appliance.release.build import BOOTH_EXTRAS, sequence_of
from appliance.release.bundle import (
    MANIFEST,
    SIGNATURE,
    BundleRejected,
    Manifest,
    open_bundle,
    read_manifest,
    sha256_of,
    verify_bundle,
    verify_manifest,
)
from appliance.release.layout import COMPLETE, MANIFEST_COPY, ReleaseLayout, Trial, write_atomically

INSTALLED_SIZE_FACTOR = 3  # an environment takes about this many times its wheels' bytes once unpacked
SPARE_BYTES = 64 * 1024 * 1024  # left free on top: the outbox and the journal share the card
MAX_STAGED_MANIFEST = 1024 * 1024
BUILD_TIMEOUT_S = 1800  # pip on a Pi 4 from local wheels takes a few minutes; a hung build must end

PLATFORMS = {"aarch64": "aarch64", "arm64": "aarch64", "x86_64": "x86_64", "amd64": "x86_64"}


class InstallRefused(CodedError):
    """A release this booth will not install; `code` says why (older, upgrade_path, platform, on_trial,
    no_space, build_failed, or a `BundleRejected` code)."""


class ReleaseInstaller:
    def __init__(self, layout: ReleaseLayout, public_key: Ed25519PublicKey, *, commit_window_s: float,
                 base_python: Path | None = None, machine: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`base_python`: the interpreter new environments are made with (default: the one under the
        running environment, the system's). `commit_window_s`: see `ReleaseLayout`'s trial."""
        self._layout = layout
        self._key = public_key
        self._window = commit_window_s
        self._python = base_python or Path(sys.base_prefix) / "bin" / "python{}.{}".format(*sys.version_info[:2])
        self._machine = PLATFORMS.get(machine or platform.machine(), machine or platform.machine())
        self._clock = clock

    # -- the two sources ------------------------------------------------------------------------------
    def install_bundle(self, bundle: Path) -> Manifest:
        """Verify the whole bundle, take the wheels the store lacks from it, build, switch (on trial)."""
        try:
            manifest = verify_bundle(bundle, self._key)
            manifest_bytes, signature = read_manifest(bundle)
        except BundleRejected as exc:
            raise self._refused(exc.code, str(exc), None) from None
        self._admit(manifest)
        with open_bundle(bundle) as tar:
            for name in self._missing(manifest):
                member = tar.getmember(name)
                source = tar.extractfile(member)
                assert source is not None
                self._store(manifest, name, source)
        return self._build_and_switch(manifest, manifest_bytes, signature or b"")

    def install_staged(self, staged: Path) -> Manifest:
        """The same from a staging directory the kiosk filled: `manifest.json`, `manifest.sig` and
        `wheels/` holding at least every wheel the store lacks."""
        try:
            manifest_bytes = read_no_follow(staged / MANIFEST, MAX_STAGED_MANIFEST)
            signature = read_no_follow(staged / SIGNATURE, 4096)
        except OSError as exc:
            raise self._refused("incomplete", f"staged release in {staged} is unreadable: {exc}", None) from None
        try:
            manifest = verify_manifest(manifest_bytes, signature, self._key, f"staged release in {staged}")
        except BundleRejected as exc:
            raise self._refused(exc.code, str(exc), None) from None
        self._admit(manifest)
        for name in self._missing(manifest):
            try:
                descriptor = os.open(staged / name, os.O_RDONLY | os.O_NOFOLLOW)
            except OSError as exc:
                raise self._refused("incomplete", f"{name} is neither staged nor in the store ({exc.strerror})",
                                    manifest.version) from None
            with os.fdopen(descriptor, "rb") as source:
                self._store(manifest, name, source)
        return self._build_and_switch(manifest, manifest_bytes, signature)

    # -- steps ----------------------------------------------------------------------------------------
    def _admit(self, manifest: Manifest) -> None:
        """Refuse what must not replace the running release, before anything is written."""
        record = self._layout.read_record()
        running = self._layout.version_of(self._layout.target(self._layout.current))
        highest = max(record.highest_sequence, sequence_of(running) if running else 0)
        if record.trial is not None:
            raise self._refused("on_trial", f"release {record.trial.version} is still on trial; wait for it to "
                                            "commit or roll back", manifest.version)
        if manifest.sequence <= highest:
            raise self._refused("older", f"release {manifest.version} (sequence {manifest.sequence}) is not newer "
                                         f"than the highest this booth has installed ({highest}): nothing is "
                                         "installed backwards", manifest.version)
        if running and sequence_of(running) < sequence_of(manifest.min_upgrade_from):
            raise self._refused("upgrade_path", f"release {manifest.version} upgrades only from "
                                                f"{manifest.min_upgrade_from}; this booth runs {running}",
                                manifest.version)
        if manifest.platform != self._machine:
            raise self._refused("platform", f"release {manifest.version} is for {manifest.platform}; this booth is "
                                            f"{self._machine}", manifest.version)
        missing = sum(int(manifest.files[name]["bytes"]) for name in self._missing(manifest))
        needed = missing + INSTALLED_SIZE_FACTOR * manifest.total_bytes + SPARE_BYTES
        self._layout.root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self._layout.root).free
        if needed > free:
            raise self._refused("no_space", f"release {manifest.version} needs {needed / 2**20:.0f} MiB and "
                                            f"{free / 2**20:.0f} MiB are free", manifest.version)

    def _missing(self, manifest: Manifest) -> list[str]:
        """The manifest's files whose exact bytes (by sha256) the store does not hold."""
        have, store = self._layout.wheel_hashes(), self._layout.wheels
        return [name for name, entry in sorted(manifest.files.items())
                if have.get(Path(name).name) != entry["sha256"] or not (store / Path(name).name).is_file()]

    def _store(self, manifest: Manifest, name: str, source: IO[bytes]) -> None:
        """Copy one wheel into root's store and check it there (a staged file could change while read)."""
        wheels = self._layout.wheels
        wheels.mkdir(parents=True, exist_ok=True)
        target = wheels / Path(name).name
        partial = wheels / f".{target.name}.part"
        with open(partial, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        entry = manifest.files[name]
        with open(partial, "rb") as copied:
            digest = sha256_of(copied)
        if digest != entry["sha256"] or partial.stat().st_size != entry["bytes"]:
            partial.unlink()
            raise self._refused("hash_mismatch", f"{name} is not the file the manifest signed", manifest.version)
        os.replace(partial, target)
        index = self._layout.wheel_hashes()
        index[target.name] = digest
        write_atomically(self._layout.wheel_index, _json(index))

    def _build_and_switch(self, manifest: Manifest, manifest_bytes: bytes, signature: bytes) -> Manifest:
        release = self._layout.release_dir(manifest.version)
        if not self._layout.is_complete(release):
            self._build(manifest, release, manifest_bytes, signature)
        record = self._layout.read_record()
        now = self._clock()
        trial = Trial(manifest.version, manifest.sequence, now, now + 2 * self._window)
        # The record first, then the switch: a power cut between them leaves a trial whose release is
        # not current yet, which the guard's start finishes (appliance/release/guard.py).
        self._layout.write_record(record.with_outcome(UpdateState.INSTALLING, manifest.version,
                                                      highest_sequence=manifest.sequence, trial=trial))
        self._layout.point(self._layout.current, release)
        return manifest

    def _build(self, manifest: Manifest, release: Path, manifest_bytes: bytes, signature: bytes) -> None:
        """A new environment from exactly the manifest's wheels, offline; `.complete` last."""
        shutil.rmtree(release, ignore_errors=True)
        release.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._layout.root, prefix=".wheels-") as links:
            for name in manifest.files:
                os.link(self._layout.wheels / Path(name).name, Path(links) / Path(name).name)
            product = Path(links) / Path(manifest.product).name
            # The running release's pip installs into the new environment (ensurepip is the slow half of
            # a build); releases carry pip's wheel (appliance/release/build.py), so each one has it.
            if importlib.util.find_spec("pip") is not None:
                steps = [[str(self._python), "-m", "venv", "--without-pip", str(release)],
                         [sys.executable, "-m", "pip", "--python", str(release / "bin" / "python"), "install"]]
            else:
                steps = [[str(self._python), "-m", "venv", str(release)],
                         [str(release / "bin" / "python"), "-m", "pip", "install"]]
            steps[1] += ["--quiet", "--no-index", "--no-cache-dir", "--disable-pip-version-check",
                         "--find-links", links, f"{product}[{BOOTH_EXTRAS}]"]
            for step in steps:
                try:
                    done = subprocess.run(step, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    done = subprocess.CompletedProcess(step, -1, "", f"timed out after {BUILD_TIMEOUT_S} s")
                if done.returncode != 0:
                    shutil.rmtree(release, ignore_errors=True)
                    tail = " / ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
                    raise self._refused("build_failed", f"release {manifest.version}: `{' '.join(step[:5])} …` "
                                                        f"failed: {tail}", manifest.version)
        write_atomically(release / MANIFEST_COPY, manifest_bytes)
        write_atomically(release / SIGNATURE, signature)
        write_atomically(release / COMPLETE, b"")

    def _refused(self, code: str, message: str, version: str | None) -> InstallRefused:
        """Record the refusal (the heartbeat tells central) and return the error to raise."""
        if version is not None:
            record = self._layout.read_record()
            self._layout.write_record(record.with_outcome(UpdateState.REFUSED, version, message))
        return InstallRefused(code, message)


def read_no_follow(path: Path, limit: int) -> bytes:
    """A small file the kiosk user wrote, read without following a link it may have put there."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as source:
        data = source.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path.name} is over {limit} bytes")
    return data


def _json(index: dict[str, str]) -> bytes:
    return json.dumps(dict(sorted(index.items())), indent=1).encode() + b"\n"
