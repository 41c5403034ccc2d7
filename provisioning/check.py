"""`kiosk provision check`: the maintainer's pass/fail report for a provisioned booth, before leaving.

Checks, in order: the config; its booth code (a warning when it is not set: the booth then makes one up
that another booth may share); the broker with the device's own credentials — it may publish under its
own topic and may NOT publish under another device's (the ACL must answer "not authorised"); a
provisioning slip printed (device id, site, region, booth code, QR of the device id); an ID card read
(masked on screen); the LEDs cycled. Exit status 0 only when every check passed (a warning is no failure).
"""

from __future__ import annotations

import argparse
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.config import ConfigError, KioskConfig, load_config
from appliance.contract import command_result_topic, encode, stamped
from appliance.delivery.mqtt_client import booth_client, session
from appliance.devices.hardware import Hardware, build_hardware
from appliance.errors import operator_error
from appliance.receipt_numbers import made_up_code
from appliance.services.self_test import PROVISIONING_SLIP, CardProbe, cycle_leds, test_page
from drivers.health import NOT_OPENED, DeviceAbsent
from drivers.printer import PrintError

NOT_AUTHORISED = 135  # MQTT 5 reason code in the PUBACK
PROBE_DEVICE = "provision-check-probe"  # "another device": no booth is called this


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    warning: bool = False  # passed, but the maintainer should know (it does not change the exit status)

    @property
    def verdict(self) -> str:
        return "FAIL" if not self.ok else "WARN" if self.warning else "PASS"


def without_booth_code(device_id: str) -> str:
    """What a booth without `[device] booth_code` does, and what it costs: said by init and by check."""
    return (f"not set: receipt numbers will carry {made_up_code(device_id)}, made up from the device id, which "
            "another booth may share (central then flags the clash and this booth's receipts are not found by "
            "their number); put the 5-digit code central's office gives under [device] in kiosk.toml as "
            "booth_code = \"NNNNN\" and restart the kiosk")


def booth_code_check(config: KioskConfig) -> Check:
    """The code every receipt number carries (appliance/receipt_numbers.py), checked by the config itself."""
    code = config.device.booth_code
    if code is None:
        return Check("booth code", True, without_booth_code(config.device.id), warning=True)
    return Check("booth code", True, f"{code} (in every receipt number this booth prints)")


def broker_checks(config: KioskConfig, timeout_s: float = 10.0) -> list[Check]:
    """Log in as the booth. The production broker makes the certificate's name the client id, so this
    is the booth's own MQTT session: it is resumed, never started clean, and anything the broker holds
    for the booth (a command sent while it was away) is left unacknowledged, so the broker gives it to
    the booth at its next connection."""
    broker = config.broker
    client = booth_client(broker, config.device.id, manual_ack=True)
    connected, acks, refused = threading.Event(), {}, []
    client.on_connect = lambda _c, _u, _f, reason, _p: (refused.append(str(reason)) if reason.is_failure
                                                        else connected.set())
    client.on_publish = lambda _c, _u, mid, reason, _p: acks.__setitem__(mid, reason.value)
    where = f"{broker.host}:{broker.port}"
    try:
        client.connect(broker.host, broker.port, 30, clean_start=False, properties=session(broker.session_expiry_s))
    except (OSError, ssl.SSLError) as exc:
        return [Check("broker", False, f"cannot connect to {where}: {exc}")]
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            return [Check("broker", False, f"{where} did not accept the device's credentials "
                                           f"({refused[0] if refused else 'no answer'})")]
        probe = encode(stamped(config.device.id, True, {"id": None, "command": "provision-check", "ok": True,
                                                        "result": {"probe": True}}))

        def publish(device: str) -> int | None:
            mid = client.publish(command_result_topic(device), probe, qos=1).mid
            deadline = time.monotonic() + timeout_s
            while mid not in acks and time.monotonic() < deadline:
                time.sleep(0.02)
            return acks.get(mid)

        own, other = publish(config.device.id), publish(PROBE_DEVICE)
        return [Check("broker", True, f"connected to {where} as {config.device.id}"),
                Check("publish own topics", own is not None and own < 128,  # 16: accepted, nobody listening
                      f"accepted (PUBACK reason {own})" if own is not None and own < 128 else f"PUBACK reason {own}"),
                Check("not another device's", other == NOT_AUTHORISED,
                      "refused (not authorised)" if other == NOT_AUTHORISED else
                      f"PUBACK reason {other}: the broker's ACL lets this device write as another one")]
    finally:
        client.disconnect()
        client.loop_stop()


