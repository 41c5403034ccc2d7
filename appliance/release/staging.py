"""The booth's staging area for the one release it is fetching, the on-disk interface with the root-side
installer (which verifies everything again and never trusts the kiosk):

    <storage>/updates/<version>/manifest.json     the manifest's exact signed bytes
                                /manifest.sig      its base64 signature + "\\n"
                                /wheels/<name>.whl only the wheels the booth lacks, each checked by sha256
                                /wheels/<name>.whl.part   a download in progress (resumed from its size)
                                /staged.json       {"version", "sequence"}, written last: "complete"

The wheels the booth has are those `<release_root>/wheels/index.json` names with their sha256 and that are in
that directory (root-owned, `{"<wheel file name>": "<sha256>"}`; missing means none yet). One version is staged at a
time: preparing one removes every other."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.release.layout import sync, write_atomically
from appliance.release.offer import Offer

log = logging.getLogger("kiosk.release")

INDEX = "index.json"
STAGED = "staged.json"
PART = ".part"
SHA256 = re.compile(r"[0-9a-f]{64}")


class StagingError(Exception):
    """The staging area is not as the fetcher left it (a file changed under it); prepare it again."""


@dataclass
class Download:
    """One wheel the booth lacks, and how much of it is on disk."""

    name: str  # "wheels/<name>.whl", as the manifest lists it
    sha256: str
    size: int
    have: int = 0  # bytes in the .part file (or `size` once complete)
    complete: bool = False  # checked and renamed to its final name
    failures: int = 0  # times the whole file came in with another sha256
    hasher: Any = field(default_factory=hashlib.sha256, repr=False)


def wheels_held(release_root: Path) -> dict[str, str]:
    """The wheels the booth's store holds, file name → sha256: those its index names and that are there, as
    the root side counts them (appliance/release/installer.py). None when there is no index (yet), or when
    it cannot be read (then everything is fetched: wasteful, never wrong)."""
    store = release_root / "wheels"
    try:
        body = json.loads((store / INDEX).read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("wheel index %s unreadable, fetching every wheel: %s", store / INDEX, exc)
        return {}
    if not isinstance(body, dict):
        log.warning("wheel index %s is not a JSON object, fetching every wheel", store / INDEX)
        return {}
    return {name: digest for name, digest in body.items() if isinstance(digest, str) and SHA256.fullmatch(digest)
            and "/" not in name and (store / name).is_file()}


class Staging:
    def __init__(self, root: Path) -> None:
        self.root = root

    def directory(self, version: str) -> Path:
        return self.root / version

    def remove(self, keep: str | None = None) -> None:
        """Remove every staged version but `keep`."""
        if not self.root.is_dir():
            return
        for entry in self.root.iterdir():
            if entry.name != keep:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def prepare(self, offer: Offer, held: dict[str, str]) -> list[Download]:
        """Make `offer`'s staging directory the only one and say what is still to fetch: complete wheels
        are checked again, a .part is resumed from its size, anything else in `wheels/` is removed."""
        self.remove(keep=offer.version)
        directory = self.directory(offer.version)
        (directory / "wheels").mkdir(parents=True, exist_ok=True)
        manifest = directory / "manifest.json"
        if not manifest.is_file() or manifest.read_bytes() != offer.manifest_bytes:
            (directory / STAGED).unlink(missing_ok=True)
            write_atomically(manifest, offer.manifest_bytes)
        write_atomically(directory / "manifest.sig", offer.signature.encode() + b"\n")
        downloads = [Download(name, str(entry["sha256"]), int(entry["bytes"]))
                     for name, entry in sorted(offer.manifest.files.items())
                     if held.get(name.removeprefix("wheels/")) != entry["sha256"]]
        wanted = {d.name for d in downloads} | {d.name + PART for d in downloads}
        for path in (directory / "wheels").iterdir():
            if f"wheels/{path.name}" not in wanted:
                _remove(path)
        for download in downloads:
            self._resume(directory, download)
        if not all(d.complete for d in downloads):
            (directory / STAGED).unlink(missing_ok=True)
        return downloads

    def _resume(self, directory: Path, download: Download) -> None:
        final, part = directory / download.name, directory / (download.name + PART)
        if final.exists():
            if final.stat().st_size == download.size and _sha256(final).hexdigest() == download.sha256:
                download.have, download.complete = download.size, True
                part.unlink(missing_ok=True)
                return
            _remove(final)
        if part.exists():
            if part.stat().st_size > download.size:
                _remove(part)
            else:
                download.hasher = _sha256(part)
                download.have = part.stat().st_size

    def append(self, version: str, download: Download, offset: int, data: bytes) -> None:
        """Add a chunk at the end of `download`'s .part file (no fsync: `finish` syncs the whole file)."""
        part = self.directory(version) / (download.name + PART)
        with open(part, "ab") as out:
            if out.tell() != download.have or offset != download.have:
                raise StagingError(f"{part.name} holds {out.tell()} bytes, expected {download.have}")
            out.write(data)
        download.hasher.update(data)
        download.have += len(data)

    def finish(self, version: str, download: Download) -> bool:
        """A fully fetched file: renamed to its final name, synced, if its sha256 holds (True); deleted
        for a fresh start otherwise (False)."""
        directory = self.directory(version)
        part = directory / (download.name + PART)
        if download.have == download.size and download.hasher.hexdigest() == download.sha256:
            sync(part)
            os.replace(part, directory / download.name)
            sync(part.parent)
            download.complete = True
            return True
        _remove(part)
        download.failures += 1
        download.hasher = hashlib.sha256()
        download.have = 0  # last: from here on the network thread may ask for it again
        return False

    def mark_staged(self, offer: Offer) -> None:
        """Everything is here: say so, last, atomically and durably."""
        body = {"version": offer.version, "sequence": offer.manifest.sequence}
        write_atomically(self.directory(offer.version) / STAGED, json.dumps(body).encode() + b"\n")

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free


def _sha256(path: Path) -> Any:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
