"""The release bundle: one uncompressed tar (wheels are compressed already) holding `manifest.json`, the
wheels it lists under `wheels/`, and, once signed, `manifest.sig`.

The manifest names every file with its sha256 and size, so the Ed25519 signature over the manifest's
exact bytes covers the whole bundle; verifying checks the signature, then each file against its hash,
and refuses anything the manifest does not list. A booth keeps wheels by hash, so a new release moves
only the wheels it lacks (usually the product's own). The release key is not the catalogue's key.

    {"format": "kiosk-release/1", "version": "1.4.0", "sequence": 14, "min_upgrade_from": "1.2.0",
     "platform": "aarch64", "python": "cp311", "product": "wheels/kiosk_appliance-….whl",
     "files": {"wheels/….whl": {"sha256": "…", "bytes": 123}, …}}
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.errors import CodedError

FORMAT = "kiosk-release/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
MAX_MANIFEST_BYTES = 1024 * 1024
WHEEL_NAME = re.compile(r"^wheels/[A-Za-z0-9_.+-]+\.whl$")
PLATFORMS = ("aarch64", "x86_64")


class BundleRejected(CodedError):
    """A bundle that must not be installed; `code` says why (unreadable, unsigned, bad_signature,
    hash_mismatch, missing_file, unlisted_file, bad_manifest)."""


@dataclass(frozen=True)
class Manifest:
    version: str
    sequence: int
    min_upgrade_from: str
    platform: str
    python: str
    product: str
    files: dict[str, dict[str, int | str]]

    def to_bytes(self) -> bytes:
        body = {"format": FORMAT, "version": self.version, "sequence": self.sequence,
                "min_upgrade_from": self.min_upgrade_from, "platform": self.platform, "python": self.python,
                "product": self.product, "files": dict(sorted(self.files.items()))}
        return json.dumps(body, indent=1, ensure_ascii=False).encode() + b"\n"

    @property
    def total_bytes(self) -> int:
        return sum(int(entry["bytes"]) for entry in self.files.values())


def file_entry(path: Path) -> dict[str, int | str]:
    with open(path, "rb") as source:
        return {"sha256": sha256_of(source), "bytes": path.stat().st_size}


def sha256_of(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def write_bundle(path: Path, manifest: Manifest, files: dict[str, Path]) -> None:
    """Write an unsigned bundle: the manifest first (a reader needs nothing else to judge it), then the
    files it lists, atomically in place."""
    if set(files) != set(manifest.files):
        raise ValueError("the files given and the manifest's list differ")
    staged = path.with_name(path.name + ".part")
    with tarfile.open(staged, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, MANIFEST, manifest.to_bytes())
        for name in sorted(files):
            tar.add(files[name], arcname=name, recursive=False)
    os.replace(staged, path)


def sign_bundle(path: Path, key: Ed25519PrivateKey) -> Manifest:
    """Put the signature over the manifest into the bundle itself (the bundle is rewritten atomically)."""
    manifest_bytes, _ = read_manifest(path)
    manifest = parse_manifest(manifest_bytes)
    staged = path.with_name(path.name + ".part")
    with tarfile.open(path, "r") as source, tarfile.open(staged, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, MANIFEST, manifest_bytes)
        _add_bytes(tar, SIGNATURE, base64.b64encode(key.sign(manifest_bytes)) + b"\n")
        for member in source.getmembers():
            if member.name in manifest.files:
                tar.addfile(member, source.extractfile(member))
    os.replace(staged, path)
    return manifest


def verify_bundle(path: Path, public_key: Ed25519PublicKey) -> Manifest:
    """The manifest of a bundle whose signature and every hash hold; `BundleRejected` with the reason
    otherwise. Nothing is extracted."""
    manifest_bytes, signature = read_manifest(path)
    manifest = verify_manifest(manifest_bytes, signature, public_key, path.name)
    seen: set[str] = set()
    with open_bundle(path) as tar:
        for member in tar.getmembers():
            if member.name in (MANIFEST, SIGNATURE):
                continue
            entry = manifest.files.get(member.name)
            if entry is None or not member.isfile():
                raise BundleRejected("unlisted_file", f"{path.name}: {member.name!r} is not in the signed manifest")
            source = tar.extractfile(member)
            assert source is not None
            if sha256_of(source) != entry["sha256"] or member.size != entry["bytes"]:
                raise BundleRejected("hash_mismatch", f"{path.name}: {member.name} is not the file the manifest signed")
            seen.add(member.name)
    missing = sorted(set(manifest.files) - seen)
    if missing:
        raise BundleRejected("missing_file", f"{path.name}: {', '.join(missing)} listed but not in the bundle")
    return manifest


def verify_manifest(manifest_bytes: bytes, signature: bytes | None, public_key: Ed25519PublicKey,
                    where: str) -> Manifest:
    """The manifest, once its signature (base64 text, as in `manifest.sig`) holds for these exact bytes;
    `BundleRejected` otherwise. `where` names the source in the message."""
    if signature is None:
        raise BundleRejected("unsigned", f"{where} carries no signature (kiosk release sign)")
    try:
        public_key.verify(base64.b64decode(signature.strip(), validate=True), manifest_bytes)
    except (InvalidSignature, binascii.Error, ValueError):
        raise BundleRejected("bad_signature", f"{where}: the signature does not match the release key") from None
    return parse_manifest(manifest_bytes)


def parse_manifest(raw: bytes) -> Manifest:
    try:
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} manifest")
        files = body["files"]
        manifest = Manifest(str(body["version"]), int(body["sequence"]), str(body["min_upgrade_from"]),
                            str(body["platform"]), str(body["python"]), str(body["product"]), dict(files))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise BundleRejected("bad_manifest", f"manifest unreadable: {exc}") from None
    bad = [name for name, entry in files.items() if not WHEEL_NAME.fullmatch(name) or not isinstance(entry, dict)
           or not re.fullmatch(r"[0-9a-f]{64}", str(entry.get("sha256"))) or not isinstance(entry.get("bytes"), int)]
    if bad or manifest.product not in files or manifest.platform not in PLATFORMS or manifest.sequence < 1:
        raise BundleRejected("bad_manifest", f"manifest lists what cannot be installed: {bad or manifest.product}")
    return manifest


def read_manifest(path: Path) -> tuple[bytes, bytes | None]:
    with open_bundle(path) as tar:
        found: dict[str, bytes] = {}
        for name in (MANIFEST, SIGNATURE):
            try:
                member = tar.getmember(name)
            except KeyError:
                continue
            if not member.isfile() or member.size > MAX_MANIFEST_BYTES:
                raise BundleRejected("bad_manifest", f"{path.name}: {name} is not a small file")
            source = tar.extractfile(member)
            assert source is not None
            found[name] = source.read()
    if MANIFEST not in found:
        raise BundleRejected("bad_manifest", f"{path.name} holds no {MANIFEST}: not a release bundle")
    return found[MANIFEST], found.get(SIGNATURE)


def open_bundle(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path, "r:")  # uncompressed only: nothing is unpacked to look inside
    except (OSError, tarfile.TarError) as exc:
        raise BundleRejected("unreadable", f"{path} is not a readable release bundle: {exc}") from None


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))
