"""The release store: bundles verified with the release key, kept in --release-dir, recorded in the database.

A bundle is verified as a booth verifies it (appliance.release.bundle: the signature over the manifest, then
every file against its hash, nothing unlisted) on the very copy central keeps, so what central serves later is
what it verified. Each file's place in the bundle (its tar member's data offset) is recorded with it: a chunk
is one seek and one bounded read, never a bundle in memory.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from appliance.contract import now_iso
from appliance.release.build import VERSION
from appliance.release.bundle import MANIFEST, SIGNATURE, BundleRejected, Manifest, parse_manifest, verify_bundle
from central import audit
from central.database import Database
from central.settings import CentralSettings
from central.tables import releases


class ReleaseError(Exception):
    """A bundle central will not add (or cannot find); the message says why. Nothing was added."""


@dataclass(frozen=True)
class Added:
    id: int
    manifest: Manifest
    fresh: bool  # False: the very same release was there already


def add_release(db: Database, settings: CentralSettings, bundle: Path, actor: str) -> Added:
    """Verify `bundle` with the release key, keep it in `settings.release_dir` and record it, audited as
    `actor`'s; the same release again changes nothing, another with its version or sequence is refused."""
    if settings.release_key is None:
        raise ReleaseError("give the release key with --release-key (the key `kiosk release keygen` printed, "
                           "or a file holding it): central adds only what it signed")
    from appliance.catalog.signing import load_public_key

    if not bundle.is_file():
        raise ReleaseError(f"no bundle at {bundle}")
    settings.release_dir.mkdir(parents=True, exist_ok=True)
    incoming = settings.release_dir / f".incoming-{secrets.token_hex(6)}"
    incoming.mkdir()
    try:
        staged = incoming / bundle.name  # the operator's name in every reason verify gives
        _copy(bundle, staged)
        try:
            manifest = verify_bundle(staged, load_public_key(settings.release_key))
        except BundleRejected as exc:
            raise ReleaseError(f"refused ({exc.code}), nothing added: {exc}") from None
        if not VERSION.fullmatch(manifest.version):
            raise ReleaseError(f"refused: version {manifest.version!r} is not X.Y.Z")
        manifest_bytes, signature, files = _read_parts(staged, manifest)
        final = settings.release_dir / f"kiosk-{manifest.version}-{manifest.platform}.bundle"
        with db.transaction() as conn:
            same = _existing(conn, manifest)
            if same is not None:
                if bytes(same["manifest"]) != manifest_bytes or same["signature"] != signature:
                    raise ReleaseError(f"refused: release {same['version']} (sequence {same['sequence']}) for "
                                       f"{manifest.platform} is there already with other content; a changed "
                                       "release is a new, higher version")
                if not final.is_file():
                    os.replace(staged, final)  # its kept copy had gone: the verified one takes its place
                return Added(same["id"], manifest, fresh=False)
            release_id = conn.execute(insert(releases).values(
                version=manifest.version, sequence=manifest.sequence, platform=manifest.platform,
                manifest=manifest_bytes, signature=signature, files=files, bundle=final.name,
                bundle_bytes=staged.stat().st_size, added_at=time.time(), added_by=actor[:64])).inserted_primary_key[0]
            audit.record(conn, actor, "release_added", manifest.version, details={
                "platform": manifest.platform, "sequence": manifest.sequence, "files": len(files),
                "bytes": manifest.total_bytes})
            os.replace(staged, final)  # before the commit: a row never names a bundle that is not there
        return Added(release_id, manifest, fresh=True)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)


def _copy(source: Path, target: Path) -> None:
    with open(source, "rb") as given, open(target, "xb") as kept:
        shutil.copyfileobj(given, kept, 1 << 20)
        kept.flush()
        os.fsync(kept.fileno())


def _read_parts(path: Path, manifest: Manifest) -> tuple[bytes, str, dict[str, dict[str, Any]]]:
    """The manifest's exact bytes, the signature's text, and each listed file with where its bytes start."""
    with tarfile.open(path, "r:") as tar:
        members = {member.name: member for member in tar.getmembers()}
        manifest_bytes = tar.extractfile(members[MANIFEST]).read()  # type: ignore[union-attr]
        signature = tar.extractfile(members[SIGNATURE]).read().decode("ascii").strip()  # type: ignore[union-attr]
    files = {name: {**entry, "at": members[name].offset_data} for name, entry in manifest.files.items()}
    return manifest_bytes, signature, files


def _existing(conn: Connection, manifest: Manifest) -> dict[str, Any] | None:
    row = conn.execute(select(releases).where(releases.c.platform == manifest.platform, or_(
        releases.c.version == manifest.version, releases.c.sequence == manifest.sequence))).mappings().first()
    return dict(row) if row else None


def release_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every release, newest first, without its manifest's bytes."""
    found = []
    for row in conn.execute(select(releases).order_by(releases.c.sequence.desc(), releases.c.platform)).mappings():
        files = row["files"]
        manifest = _manifest_facts(bytes(row["manifest"]))
        found.append({"id": row["id"], "version": row["version"], "sequence": row["sequence"],
                      "platform": row["platform"], "files": len(files),
                      "bytes": sum(int(entry["bytes"]) for entry in files.values()),
                      "bundle_bytes": row["bundle_bytes"], "added_at": row["added_at"], "added_by": row["added_by"],
                      **manifest})
    return found


def _manifest_facts(raw: bytes) -> dict[str, str]:
    manifest = parse_manifest(raw)
    return {"min_upgrade_from": manifest.min_upgrade_from, "product": manifest.product.removeprefix("wheels/")}


def release_row(conn: Connection, release_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(releases).where(releases.c.id == release_id)).mappings().first()
    return dict(row) if row else None


def offer_body(release: dict[str, Any], rollout: int) -> dict[str, Any]:
    """What a booth is offered (docs/asyncapi.yaml, ReleaseOffer): the manifest's exact bytes and the signature
    as the bundle holds them, so the booth checks them itself with its release key before anything else."""
    return {"ts": now_iso(), "rollout": rollout, "version": release["version"], "sequence": release["sequence"],
            "manifest": base64.b64encode(bytes(release["manifest"])).decode("ascii"),
            "signature": release["signature"]}


def read_file_part(release_dir: Path, release: dict[str, Any], name: str, offset: int, length: int) -> bytes:
    """`length` bytes of the listed file `name` from `offset` (the caller has bounded both), read from the kept
    bundle at the file's place in it; OSError when the bundle is missing or shorter than recorded."""
    entry = release["files"][name]
    with open(release_dir / release["bundle"], "rb") as bundle:
        bundle.seek(int(entry["at"]) + offset)
        data = bundle.read(length)
    if len(data) != length:
        raise OSError(f"{release['bundle']} is shorter than when it was added")
    return data
