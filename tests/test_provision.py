"""`kiosk provision init` as a maintainer runs it: from flags, a file or prompts; bad values refused with
what is allowed and nothing written; the config and keys written with their modes; the CSR signed by
the (test) central CA makes a config the kiosk accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from appliance.config import load_config
from appliance.state.admin_pin import pin_matches
from tests.support import make_test_ca

KIOSK = [sys.executable, "-m", "appliance.cli", "provision", "init"]


def init(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*KIOSK, *args], input=stdin, capture_output=True, text=True, timeout=60)


def sign(tls, csr_path: Path, cert_path: Path) -> None:
    """What the central CA does with the booth's request."""
    import datetime as dt

    csr = x509.load_pem_x509_csr(csr_path.read_bytes())
    ca_key = serialization.load_pem_private_key(tls.ca_key.read_bytes(), None)
    ca = x509.load_pem_x509_certificate(tls.ca.read_bytes())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject).public_key(csr.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=9)).sign(ca_key, hashes.SHA256()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_flags_make_a_config_and_keys_that_the_kiosk_accepts_once_signed(tmp_path: Path) -> None:
    tls = make_test_ca(tmp_path / "ca", "unused")
    etc = tmp_path / "etc"
    done = init("--etc-dir", str(etc), "--device-id", "qd-sn-0007", "--site", "市南区政务服务中心 一楼",
                "--region", "370202", "--broker-host", "mqtt.example.gov.cn", "--ca-file", str(tls.ca),
                "--admin-pin", "246810", "--paper-width-mm", "58")
    assert done.returncode == 0, done.stderr
    assert (etc / "kiosk.toml").stat().st_mode & 0o777 == 0o640
    assert (etc / "device.key").stat().st_mode & 0o777 == 0o600
    csr = x509.load_pem_x509_csr((etc / "device.csr").read_bytes())
    assert csr.subject.rfc4514_string() == "CN=qd-sn-0007" and csr.is_signature_valid
    assert "246810" not in (etc / "kiosk.toml").read_text()
    assert "device.crt" in done.stdout  # says what to do next
    sign(tls, etc / "device.csr", etc / "device.crt")
    config = load_config(etc / "kiosk.toml")
    assert (config.device.id, config.device.site, config.hardware.printer.paper_width_mm) == (
        "qd-sn-0007", "市南区政务服务中心 一楼", 58)
    assert config.hardware.simulated is False and pin_matches("246810", config.admin.pin_hash)
    again = init("--etc-dir", str(etc), "--device-id", "qd-sn-0008")
    assert again.returncode == 2 and "--force" in again.stderr  # an existing booth is not overwritten


def test_bad_values_are_named_with_what_is_allowed_and_nothing_is_written(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    done = init("--etc-dir", str(etc), "--device-id", "Booth 7", "--region", "37", "--broker-port", "70000",
                "--ca-file", str(tmp_path / "missing.crt"), "--admin-pin", "1234", "--led-green", "22")
    assert done.returncode == 2
    for named in ("admin_pin: the admin PIN must be 6 to 12 digits",
                  "device_id: use 3–63 lower-case letters, digits or '-'", "site: missing (give --site",
                  "region: a 6-digit administrative division code (e.g. 370202)",
                  "broker_port: Input should be less than or equal to 65535", "missing.crt' is not a file",
                  "hardware.leds: green, amber and red must be three different pins"):
        assert named in done.stderr, (named, done.stderr)
    assert not etc.exists()
    tls = make_test_ca(tmp_path / "ca", "qd-sn-0001")
    rest = init("--etc-dir", str(etc), "--device-id", "qd-sn-0001", "--site", "", "--region", "370202",
                "--broker-host", "", "--ca-file", str(tls.ca), "--admin-pin", "12345678901234",
                "--card-reader-port", "", "--printer-port", "", "--paper-width-mm", "70", "--led-red", "40")
    assert rest.returncode == 2
    for named in ("site: String should have at least 1 character", "broker_host: String should have at least 1",
                  "card_reader_port: String should have at least 1", "printer_port: String should have at least 1",
                  "paper_width_mm: Input should be 58 or 80", "led_red: Input should be less than or equal to 27",
                  "admin_pin: the admin PIN must be 6 to 12 digits"):
        assert named in rest.stderr, (named, rest.stderr)
    not_a_number = init("--etc-dir", str(etc), "--broker-port", "eighty")
    assert not_a_number.returncode == 2 and "--broker-port: invalid int value: 'eighty'" in not_a_number.stderr
    assert not etc.exists()


def test_a_booth_code_central_could_not_have_given_is_refused_and_one_it_could_is_written(tmp_path: Path) -> None:
    tls = make_test_ca(tmp_path / "ca", "unused")
    site = ("--device-id", "qd-sn-0007", "--site", "市南区政务服务中心", "--region", "370202", "--broker-host",
            "mqtt.example.gov.cn", "--ca-file", str(tls.ca), "--admin-pin", "246810")
    etc = tmp_path / "etc"
    for bad in ("95000", "1234", "00000", "0123a", "012345"):  # made up by booths, short, none, not digits, long
        refused = init("--etc-dir", str(etc), *site, "--booth-code", bad)
        assert refused.returncode == 2 and refused.stdout == "", refused
        assert refused.stderr.count("\n") == 1, refused.stderr  # one line
        assert "nothing written; booth_code: use the 5-digit booth code central's office gave this booth, " \
               "00001–89999" in refused.stderr
        assert not etc.exists()
    written = init("--etc-dir", str(etc), *site, "--booth-code", "01234")
    assert written.returncode == 0, written.stderr
    sign(tls, etc / "device.csr", etc / "device.crt")  # the config names the certificate: load_config wants it
    assert load_config(etc / "kiosk.toml").device.booth_code == "01234" and "warning" not in written.stdout
    before = {name: (etc / name).read_bytes() for name in ("kiosk.toml", "device.key", "device.csr", "device.crt")}
    replaced = init("--etc-dir", str(etc), *site, "--booth-code", "90001", "--force")
    assert replaced.returncode == 2 and "booth_code" in replaced.stderr
    assert {name: (etc / name).read_bytes() for name in before} == before, "a refused run loses nothing"
    sheet = tmp_path / "site.toml"
    sheet.write_text('booth_code = 1234\n', encoding="utf-8")  # a TOML integer: its leading zero is gone
    assert "a quoted string" in init("--etc-dir", str(tmp_path / "etc2"), "--from", str(sheet), *site).stderr
    sheet.write_text('booth_code = "00001"\n', encoding="utf-8")
    assert init("--etc-dir", str(tmp_path / "etc2"), "--from", str(sheet), *site).returncode == 0
    sign(tls, tmp_path / "etc2" / "device.csr", tmp_path / "etc2" / "device.crt")
    assert load_config(tmp_path / "etc2" / "kiosk.toml").device.booth_code == "00001"
    without = init("--etc-dir", str(tmp_path / "etc3"), *site)
    assert without.returncode == 0, without.stderr
    sign(tls, tmp_path / "etc3" / "device.csr", tmp_path / "etc3" / "device.crt")
    assert load_config(tmp_path / "etc3" / "kiosk.toml").device.booth_code is None
    assert "warning: booth code not set: receipt numbers will carry 9" in without.stdout
    assert "another booth may share" in without.stdout


def test_a_person_is_asked_again_after_a_bad_answer(tmp_path: Path) -> None:
    tls = make_test_ca(tmp_path / "ca", "unused")
    etc = tmp_path / "etc"
    provisioning_file = tmp_path / "site.toml"
    provisioning_file.write_text('site = "崂山区便民服务站"\nbroker_host = "mqtt.example.gov.cn"\n', encoding="utf-8")
    # device id, a bad region, a booth code a booth makes up, then Enter for the defaults, the CA file, a 5-digit
    # PIN; asked again: region, booth code, PIN (the empty answer after the CA file: no certificate yet, make a key
    # and a CSR; then the touchscreen)
    touch = "/dev/input/by-path/platform-fe205000.i2c-event"
    answers = ["qd-ls-0001", "3702", "95000", "", str(tls.ca), "", "", "", "", "", "", "", touch, "13579", "370212",
               "02345", "135790"]
    done = init("--etc-dir", str(etc), "--from", str(provisioning_file), "--interactive", stdin="\n".join(answers))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "please answer again" in done.stdout and "region" in done.stdout
    assert "booth code from central's office (5 digits, 00001–89999" in done.stdout  # asked with what is allowed
    assert "booth_code: use the 5-digit booth code central's office gave this booth" in done.stdout
    text = (etc / "kiosk.toml").read_text(encoding="utf-8")
    assert 'region = "370212"' in text and 'site = "崂山区便民服务站"' in text
    assert 'booth_code = "02345"' in text and "warning" not in done.stdout
    assert (etc / "device.csr").exists() and not (etc / "device.crt").exists()
    assert f'touchscreen = "{touch}"' in text
    typo = tmp_path / "typo.toml"
    typo.write_text('site = "崂山区便民服务站"\nbroker_hots = "mqtt.example.gov.cn"\n', encoding="utf-8")
    refused = init("--etc-dir", str(tmp_path / "etc3"), "--from", str(typo))
    assert refused.returncode == 2 and "unknown keys broker_hots" in refused.stderr and not (tmp_path / "etc3").exists()
    cut = init("--etc-dir", str(tmp_path / "etc2"), "--interactive", stdin="qd-ls-0002\n")
    assert cut.returncode == 2 and "nothing written" in cut.stderr and not (tmp_path / "etc2").exists()


def test_a_certificate_the_ca_already_issued_is_checked_then_installed(tmp_path: Path) -> None:
    import datetime as dt

    tls = make_test_ca(tmp_path / "ca", "qd-sn-0009")
    other = make_test_ca(tmp_path / "other-ca", "qd-sn-0009")
    wrong_name_cert, wrong_name_key = tls.issue("qd-sn-0010")
    key = serialization.load_pem_private_key(tls.client_key.read_bytes(), None)
    ca_key = serialization.load_pem_private_key(tls.ca_key.read_bytes(), None)
    ca = x509.load_pem_x509_certificate(tls.ca.read_bytes())
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    expired = tmp_path / "expired.crt"
    expired.write_bytes(x509.CertificateBuilder().subject_name(x509.load_pem_x509_certificate(
        tls.client_cert.read_bytes()).subject).issuer_name(ca.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(past)
        .not_valid_after(past + dt.timedelta(days=365)).sign(ca_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM))
    site = ("--device-id", "qd-sn-0009", "--site", "市南区政务服务中心", "--region", "370202", "--broker-host",
            "mqtt.example.gov.cn", "--ca-file", str(tls.ca), "--admin-pin", "246810")
    for cert, key_file, said in (
            (wrong_name_cert, wrong_name_key, "the certificate names ['qd-sn-0010'], not 'qd-sn-0009'"),
            (tls.client_cert, other.client_key, "key_file: this key does not belong to the certificate"),
            (other.client_cert, other.client_key, "cert_file: not issued by the CA in"),
            (expired, tls.client_key, "cert_file: valid only from"),
            (tls.client_cert, None, "give cert_file and key_file together"),
            (tls.ca_key, tls.client_key, "is not a readable PEM certificate")):
        etc = tmp_path / "refused"
        key_args = ("--key-file", str(key_file)) if key_file else ()
        done = init("--etc-dir", str(etc), *site, "--cert-file", str(cert), *key_args)
        assert done.returncode == 2 and said in done.stderr, (said, done.stderr)
        assert not etc.exists()
    etc = tmp_path / "etc"
    done = init("--etc-dir", str(etc), *site, "--cert-file", str(tls.client_cert), "--key-file", str(tls.client_key))
    assert done.returncode == 0, done.stderr
    assert (etc / "device.crt").read_bytes() == tls.client_cert.read_bytes() and not (etc / "device.csr").exists()
    assert (etc / "device.key").stat().st_mode & 0o777 == 0o600  # no `kiosk` group here: only the owner reads it
    assert "next: `kiosk provision check`" in done.stdout
    assert load_config(etc / "kiosk.toml").device.id == "qd-sn-0009"


def _check_config(tmp_path: Path, broker, tls=None, **device):
    from appliance.config import parse_config
    from tests.support import kiosk_config_data

    broker_section = {"host": "localhost"}
    if tls is not None:
        cert, key = tls.issue("kiosk-a")
        broker_section["tls"] = {"ca_file": str(tls.ca), "cert_file": str(cert), "key_file": str(key)}
    (tmp_path / "state").mkdir(exist_ok=True)
    return parse_config(kiosk_config_data(tmp_path / "state", broker.port, device_id="kiosk-a",
                                          broker=broker_section, device=device))


def test_check_passes_a_well_provisioned_booth(tmp_path: Path) -> None:
    import threading

    from appliance.devices.hardware import build_hardware
    from provisioning.check import run_check
    from tests.support import Mosquitto, citizen_card

    tls = make_test_ca(tmp_path / "ca", "unused")
    broker = Mosquitto(tmp_path / "broker", tls=tls, production=True).start()
    config = _check_config(tmp_path, broker, tls, booth_code="01234")
    hardware = build_hardware(config)
    said: list[str] = []
    threading.Timer(1.0, lambda: hardware.card_reader_sim.place(citizen_card())).start()  # the maintainer's card
    try:
        assert run_check(config, hardware, card_timeout_s=15, say=said.append), said
        slip = hardware.printer_sim.receipts[-1].lines
    finally:
        hardware.close()
        broker.stop()
    assert [line.split(":")[0] for line in said if line.startswith("PASS")] == [
        "PASS  config", "PASS  booth code", "PASS  broker", "PASS  publish own topics", "PASS  not another device's",
        "PASS  printer", "PASS  card reader", "PASS  LEDs"]
    assert said[-1] == "booth ready" and "kiosk-a" in " ".join(slip)
    assert any("终端编码" in line and "01234" in line for line in slip), slip
    assert citizen_card().name not in " ".join(said)  # masked


def test_check_fails_when_the_broker_lets_a_booth_write_as_another(tmp_path: Path, broker) -> None:
    from appliance.devices.hardware import build_hardware
    from appliance.receipt_numbers import made_up_code
    from provisioning.check import booth_code_check, run_check

    config = _check_config(tmp_path, broker)  # the test broker: anonymous, no ACL; no booth code either
    hardware = build_hardware(config)
    said: list[str] = []
    try:
        assert not run_check(config, hardware, card_timeout_s=1, say=said.append)
        slip = hardware.printer_sim.receipts[-1].lines
    finally:
        hardware.close()
    [warned] = [line for line in said if line.startswith("WARN")]
    assert warned.startswith("WARN  booth code: not set: receipt numbers will carry " + made_up_code("kiosk-a"))
    assert "another booth may share" in warned and 'booth_code = "NNNNN"' in warned
    assert booth_code_check(config).ok, "a warning, not a failure: it alone does not fail the check"
    assert any("终端编码" in line and "未设置" in line for line in slip), slip
    assert any(line.startswith("FAIL  not another device's") and "ACL" in line for line in said)
    assert any(line.startswith("FAIL  card reader: no card read") for line in said)
    assert said[-1].startswith("NOT ready")
    broken = tmp_path / "broken.toml"
    broken.write_text("[device]\nid = 'x'\n")
    cli = subprocess.run([sys.executable, "-m", "appliance.cli", "provision", "check", "--config", str(broken)],
                         capture_output=True, text=True, timeout=60)
    assert cli.returncode == 2 and cli.stdout.startswith("FAIL  config:")


def test_check_leaves_the_booth_its_session_and_the_command_waiting_for_it(tmp_path: Path) -> None:
    """The production broker makes the certificate's name the client id, so the check logs in as the
    booth's own session: a command sent while the booth was stopped still reaches it afterwards."""
    import json
    import time as clock

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from appliance.contract import command_topic, encode, iso
    from appliance.kiosk import Kiosk
    from provisioning.check import broker_checks
    from tests.support import Mosquitto, wait_until

    tls = make_test_ca(tmp_path / "ca", "unused")
    broker = Mosquitto(tmp_path / "broker", tls=tls, production=True).start()
    config = _check_config(tmp_path, broker, tls)
    results: list[dict] = []
    clients = []

    def connect(name: str, on_message=None) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        cert, key = tls.issue(name)
        client.tls_set(ca_certs=str(tls.ca), certfile=str(cert), keyfile=str(key))
        if on_message is not None:
            client.on_message = on_message
        client.connect("localhost", broker.port)
        client.loop_start()
        clients.append(client)
        return client

    booth = Kiosk(config)
    try:
        booth.start()  # the booth's first start makes its session on the broker
        wait_until(lambda: booth.link.connected, timeout=10)
        booth.stop()
        central = connect("central-1", lambda _c, _u, m: results.append(json.loads(m.payload)))
        central.subscribe("kiosk/v1/+/cmd-result", qos=1)
        request = {"id": "sent-while-away", "expires": iso(clock.time() + 600), "args": {}}
        connect("central-cli").publish(command_topic("kiosk-a", "ping"), encode(request), qos=1).wait_for_publish(5)
        assert all(check.ok for check in broker_checks(config)), "the check itself passes"
        booth = Kiosk(config)
        booth.start()
        wait_until(lambda: any(r.get("id") == "sent-while-away" and r.get("ok") for r in results), timeout=15)
    finally:
        booth.stop()
        for client in clients:
            client.disconnect()
            client.loop_stop()
        broker.stop()
