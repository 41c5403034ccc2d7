"""Central's settings: where the broker and the database are, and the thresholds its alerts use.

One validated model; `kiosk central serve` builds it from its flags, and a bad value ends with a message
that names the flag and what is allowed.
"""

from __future__ import annotations

import re
from datetime import date, time
from ipaddress import ip_network
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from appliance.contract import MAX_RELEASE_CHUNK
from appliance.validation import listed

MAX_ESCALATION_S = 86_400
STAFF_HOURS = re.compile(r"([0-9]{1,2}):([0-9]{2})-([0-9]{1,2}):([0-9]{2})")


class SettingsError(Exception):
    """Settings central cannot run with; the message names the setting and what is allowed."""


class Thresholds(BaseModel):
    """When a booth's condition becomes an alert (each closes again by itself once it clears)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offline_after_min: float = Field(default=10, gt=0, description="offline longer than this many minutes")
    heartbeat_interval_s: int = Field(default=60, ge=1, description="the fleet's heartbeat interval")
    outbox_depth: int = Field(default=500, ge=1, description="events waiting on a booth")
    outbox_oldest_min: float = Field(default=60, gt=0, description="age of a booth's oldest waiting event")
    disk_free_mb: int = Field(default=500, ge=0, description="free space on a booth's state disk")

    @property
    def heartbeat_overdue_s(self) -> float:
        return 2 * self.heartbeat_interval_s


class CentralSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    broker_host: str = Field(default="127.0.0.1", min_length=1)
    broker_port: int = Field(default=8883, ge=1, le=65535)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str = Field(default="central-1", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    session_expiry_s: int = Field(default=60, ge=0, le=7 * 86_400, description=(
        "how long the broker keeps central's session (and deals it messages) after it disconnects"))
    share_group: str = Field(default="central", pattern=r"^[A-Za-z0-9_-]{1,32}$")
    database: str = Field(default="sqlite:///central.sqlite3", description="SQLAlchemy URL")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    heartbeat_retention_days: int = Field(default=30, ge=1)
    thresholds: Thresholds = Thresholds()
    # -- the dashboard on the office network (central.web) --
    allowed_hosts: tuple[str, ...] = Field(default=("127.0.0.1", "localhost"), min_length=1, description=(
        "Host header values the dashboard answers (anything else is refused: DNS rebinding)"))
    root_path: str = Field(default="", pattern=r"^(/[A-Za-z0-9._-]+)*$", description=(
        "the path prefix the office's reverse proxy serves central under, e.g. /central"))
    trusted_proxies: tuple[str, ...] = Field(default=("127.0.0.1",), description=(
        "addresses whose X-Forwarded-For/-Proto headers are believed"))
    metrics_from: tuple[str, ...] = Field(default=("127.0.0.1/32", "::1/128"), description=(
        "networks allowed to read /metrics (the Prometheus scraper)"))
    session_idle_min: int = Field(default=30, ge=1, le=24 * 60, description="a dashboard session ends this idle")
    follow_up_days: int = Field(default=5, ge=1, le=60, description="working days to close a 差评 follow-up")
    holidays: tuple[date, ...] = Field(default=(), description="days that are not working days")
    personal_data_days: int = Field(default=180, ge=1, le=3650, description=(
        "an applicant's name, ID number and phone are erased this many days after their case closed"))
    catalogue: Path | None = Field(default=None, description=(
        "the catalogue source (a folder of department YAML files) central names items from; "
        "default: the one shipped in central/catalog"))
    # -- the assist desk (帮办代办, central.assist_desk) --
    assist_escalation_s: int = Field(default=180, description=(
        "an assist request nobody took this many seconds after the desk could see it is escalated"))
    staff_hours: tuple[time, time] | None = Field(default=None, description=(
        "when the desk is staffed on working days (08:30-17:30); None: always"))
    personal_data_key: Path = Field(default=Path("central-personal-data.key"), description=(
        "the AES key file that seals call-back numbers at rest (made, 0600, when missing); every instance "
        "on one database needs the same file"))
    # -- software releases (central.releases) --
    release_dir: Path = Field(default=Path("central-releases"), description=(
        "where `kiosk central release add` keeps the bundles booths fetch their files from; every instance "
        "on one database needs the same folder (shared, or a copy)"))
    release_key: str | None = Field(default=None, description=(
        "the release public key `kiosk release keygen` printed, or a file holding it: "
        "`kiosk central release add` refuses a bundle it did not sign"))
    release_bytes_per_s: int = Field(default=512 * 1024, ge=MAX_RELEASE_CHUNK, le=1024**3, description=(
        "the most one booth may fetch per second (a booth keeps to its own, lower bound; this stops one that "
        "does not)"))

    @field_validator("metrics_from")
    @classmethod
    def _networks(cls, networks: tuple[str, ...]) -> tuple[str, ...]:
        for network in networks:
            try:
                ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an address or network (e.g. 10.0.0.5 or 10.0.0.0/24)") from None
        return networks

    @field_validator("assist_escalation_s")
    @classmethod
    def _escalation(cls, seconds: int) -> int:
        if not 1 <= seconds <= MAX_ESCALATION_S:
            raise ValueError(f"--assist-escalation-s takes 1 to {MAX_ESCALATION_S} seconds (default 180)")
        return seconds

    @field_validator("staff_hours", mode="before")
    @classmethod
    def _hours(cls, given: object) -> object:
        """"08:30-17:30" (the flag's form) → (08:30, 17:30); the end after the start, on the same day."""
        if not isinstance(given, str):
            return given
        found = STAFF_HOURS.fullmatch(given.strip())
        try:
            start, end = time(int(found[1]), int(found[2])), time(int(found[3]), int(found[4]))  # type: ignore[index]
        except (TypeError, ValueError):  # no match at all, or no such time (25:00)
            start = end = None
        if start is None or end is None or not start < end:
            raise ValueError("--staff-hours takes HH:MM-HH:MM on one day, the start before the end, e.g. 08:30-17:30")
        return start, end

    @field_validator("release_key", mode="before")
    @classmethod
    def _release_key(cls, given: object) -> object:
        """The key as `kiosk release keygen` printed it, read from a file when given one (its last line)."""
        if not isinstance(given, str | Path):
            return given
        from appliance.catalog.signing import load_public_key  # only when given: the catalogue's model is big

        text = str(given).strip()
        try:
            if text and Path(text).is_file():
                lines = Path(text).read_text(encoding="utf-8").split()
                text = lines[-1] if lines else ""
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"--release-key: cannot read {text[:100]!r}: {exc}") from None
        try:
            load_public_key(text)
        except ValueError:
            raise ValueError("--release-key takes the key `kiosk release keygen` printed (the base64 of 32 bytes), "
                             "or a file holding it") from None
        return text

    @field_validator("database")
    @classmethod
    def _known_database(cls, url: str) -> str:
        if not url.startswith(("sqlite:///", "postgresql")):
            raise ValueError("use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        return url


def build_settings(**values: object) -> CentralSettings:
    """Validate settings given as keyword values; raise `SettingsError` listing every bad one."""
    try:
        return CentralSettings.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise SettingsError(f"central settings are invalid:\n{listed(exc)}") from None
