"""Central's release offer, read and judged on the booth: the retained message on
`kiosk/v1/{device}/release/offer` that names the release this booth should run.

It arrives on paho's network thread, from a topic anyone in the fleet's ACL may write, so it is judged
quickly and completely before anything is fetched: bounded in size before parsing, every field typed,
the Ed25519 signature over the manifest's exact bytes checked with the release key, and the signed
manifest (not the offer's unsigned fields) decides: a newer sequence than the installed release
(nothing signed is replayed backwards), this booth's platform and Python, and an upgrade path from what
runs here. The root side checks all of it again before it installs.

    {"ts": "…", "rollout": "r-12", "version": "1.4.0", "sequence": 1004000,
     "manifest": "<base64 of manifest.json>", "signature": "<base64, as in manifest.sig>"}
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from appliance.catalog.signing import load_public_key
from appliance.errors import CodedError
from appliance.release.build import BuildError, sequence_of
from appliance.release.bundle import BundleRejected, Manifest, verify_manifest

MAX_OFFER_BYTES = 1024 * 1024
VERSION = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}")  # use fullmatch
PYTHON = f"cp{sys.version_info.major}{sys.version_info.minor}"


class OfferRefused(CodedError):
    """An offer this booth will not fetch; `code` is one of malformed, no_key, bad_signature, bad_manifest,
    mismatch, not_newer, platform, python, too_old. `version` is the offered version when it reads as one."""

    def __init__(self, code: str, message: str, version: str | None = None) -> None:
        super().__init__(code, message)
        self.version = version


@dataclass(frozen=True)
class Offer:
    manifest: Manifest
    manifest_bytes: bytes  # exactly as signed: staged as manifest.json for the root side to verify again
    signature: str  # the base64 text of manifest.sig, stripped

    @property
    def version(self) -> str:
        return self.manifest.version


def read_public_key(path: Path) -> tuple[Ed25519PublicKey | None, str | None]:
    """The release key from its file (the base64 key on the last line, as `kiosk release keygen` prints
    it), or None with why not: a booth without a usable key refuses offers, it does not stop."""
    try:
        lines = path.read_text(encoding="utf-8").strip().splitlines()
    except FileNotFoundError:
        return None, f"no release key at {path} (updates.public_key_file): offers cannot be verified"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"release key {path} unreadable: {exc}"
    try:
        return load_public_key(lines[-1].strip() if lines else ""), None
    except ValueError as exc:
        return None, f"release key {path} {exc}"


def read_offer(payload: bytes, key: Ed25519PublicKey | None, key_problem: str | None, installed_sequence: int,
               machine: str) -> Offer:
    """The offer in `payload` if this booth should fetch it; `OfferRefused` with the reason otherwise."""
    if len(payload) > MAX_OFFER_BYTES:
        raise OfferRefused("malformed", f"offer of {len(payload)} bytes, more than {MAX_OFFER_BYTES}")
    body = _fields(payload)
    offered = body["version"]
    if key is None:
        raise OfferRefused("no_key", key_problem or "no release key configured", offered)
    try:
        manifest_bytes = base64.b64decode(body["manifest"], validate=True)
    except (binascii.Error, ValueError):
        raise OfferRefused("malformed", "the offer's manifest is not base64", offered) from None
    try:
        manifest = verify_manifest(manifest_bytes, body["signature"].encode(), key, "release offer")
    except BundleRejected as exc:
        raise OfferRefused(exc.code, str(exc), offered) from None
    if (manifest.version, manifest.sequence) != (offered, body["sequence"]):
        raise OfferRefused("mismatch", f"offer says {offered} (sequence {body['sequence']}), its signed manifest "
                                       f"{manifest.version} (sequence {manifest.sequence})", offered)
    _judge(manifest, installed_sequence, machine)
    return Offer(manifest, manifest_bytes, body["signature"].strip())


def _fields(payload: bytes) -> dict:
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        raise OfferRefused("malformed", "offer is not JSON") from None
    if not isinstance(body, dict):
        raise OfferRefused("malformed", "offer is not a JSON object")
    typed = {"ts": str, "version": str, "sequence": int, "manifest": str, "signature": str}
    wrong = sorted(name for name, kind in typed.items()
                   if not isinstance(body.get(name), kind) or isinstance(body.get(name), bool))
    rollout = body.get("rollout")
    if not isinstance(rollout, str | int) or isinstance(rollout, bool):
        wrong.append("rollout")
    version = body.get("version")
    if not wrong and not VERSION.fullmatch(version):
        wrong.append("version")
    if wrong:
        shown = version if isinstance(version, str) and VERSION.fullmatch(version) else None
        raise OfferRefused("malformed", f"offer fields missing or mistyped: {', '.join(wrong)}", shown)
    return body


def _judge(manifest: Manifest, installed_sequence: int, machine: str) -> None:
    version = manifest.version
    if manifest.sequence == installed_sequence:
        raise OfferRefused("installed", f"release {version} is the one installed: nothing to fetch", version)
    if manifest.sequence < installed_sequence:
        raise OfferRefused("not_newer", f"release {version} (sequence {manifest.sequence}) is not newer than the "
                                        f"installed release (sequence {installed_sequence})", version)
    if manifest.platform != machine:
        raise OfferRefused("platform", f"release {version} is for {manifest.platform}, this booth is {machine}",
                           version)
    if manifest.python != PYTHON:
        raise OfferRefused("python", f"release {version} is for {manifest.python}, this booth runs {PYTHON}", version)
    try:
        floor = sequence_of(manifest.min_upgrade_from)
    except BuildError:
        floor = None
    if floor is None or installed_sequence < floor:
        raise OfferRefused("too_old", f"release {version} upgrades only from {manifest.min_upgrade_from} on "
                                      f"(installed: sequence {installed_sequence})", version)

