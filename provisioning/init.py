"""`kiosk provision init`: turn the sheet of a site's details into `/etc/kiosk/kiosk.toml` and keys.

Values come from a provisioning file (`--from`), flags, or — with `--interactive` — prompts that show
what is allowed and ask again after a bad answer. Everything is checked by the device config's own
schema before anything is written; then the config and the key are written atomically (0640, group
`kiosk` so the service can read them and not change them; 0600 where that group does not exist), so a
refused or interrupted run leaves no half-written file. Given the certificate the central CA already
issued (and its key), it checks that they belong together, name this device and come from that CA;
otherwise it generates the device's private key and a certificate signing request for the CA.

The booth code central's office gives (`[device] booth_code`, in every receipt number) is asked with the
rest and checked by the config's own validator; a booth provisioned without one is told what that costs
(it makes one up that another booth may share), here and by `kiosk provision check`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import grp
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from appliance.config import ConfigError, KioskConfig
from appliance.errors import operator_error
from appliance.files import write_atomically
from appliance.state.admin_pin import PinError, hash_pin
from appliance.validation import problems as refused
from provisioning.check import add_check_command, without_booth_code
from provisioning.toml_file import toml_text


@dataclass(frozen=True)
class Question:
    key: str  # flag and provisioning-file key
    where: tuple[str, ...]  # its place in kiosk.toml
    prompt: str
    default: Any = None
    kind: Callable[[str], Any] = str
    asked_if: str | None = None  # asked only when this other answer was given


QUESTIONS = [
    Question("device_id", ("device", "id"), "device id (lower-case letters, digits, '-', 3–63)"),
    Question("site", ("device", "site"), "site name and address, as citizens know it"),
    Question("region", ("device", "region"), "region code (6-digit administrative division)"),
    Question("booth_code", ("device", "booth_code"), "booth code from central's office (5 digits, 00001–89999; "
             "empty: none yet, and the booth makes one up that another booth may share)", ""),
    Question("broker_host", ("broker", "host"), "broker host name"),
    Question("broker_port", ("broker", "port"), "broker port", 8883, int),
    Question("ca_file", ("broker", "tls", "ca_file"), "central CA certificate (PEM file)"),
    Question("cert_file", (), "this device's certificate, if the CA already issued it (empty: make a key and CSR)",
             ""),
    Question("key_file", (), "that certificate's private key (PEM file)", asked_if="cert_file"),
    Question("card_reader_port", ("hardware", "card_reader", "port"), "card reader serial port", "/dev/ttyUSB0"),
    Question("printer_port", ("hardware", "printer", "port"), "printer serial port or /dev/usb/lp0", "/dev/ttyUSB1"),
    Question("paper_width_mm", ("hardware", "printer", "paper_width_mm"), "paper width in mm (58 or 80)", 80, int),
    Question("led_green", ("hardware", "leds", "green"), "green LED, BCM pin", 17, int),
    Question("led_amber", ("hardware", "leds", "amber"), "amber LED, BCM pin", 27, int),
    Question("led_red", ("hardware", "leds", "red"), "red LED, BCM pin", 22, int),
    Question("touchscreen", ("hardware", "touchscreen"), "touchscreen input device, watched for vanishing "
             "(empty: none)", ""),
]


CERTIFICATE_PAIR = {"cert_file", "key_file"}
SERVICE_GROUP = "kiosk"  # the booth's service runs as user and group kiosk (provisioning/install.py)


class ProvisionError(Exception):
    """Values that cannot make a booth; the message names each and what is allowed."""


def devices_found() -> dict[str, list[str]]:
    """What a person is offered at the prompts: the serial ports pyserial finds, the input devices."""
    from serial.tools import list_ports

    ports = sorted(port.device for port in list_ports.comports())
    inputs = sorted(str(p) for p in Path("/dev/input/by-path").glob("*-event*"))
    return {"card_reader_port": ports, "printer_port": ports, "touchscreen": inputs}


def _nested(where: tuple[str, ...], value: Any, into: dict) -> None:
    for part in where[:-1]:
        into = into.setdefault(part, {})
    into[where[-1]] = value


def build_config(answers: dict[str, Any], etc: Path) -> dict:
    data: dict[str, Any] = {"hardware": {"simulated": False}}
    for question in QUESTIONS:
        if question.where:
            value = answers.get(question.key, question.default)
            optional = question.default == ""
            _nested(question.where, None if optional and value == "" else value, data)  # "" is "none" there
    data["broker"]["tls"].update(cert_file=str(etc / "device.crt"), key_file=str(etc / "device.key"))
    data["storage"] = {"dir": "/var/lib/kiosk"}
    if answers.get("pin_hash"):
        data["admin"] = {"pin_hash": answers["pin_hash"]}
    return data


def problems(data: dict, answers: dict[str, Any]) -> dict[str, str]:
    """question key → what is wrong, from the config schema itself (TLS files are checked apart)."""
    found: dict[str, str] = {}
    try:
        KioskConfig.model_validate(data)
    except ValidationError as exc:
        for problem in refused(exc):
            loc = tuple(str(p) for p in problem.loc)
            question = next((q for q in QUESTIONS if q.where and loc[:len(q.where)] == q.where), None)
            key = question.key if question else problem.key
            message = problem.message
            if question is not None and answers.get(key, question.default) is None:
                message = f"missing (give --{key.replace('_', '-')} or `{key} = …` in the provisioning file)"
            found.setdefault(key, message)
    if not found.get("ca_file") and not Path(str(answers.get("ca_file", ""))).is_file():
        found["ca_file"] = f"{answers.get('ca_file')!r} is not a file (the central CA's certificate, PEM)"
    if not found and (answers.get("cert_file") or answers.get("key_file")):
        found.update(certificate_problems(answers))
    return found


def certificate_problems(answers: dict[str, Any]) -> dict[str, str]:
    """An existing certificate must carry this device's id, come from the central CA, be valid now and
    belong to the key given with it; otherwise the broker would refuse the booth on site."""
    if not answers.get("cert_file") or not answers.get("key_file"):
        return {"cert_file": "give cert_file and key_file together (or neither, to make a key and a CSR)"}
    try:
        cert = x509.load_pem_x509_certificate(Path(answers["cert_file"]).read_bytes())
    except (OSError, ValueError) as exc:
        return {"cert_file": f"{answers['cert_file']!r} is not a readable PEM certificate ({exc})"}
    try:
        key = serialization.load_pem_private_key(Path(answers["key_file"]).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        return {"key_file": f"{answers['key_file']!r} is not a readable, unencrypted PEM private key ({exc})"}
    if public_der(cert.public_key()) != public_der(key.public_key()):
        return {"key_file": "this key does not belong to the certificate in cert_file"}
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [answers["device_id"]]:
        return {"cert_file": f"the certificate names {names or 'no device'}, not {answers['device_id']!r} "
                             "(the broker takes its common name as the device id)"}
    try:
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(Path(answers["ca_file"]).read_bytes()))
    except (ValueError, TypeError, InvalidSignature):
        return {"cert_file": f"not issued by the CA in {answers['ca_file']}"}
    now = dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        return {"cert_file": f"valid only from {cert.not_valid_before_utc:%Y-%m-%d %H:%M} to "
                             f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC (check the booth's clock, or ask for "
                             "a new certificate)"}
    return {}


def ask(questions: list[Question], answers: dict[str, Any], read: Callable[[str], str],
        found: dict[str, list[str]]) -> None:
    for question in questions:
        if question.asked_if and not answers.get(question.asked_if):
            continue
        offer = f" [found: {', '.join(found[question.key])}]" if found.get(question.key) else ""
        optional = question.default == ""  # an empty answer means "none", even when asked again
        default = None if optional else answers.get(question.key, question.default)
        text = read(f"{question.prompt}{offer}{f' [{default}]' if default is not None else ''}: ").strip()
        if text or default is None:
            try:
                answers[question.key] = question.kind(text)
            except ValueError:
                answers[question.key] = text  # the schema names what is allowed


def public_der(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key_and_csr(device_id: str) -> tuple[bytes, bytes]:
    """The device's private key (P-256) and a CSR with its device id as common name (the broker's
    username is the certificate's CN)."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, device_id)]))
           .sign(key, hashes.SHA256()))
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem_key, csr.public_bytes(serialization.Encoding.PEM)


