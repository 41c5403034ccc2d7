"""The device configuration (`/etc/kiosk/kiosk.toml`): its schema and its one validation point.

`load_config` either returns a fully checked `KioskConfig` or raises `ConfigError` whose message
names every bad key, the value found and what is allowed — never a traceback for a maintainer.
"""

from __future__ import annotations

import os
import re
import ssl
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from appliance.contract import DEVICE_ID
from appliance.receipt_numbers import BOOTH_CODE
from appliance.validation import listed

DEFAULT_PATH = Path("/etc/kiosk/kiosk.toml")


class ConfigError(Exception):
    """A config file that cannot be used; the message is meant for the person who wrote it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Seconds = Annotated[int, Field(ge=1, le=86_400)]
BcmPin = Annotated[int, Field(ge=0, le=27, description="BCM GPIO number")]
Baud = Literal[9600, 19200, 38400, 57600, 115200]  # the rates every serial device here is offered
FlowControl = Literal["none", "rtscts", "dsrdtr", "xonxoff"]  # as pyserial names its three kinds
UNKNOWN_KEY = "is not a known setting (check the spelling against examples/kiosk.toml)"


PLAIN_FORMATS = {  # field → the form it must have, and that form in words a maintainer reads
    "id": (DEVICE_ID, "use 3–63 lower-case letters, digits or '-', not starting with '-' (e.g. qd-sn-0007)"),
    "region": (re.compile(r"[0-9]{6}"), "a 6-digit administrative division code (e.g. 370202)"),
}


class DeviceSection(_Section):
    id: str = Field(description="the device's name at central and its certificate's CN")
    site: str = Field(min_length=1, max_length=100)
    region: str = Field(description="6-digit administrative division code")
    booth_code: str | None = Field(default=None, description=(
        "5 digits, 00001–89999, given to this booth by central's office at provisioning: part of every "
        "receipt number it prints (appliance/receipt_numbers.py); unset, the booth makes one up from its "
        "device id in 90000–99999, which another booth may share"))

    @field_validator("booth_code", mode="before")
    @classmethod
    def _booth_code(cls, value: object) -> object:
        if value is not None and not (isinstance(value, str) and BOOTH_CODE.fullmatch(value)):
            raise ValueError("use the 5-digit booth code central's office gave this booth, 00001–89999 "
                             "(a quoted string, e.g. \"01234\"; 90000–99999 are made up by booths without one)")
        return value

    @field_validator(*PLAIN_FORMATS)
    @classmethod
    def _plain_format(cls, value: str, info: ValidationInfo) -> str:
        form, in_words = PLAIN_FORMATS[info.field_name]
        if not form.fullmatch(value):
            raise ValueError(in_words)
        return value


class TlsSection(_Section):
    ca_file: Path
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsSection:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together (or neither)")
        return self


class BrokerSection(_Section):
    host: str = Field(min_length=1)
    port: int = Field(default=8883, ge=1, le=65535)
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    session_expiry_s: int = Field(default=7 * 86_400, ge=0, le=0xFFFFFFFF)
    reconnect_min_s: int = Field(default=1, ge=1, le=60)
    reconnect_max_s: int = Field(default=60, ge=1, le=3600)
    tls: TlsSection | None = None
    username: str | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> BrokerSection:
        if self.password_file is not None and self.username is None:
            raise ValueError("password_file needs a username")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self


class HeartbeatSection(_Section):
    interval_s: Seconds = 60


class UsageSection(_Section):
    interval_s: Seconds = 900


class StorageSection(_Section):
    dir: Path = Path("/var/lib/kiosk")


class OutboxSection(_Section):
    capacity: int = Field(default=50_000, ge=100, le=10_000_000)
    max_age_days: int = Field(default=30, ge=1, le=3650)
    inflight_window: int = Field(default=400, ge=1, le=2000)
    max_event_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)
    min_free_disk_mb: int = Field(default=50, ge=0)
    # An event the broker acknowledged is sent again when central has not confirmed it this long after.
    confirm_timeout_s: float = Field(default=120, ge=1, le=86_400)


class SessionSection(_Section):
    idle_timeout_s: int = Field(default=60, ge=15, le=900)
    elder_idle_timeout_s: int = Field(default=120, ge=15, le=1800)
    countdown_s: int = Field(default=15, ge=5, le=60)


class AssistSection(_Section):
    """帮办代办 at this booth: whether staff can come to it, and how long the citizen is told to wait
    for someone to take the call before the screen offers the 12345 hotline."""

    on_site: bool = Field(default=False, description="staff on duty at this site can come to the booth")
    answer_timeout_s: int = Field(default=180, ge=30, le=3600,
                                  description="no operator took the call this long after it was made: "
                                              "the screen says so and shows 12345 (central escalates at 180 s)")


class CardReaderSection(_Section):
    port: str = Field(default="/dev/ttyUSB0", min_length=1)
    baud: Baud = 115200


class ScannerSection(_Section):
    """The QR / barcode scanner (receipt QR codes, e-certificates); a booth without one says so."""

    enabled: bool = True
    port: str = Field(default="/dev/ttyACM0", min_length=1)
    baud: Baud = 9600


class PrinterSection(_Section):
    connection: Literal["serial", "usb", "tcp"] = "serial"
    port: str | None = Field(default=None, min_length=1,
                             description="serial: /dev/ttyUSB1; usb: /dev/usb/lp0 (usblp device)")
    baud: Baud = 115200
    flow_control: FlowControl = "none"
    host: str | None = None
    tcp_port: int = Field(default=9100, ge=1, le=65535)
    paper_width_mm: Literal[58, 80] = 80
    chinese_font: bool = Field(default=True, description="false: Chinese lines go as raster images")
    native_qr: bool = Field(default=True, description="false: QR codes go as raster images")
    poll_s: float = Field(default=2.0, ge=0.5, le=60)

    @model_validator(mode="after")
    def _reachable(self) -> PrinterSection:
        if self.connection == "tcp" and not self.host:
            raise ValueError('connection = "tcp" needs host (the printer\'s address)')
        return self

    @property
    def url(self) -> str:
        """Where the driver opens the printer: a device path or a pyserial URL."""
        if self.connection == "tcp":
            return f"socket://{self.host}:{self.tcp_port}"
        if self.connection == "usb":
            return f"lp://{self.port or '/dev/usb/lp0'}"
        return self.port or "/dev/ttyUSB1"


class LedsSection(_Section):
    green: BcmPin = 17
    amber: BcmPin = 27
    red: BcmPin = 22
    active_high: bool = True

    @model_validator(mode="after")
    def _distinct(self) -> LedsSection:
        if len({self.green, self.amber, self.red}) != 3:
            raise ValueError("green, amber and red must be three different pins")
        return self


class HardwareSection(_Section):
    simulated: bool = Field(default=True, description="use the simulators instead of real devices")
    card_reader: CardReaderSection = CardReaderSection()
    printer: PrinterSection = PrinterSection()
    scanner: ScannerSection = ScannerSection()
    leds: LedsSection = LedsSection()
    touchscreen: Path | None = Field(default=None, description="the touch input device, e.g. "
                                     "/dev/input/by-path/platform-…-event; watched for vanishing")


class CatalogSection(_Section):
    file: Path | None = Field(default=None, description="catalogue file; default: the storage dir's")
    public_key: str | None = Field(default=None, description="base64 Ed25519 key that signs catalogue updates")

    @field_validator("public_key")
    @classmethod
    def _usable_key(cls, value: str | None) -> str | None:
        if value is not None:
            from appliance.catalog.signing import load_public_key

            load_public_key(value)
        return value


class CommandsSection(_Section):
    max_payload_bytes: int = Field(default=16 * 1024, ge=256, le=1024 * 1024)


class UpdatesSection(_Section):
    """Software releases (docs/architecture.md, "Releases"): where they live, the key that signs them,
    how fast a booth may fetch one, and how long a new release is on trial before it commits."""

    release_root: Path = Field(default=Path("/opt/kiosk"), description="releases/, wheels/, current, committed")
    public_key_file: Path = Field(default=Path("/etc/kiosk/release.pub"),
                                  description="the release key `kiosk release keygen` printed (root reads it too)")
    max_bytes_per_s: int = Field(default=256 * 1024, ge=4096, le=100 * 1024 * 1024,
                                 description="the most a booth fetches per second (shared links in villages)")
    commit_window_s: int = Field(default=300, ge=30, le=86_400,
                                 description="healthy this long after a switch before a release commits")


SpeechRate = Annotated[int, Field(ge=80, le=350, description="espeak-ng's words per minute")]
VOICE_NAME = r"^[A-Za-z][A-Za-z0-9_+-]{0,39}$"


class SpeechSection(_Section):
    """语音播报 (README, "Voice guidance"): whether the booth speaks, where the sound goes, how loud and how
    fast. Elder mode speaks every screen; the speaker button in every screen's header speaks it on asking."""

    enabled: bool = Field(default=True, description="false: the booth never speaks and shows no speaker button")
    output: Literal["sound", "files", "none"] | None = Field(default=None, description=(
        '"sound": espeak-ng on the sound device (health says speaker: absent while there is none); "files": '
        'a WAV file per utterance in <storage>/speech (the sound device\'s simulator); "none": this booth has '
        'no speaker. Unset: "sound" on real hardware, "none" on simulated hardware'))
    device: str = Field(default="default", pattern=r"^[A-Za-z0-9_:,=.-]{1,80}$",
                        description="the ALSA playback device (aplay -L), e.g. plughw:CARD=Headphones")
    volume: int = Field(default=70, ge=0, le=100, description="percent of espeak-ng's loudest (50: its normal)")
    rate_wpm: SpeechRate = 175
    elder_rate_wpm: SpeechRate = 145
    voice: str = Field(default="cmn-latn-pinyin", pattern=VOICE_NAME,
                       description="espeak-ng's Mandarin (its plain `cmn` reads characters as English pinyin)")
    english_voice: str = Field(default="en", pattern=VOICE_NAME, description="for the screens in English")


