"""Where a booth's releases live, and the root side's record of which one runs and why.

    /opt/kiosk/releases/<version>/   one virtual environment per release (its `release.json` is the
                                     signed manifest; `.complete` is written last: a release without
                                     it was cut short and is rebuilt, never run)
    /opt/kiosk/.venv                 the release the installer made from a checkout (the first one)
    /opt/kiosk/current  -> …         what kiosk.service runs; switched atomically (a new symlink renamed
                                     over the old)
    /opt/kiosk/committed -> …        the last release that passed its trial; the root side's own code
                                     runs from it, never from a release on trial
    /opt/kiosk/wheels/               every wheel the booth has, `index.json` naming each one's sha256
    /opt/kiosk/update-state.json     the record below (root writes it, the kiosk reads it)

Everything here is root's: the unprivileged kiosk reads it and asks (appliance/root_actions.py).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from appliance.contract import UpdateState
from appliance.files import sync, write_atomically

STATE_FILE = "update-state.json"
COMPLETE = ".complete"
MANIFEST_COPY = "release.json"


@dataclass(frozen=True)
class Trial:
    """A release switched to and not yet committed: it has until `deadline` to be healthy."""

    version: str
    sequence: int
    since: float
    deadline: float
    starts: int = 0


@dataclass(frozen=True)
class Outcome:
    """The last thing that happened to a release: committed, rolled back or refused, and why."""

    state: str
    version: str
    reason: str | None
    at: float


@dataclass(frozen=True)
class UpdateRecord:
    """The root side's record, one JSON file. `highest_sequence` is the highest release ever installed,
    rolled-back ones included: nothing at or below it is installed again (a fixed release gets a new
    version)."""

    highest_sequence: int = 0
    trial: Trial | None = None
    last: Outcome | None = None
    history: list[Outcome] = field(default_factory=list)

    def with_outcome(self, state: UpdateState, version: str, reason: str | None = None, **changes: Any) -> UpdateRecord:
        outcome = Outcome(state.value, version, reason, time.time())
        return replace(self, last=outcome, history=[*self.history, outcome][-20:], **changes)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1).encode() + b"\n"

    @classmethod
    def from_json(cls, raw: bytes) -> UpdateRecord:
        body = json.loads(raw)
        trial = body.get("trial")
        last = body.get("last")
        return cls(int(body.get("highest_sequence", 0)), Trial(**trial) if trial else None,
                   Outcome(**last) if last else None, [Outcome(**entry) for entry in body.get("history", [])])


@dataclass(frozen=True)
class ReleaseLayout:
    root: Path

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def wheels(self) -> Path:
        return self.root / "wheels"

    @property
    def wheel_index(self) -> Path:
        return self.wheels / "index.json"

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def committed(self) -> Path:
        return self.root / "committed"

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    def release_dir(self, version: str) -> Path:
        return self.releases / version

    def is_complete(self, release: Path) -> bool:
        return (release / COMPLETE).is_file() and (release / "bin" / "python").exists()

    def target(self, link: Path) -> Path | None:
        """Where `current` or `committed` points, resolved; None when absent."""
        try:
            return link.resolve(strict=True)
        except OSError:
            return None

    def version_of(self, release: Path | None) -> str | None:
        """The version a release directory holds: its signed manifest's, or the first install's own."""
        if release is None:
            return None
        try:
            return json.loads((release / MANIFEST_COPY).read_bytes())["version"]
        except (OSError, ValueError, KeyError):
            return _installed_version(release)

    def read_record(self) -> UpdateRecord:
        try:
            return UpdateRecord.from_json(self.state_file.read_bytes())
        except FileNotFoundError:
            return UpdateRecord()

    def write_record(self, record: UpdateRecord) -> None:
        write_atomically(self.state_file, record.to_json())

    def wheel_hashes(self) -> dict[str, str]:
        """`{wheel file name: sha256}` of the wheels the booth has."""
        try:
            index = json.loads(self.wheel_index.read_bytes())
        except FileNotFoundError:
            return {}
        return {str(name): str(digest) for name, digest in index.items()}

    def point(self, link: Path, release: Path) -> None:
        """Point `current` or `committed` at `release` atomically: a power cut leaves the old link or
        the new one, never none."""
        staged = link.with_name(f".{link.name}.new")
        staged.unlink(missing_ok=True)
        staged.symlink_to(release)
        os.replace(staged, link)
        sync(link.parent)


def _installed_version(release: Path) -> str | None:
    """The product's version in a virtual environment the installer built from a checkout (no manifest)."""
    for info in release.glob("lib/python3*/site-packages/kiosk_appliance-*.dist-info"):
        return info.name.removeprefix("kiosk_appliance-").removesuffix(".dist-info")
    return None