def provision(args: argparse.Namespace, read: Callable[[str], str] = input) -> int:
    etc: Path = args.etc_dir
    config_path = etc / "kiosk.toml"
    if config_path.exists() and not args.force:
        raise ProvisionError(f"{config_path} exists; give --force to replace it")
    answers: dict[str, Any] = {}
    if args.from_file:
        try:
            answers.update(tomllib.loads(args.from_file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ProvisionError(f"provisioning file {args.from_file}: {exc}") from None
        unknown = sorted(set(answers) - {q.key for q in QUESTIONS} - {"admin_pin"})
        if unknown:
            allowed = ", ".join([q.key for q in QUESTIONS] + ["admin_pin"])
            raise ProvisionError(f"provisioning file {args.from_file}: unknown keys {', '.join(unknown)}; "
                                 f"allowed: {allowed}")
    answers.update({q.key: getattr(args, q.key) for q in QUESTIONS if getattr(args, q.key, None) is not None})
    file_pin = answers.pop("admin_pin", None)
    pin = args.admin_pin or file_pin  # a flag wins over the file, as for every other value
    offers = devices_found() if args.interactive else {}
    if args.interactive:
        ask([q for q in QUESTIONS if q.key not in answers], answers, read, offers)
    while True:
        if args.interactive and not pin:
            prompt = "admin PIN (6–12 digits): "
            pin = (getpass.getpass(prompt) if read is input and sys.stdin.isatty() else read(prompt)).strip()
        try:
            answers["pin_hash"], found = hash_pin(str(pin or "")), {}
        except PinError as exc:
            answers["pin_hash"], found, pin = None, {"admin_pin": str(exc)}, None
        data = build_config(answers, etc)
        found.update(problems(data, answers))
        if not found:
            break
        report = "\n".join(f"  - {key}: {message}" for key, message in found.items())
        if not args.interactive:
            [(key, message), *more] = found.items()
            raise ProvisionError(f"nothing written; these values cannot be used:\n{report}" if more else
                                 f"nothing written; {key}: {message}")  # one problem, one line
        print(f"please answer again:\n{report}")
        if found.keys() & CERTIFICATE_PAIR:  # either may be the wrong one
            found.update(dict.fromkeys(CERTIFICATE_PAIR - found.keys(), ""))
        ask([q for q in QUESTIONS if q.key in found], answers, read, offers)

    etc.mkdir(parents=True, exist_ok=True)
    group = service_group()
    secret = 0o640 if group is not None else 0o600  # the key: readable by the service, nobody else
    made = []
    if answers.get("cert_file"):
        write_atomically(etc / "device.key", Path(answers["key_file"]).read_bytes(), secret, group)
        write_atomically(etc / "device.crt", Path(answers["cert_file"]).read_bytes(), 0o644)
        made = [etc / "device.key", etc / "device.crt"]
    elif not (etc / "device.key").exists() or args.force:
        key, csr = generate_key_and_csr(answers["device_id"])
        write_atomically(etc / "device.key", key, secret, group)
        write_atomically(etc / "device.csr", csr, 0o644)
        made = [etc / "device.key", etc / "device.csr"]
    write_atomically(config_path, toml_text(data).encode("utf-8"), 0o640, group)
    owner = f", group {SERVICE_GROUP}" if group is not None else ""
    print(f"wrote {config_path} (0640{owner})" + "".join(f", {p} ({p.stat().st_mode & 0o777:04o})" for p in made))
    if data["device"].get("booth_code") is None:
        print(f"warning: booth code {without_booth_code(answers['device_id'])}")
    if not (etc / "device.crt").exists():
        print(f"next: have the central CA sign {etc / 'device.csr'} and put the certificate at {etc / 'device.crt'}, "
              "then run `kiosk provision check`")
    else:
        print("next: `kiosk provision check`")
    return 0


def service_group() -> int | None:
    """The service's group id when this machine has it (a booth installed by provisioning/install.py)."""
    try:
        return grp.getgrnam(SERVICE_GROUP).gr_gid
    except KeyError:
        return None


def add_provision_commands(commands: Any) -> None:
    provision_parser = commands.add_parser("provision", help="provision this device into a named booth")
    sub = provision_parser.add_subparsers(dest="provision_command", required=True)
    init = sub.add_parser("init", help="write the booth's config and keys (from a file, flags or prompts)")
    init.add_argument("--from", dest="from_file", type=Path, help="provisioning file (TOML, the keys below)")
    init.add_argument("--interactive", action="store_true", help="ask for every value not given")
    init.add_argument("--etc-dir", type=Path, default=Path("/etc/kiosk"))
    init.add_argument("--force", action="store_true", help="replace an existing config and key")
    init.add_argument("--admin-pin", help="6–12 digits; stored only as a salted hash")
    for question in QUESTIONS:
        init.add_argument(f"--{question.key.replace('_', '-')}", dest=question.key, type=question.kind,
                          help=question.prompt)
    init.set_defaults(func=_run)
    add_check_command(sub)


def _run(args: argparse.Namespace) -> int:
    try:
        return provision(args)
    except (ProvisionError, ConfigError) as exc:
        return operator_error("kiosk provision", exc)
    except EOFError:
        return operator_error("kiosk provision", "input ended before every value was given; nothing written")