def slip_check(config: KioskConfig, hardware: Hardware, wait_s: float = 10.0) -> Check:
    """The core's test page titled as the provisioning slip, with the region and the booth code: what the
    booth is called."""
    deadline = time.monotonic() + wait_s
    while hardware.printer.health() == NOT_OPENED and time.monotonic() < deadline:
        time.sleep(0.1)  # its first status poll is under way
    device = config.device
    try:
        hardware.printer.print(test_page(device.id, device.site, title=PROVISIONING_SLIP, region=device.region,
                                         booth_code=device.booth_code or "未设置 / not set"))
    except PrintError as exc:
        return Check("printer", False, f"slip not printed: {exc}")
    return Check("printer", True, "provisioning slip printed")


def card_check(hardware: Hardware, timeout_s: float, say: Callable[[str], None]) -> Check:
    """A card placed by the maintainer, read as the maintenance screen's card test reads it."""
    probe = CardProbe()
    probe.arm()
    hardware.card_reader.open(probe.offer)
    say(f"place an ID card on the reader (waiting {timeout_s:.0f} s) …")
    passed, detail = probe.wait(timeout_s, hardware.card_reader.health)
    return Check("card reader", passed, detail)


def led_check(hardware: Hardware) -> Check:
    """Each LED lit alone in turn, as the maintenance screen and central's `led-test` do."""
    try:
        return Check("LEDs", True, "cycled " + ", ".join(cycle_leds(hardware.leds)))
    except DeviceAbsent as exc:
        return Check("LEDs", False, f"none to light: {exc}")
    except RuntimeError as exc:  # LEDs without GPIO, until they raise DeviceAbsent like every device
        return Check("LEDs", False, str(exc))


def run_check(config: KioskConfig, hardware: Hardware, card_timeout_s: float,
              say: Callable[[str], None] = print) -> bool:
    checks = [Check("config", True, f"{config.device.id} at {config.device.site}"), booth_code_check(config)]
    checks += broker_checks(config)
    hardware.printer.open()
    checks.append(slip_check(config, hardware))
    checks.append(card_check(hardware, card_timeout_s, say))
    checks.append(led_check(hardware))
    for check in checks:
        say(f"{check.verdict}  {check.name}: {check.detail}")
    passed = all(check.ok for check in checks)
    warned = [check.name for check in checks if check.ok and check.warning]
    if not passed:
        say("NOT ready: fix what failed and run the check again")
    else:
        say(f"booth ready, with {len(warned)} warning{'s' if len(warned) > 1 else ''}: {', '.join(warned)} "
            "(see WARN above)" if warned else "booth ready")
    return passed


def _run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return operator_error("FAIL  config", exc, stream=sys.stdout)  # the report's first line, on its stream
    config.storage.dir.mkdir(parents=True, exist_ok=True)
    hardware = build_hardware(config)
    try:
        return 0 if run_check(config, hardware, args.card_timeout) else 1
    finally:
        hardware.close()


def add_check_command(sub) -> None:
    check = sub.add_parser("check", help="self-test a provisioned booth: config, broker ACL, slip, card, LEDs")
    check.add_argument("--config", type=Path)
    check.add_argument("--card-timeout", type=float, default=60, help="seconds to wait for an ID card")
    check.set_defaults(func=_run)
