"""Small real releases for the update tests: a wheel made here (a tiny package, `trialapp`, with a
version and a console script), a dependency wheel that stays the same across releases, and signed
bundles of them — the same bundle format, signature and installer as the product's 43 MiB bundles,
without downloading anything."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.release.build import sequence_of
from appliance.release.bundle import Manifest, file_entry, sign_bundle, write_bundle


def make_wheel(directory: Path, name: str, version: str, code: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel of package `name` whose `__init__.py` is `code`, with a `name` console script
    calling its `main`."""
    distribution = f"{name}-{version}"
    files = {
        f"{name}/__init__.py": code.encode(),
        f"{distribution}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)).encode(),
        f"{distribution}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                                           b"Tag: py3-none-any\n",
        f"{distribution}.dist-info/entry_points.txt": f"[console_scripts]\n{name} = {name}:main\n".encode(),
    }
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},"
              f"{len(data)}" for path, data in files.items()]
    record.append(f"{distribution}.dist-info/RECORD,,")
    files[f"{distribution}.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    path = directory / f"{distribution}-py3-none-any.whl"
    directory.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for member, data in files.items():  # fixed times: the same wheel is the same bytes in every release
            wheel.writestr(zipfile.ZipInfo(member, date_time=(2026, 1, 1, 0, 0, 0)), data)
    path.write_bytes(buffer.getvalue())
    return path


def release_bundle(directory: Path, version: str, key: Ed25519PrivateKey, platform: str, *,
                   code: str | None = None, min_upgrade_from: str = "0.0.0") -> Path:
    """A signed bundle of `trialapp` `version` (which needs `trialdep`, the same in every release)."""
    wheels = directory / f"wheels-{version}"
    product = make_wheel(wheels, "trialapp", version,
                         code or f'VERSION = "{version}"\n\n\ndef main():\n    print("trialapp", VERSION)\n',
                         requires=("trialdep",))
    dependency = make_wheel(wheels, "trialdep", "1.0.0", 'WHAT = "the same in every release"\n')
    files = {f"wheels/{wheel.name}": wheel for wheel in (product, dependency)}
    manifest = Manifest(version, sequence_of(version), min_upgrade_from, platform, "cp311",
                        f"wheels/{product.name}", {name: file_entry(path) for name, path in files.items()})
    bundle = directory / f"trialapp-{version}.bundle"
    write_bundle(bundle, manifest, files)
    sign_bundle(bundle, key)
    return bundle
