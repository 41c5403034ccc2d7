"""Release bundles (issue 17): built for a Pi (every dependency a CPython 3.11 aarch64 or pure wheel, the
product's version stamped), signed into the bundle itself, and verified: the signature and every hash
hold (exit 0), and a flipped byte, a foreign key, no signature, a file slipped in or one taken out are
each refused with the reason (exit 2)."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from appliance.release.build import sequence_of

KIOSK = [sys.executable, "-m", "appliance.cli", "release"]


def kiosk(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([*KIOSK, *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(a signed aarch64 bundle of release 1.2.3, the release key's public half in a file, a foreign key)"""
    work = tmp_path_factory.mktemp("release")
    built = kiosk("build", "--version", "1.2.3", "--min-upgrade-from", "1.0.0", "-o", work)
    assert built.returncode == 0, built.stderr
    bundle = work / "kiosk-1.2.3-aarch64.bundle"
    made = kiosk("keygen", "--key", work / "release.pem")
    assert made.returncode == 0 and (work / "release.pem").stat().st_mode & 0o777 == 0o600
    (work / "release.pub").write_text(made.stdout.strip().splitlines()[-1] + "\n")
    assert kiosk("keygen", "--key", work / "foreign.pem").returncode == 0
    assert kiosk("verify", bundle, "--public-key", work / "release.pub").returncode == 2, "not signed yet"
    assert kiosk("sign", bundle, "--key", work / "release.pem").returncode == 0
    return bundle, work / "release.pub", work / "foreign.pem"


def test_a_pi_bundle_holds_every_dependency_for_cpython_311_on_aarch64(signed) -> None:
    bundle, public, _ = signed
    with tarfile.open(bundle) as tar:
        names = [m.name for m in tar.getmembers()]
    wheels = [Path(n).name for n in names if n.startswith("wheels/")]
    assert names[:2] == ["manifest.json", "manifest.sig"]
    assert "kiosk_appliance-1.2.3-py3-none-any.whl" in wheels, "the release's version is stamped on the product"
    for required in ("Kivy-", "pydantic_core-", "cryptography-", "lgpio-", "paho_mqtt-", "gpiozero-", "pyserial-"):
        assert any(w.startswith(required) for w in wheels), f"{required} missing from {wheels}"
    for wheel in wheels:
        python, abi, platform = wheel[:-4].split("-")[-3:]
        assert platform == "any" or ("aarch64" in platform and python == "cp311" and abi in ("cp311", "abi3")), wheel
    assert not any(w.startswith(("SQLAlchemy", "fastapi", "pytest", "playwright")) for w in wheels), "a booth only"
    checked = kiosk("verify", bundle, "--public-key", public.read_text().strip())
    assert checked.returncode == 0, checked.stderr
    assert f"sequence {sequence_of('1.2.3')}" in checked.stdout and "upgrades from 1.0.0" in checked.stdout


def _copy_with(bundle: Path, target: Path, change) -> Path:
    """The signed bundle rewritten member by member, `change(name, data)` deciding each (None drops it)."""
    with tarfile.open(bundle) as source, tarfile.open(target, "w") as out:
        for member in source.getmembers():
            data = change(member.name, source.extractfile(member).read())
            if data is not None:
                info = tarfile.TarInfo(member.name)
                info.size = len(data)
                out.addfile(info, io.BytesIO(data))
    return target


def test_anything_changed_after_signing_is_refused_with_the_reason(signed, tmp_path) -> None:
    bundle, public, foreign = signed
    with tarfile.open(bundle) as tar:
        product = next(n for n in tar.getnames() if n.startswith("wheels/kiosk_appliance"))

    def flip(name: str, data: bytes) -> bytes:
        return data[:100] + bytes([data[100] ^ 1]) + data[101:] if name == product else data

    cases = {
        "flipped": (_copy_with(bundle, tmp_path / "flipped.bundle", flip), "is not the file the manifest signed"),
        "dropped": (_copy_with(bundle, tmp_path / "dropped.bundle", lambda n, d: None if n == product else d),
                    "listed but not in the bundle"),
        "unsigned": (_copy_with(bundle, tmp_path / "unsigned.bundle", lambda n, d: None if n == "manifest.sig" else d),
                     "carries no signature"),
    }
    slipped = _copy_with(bundle, tmp_path / "slipped.bundle", lambda n, d: d)
    with tarfile.open(slipped, "a") as tar:
        info = tarfile.TarInfo("wheels/evil-1.0-py3-none-any.whl")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    cases["slipped"] = (slipped, "is not in the signed manifest")
    resigned = _copy_with(bundle, tmp_path / "foreign.bundle", lambda n, d: d)
    assert kiosk("sign", resigned, "--key", foreign).returncode == 0
    cases["foreign"] = (resigned, "does not match the release key")
    for name, (path, reason) in cases.items():
        refused = kiosk("verify", path, "--public-key", public)
        assert refused.returncode == 2 and reason in refused.stderr, (name, refused.stderr)
        assert "Traceback" not in refused.stderr
    assert kiosk("verify", bundle, "--public-key", public).returncode == 0, "the original still holds"
    assert kiosk("verify", "/etc/hostname", "--public-key", public).returncode == 2
    assert kiosk("build", "--version", "1.2", "-o", tmp_path).returncode == 2, "X.Y.Z only: it orders releases"