SCRYPT_HASH = r"^scrypt\$[0-9]+\$[0-9]+\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"


class AdminSection(_Section):
    pin_hash: str | None = Field(default=None, pattern=SCRYPT_HASH,
                                 description="the admin PIN as written by `kiosk provision init` (salted scrypt)")


class KioskConfig(_Section):
    device: DeviceSection
    broker: BrokerSection
    heartbeat: HeartbeatSection = HeartbeatSection()
    usage: UsageSection = UsageSection()
    storage: StorageSection = StorageSection()
    outbox: OutboxSection = OutboxSection()
    session: SessionSection = SessionSection()
    assist: AssistSection = AssistSection()
    hardware: HardwareSection = HardwareSection()
    catalog: CatalogSection = CatalogSection()
    commands: CommandsSection = CommandsSection()
    admin: AdminSection = AdminSection()
    updates: UpdatesSection = UpdatesSection()
    speech: SpeechSection = SpeechSection()

    @field_validator("storage")
    @classmethod
    def _storage_absolute(cls, v: StorageSection) -> StorageSection:
        if not v.dir.is_absolute():
            raise ValueError("dir must be an absolute path")
        return v

    @property
    def catalog_file(self) -> Path:
        return self.catalog.file or self.storage.dir / "catalog.json"


def _check_files(config: KioskConfig) -> list[str]:
    problems = []
    broker = config.broker
    named: list[tuple[str, Path | None]] = [("broker.password_file", broker.password_file)]
    if broker.tls is not None:
        named += [
            ("broker.tls.ca_file", broker.tls.ca_file),
            ("broker.tls.cert_file", broker.tls.cert_file),
            ("broker.tls.key_file", broker.tls.key_file),
        ]
    for key, path in named:
        if path is not None and not os.access(path, os.R_OK):
            problems.append(f"{key} = {str(path)!r}: file does not exist or is not readable")
    if broker.tls is not None and not problems:
        problems += _check_tls_files(broker.tls)
    return problems


def _check_tls_files(tls: TlsSection) -> list[str]:
    """Load the TLS files as the link will, so a wrong file is named at start, not at connect."""
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=tls.ca_file)
    except (ssl.SSLError, OSError) as exc:
        return [f"broker.tls.ca_file = {str(tls.ca_file)!r}: not a usable PEM CA certificate ({exc})"]
    if tls.cert_file is not None and tls.key_file is not None:
        try:
            context.load_cert_chain(tls.cert_file, tls.key_file)
        except (ssl.SSLError, OSError) as exc:
            return [f"broker.tls.cert_file / key_file: not a PEM certificate with its matching key ({exc})"]
    return []


def parse_config(data: dict, source: str = "config") -> KioskConfig:
    """Validate already-parsed TOML data; raise `ConfigError` listing every problem."""
    try:
        config = KioskConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source} is invalid:\n{listed(exc, unknown=UNKNOWN_KEY)}") from None
    problems = _check_files(config)
    if problems:
        raise ConfigError(f"{source} is invalid:\n" + "\n".join(f"  - {p}" for p in problems))
    return config


def load_config(path: Path | None = None) -> KioskConfig:
    """Read and validate the config at `path`, `$KIOSK_CONFIG`, or /etc/kiosk/kiosk.toml."""
    path = path or Path(os.environ.get("KIOSK_CONFIG", DEFAULT_PATH))
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found (give --config PATH or set KIOSK_CONFIG)") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    return parse_config(data, source=f"config file {path}")
