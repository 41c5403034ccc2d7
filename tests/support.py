"""Real parts for the tests and benchmarks: a Mosquitto broker on a free loopback port, a test CA,
a subscriber that records what the broker delivers, and kiosk configs pointing at them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.config import KioskConfig, parse_config
from provisioning.toml_file import write_toml  # noqa: F401 (the tests write configs with the product's writer)

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PRODUCTION_CONF = Path(__file__).resolve().parent.parent / "central" / "mosquitto" / "kiosk.conf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


# -- a test certificate authority ---------------------------------------------------------------------
@dataclass
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    ca_key: Path

    def issue(self, name: str) -> tuple[Path, Path]:
        """A client certificate and key with common name `name` (a device id, or "central")."""
        ca_key = serialization.load_pem_private_key(self.ca_key.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(self.ca.read_bytes())
        key, cert = _key_and_cert(name, ca_cert.subject, ca_key, ca=False)
        return _write_pem(self.ca.parent / f"{name}.crt", cert), _write_pem(self.ca.parent / f"{name}.key", key)


def _key_and_cert(name: str, issuer_name: x509.Name | None, issuer_key, *, ca: bool, sans=()):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name or subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return key, cert


def _write_pem(path: Path, obj) -> Path:
    if isinstance(obj, x509.Certificate):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)
    return path


def make_test_ca(directory: Path, device_id: str) -> TlsFiles:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _key_and_cert("Kiosk Test CA", None, None, ca=True)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server_key, server_cert = _key_and_cert("localhost", ca_cert.subject, ca_key, ca=False, sans=sans)
    client_key, client_cert = _key_and_cert(device_id, ca_cert.subject, ca_key, ca=False)
    return TlsFiles(
        ca=_write_pem(directory / "ca.crt", ca_cert),
        server_cert=_write_pem(directory / "server.crt", server_cert),
        server_key=_write_pem(directory / "server.key", server_key),
        client_cert=_write_pem(directory / "device.crt", client_cert),
        client_key=_write_pem(directory / "device.key", client_key),
        ca_key=_write_pem(directory / "ca.key", ca_key),
    )


# -- the broker ------------------------------------------------------------------------------------------
class Mosquitto:
    """The Debian `mosquitto` binary with a generated config, persistence on, on a free loopback port."""

    def __init__(self, workdir: Path, *, tls: TlsFiles | None = None, users: dict[str, str] | None = None,
                 extra: str = "", production: bool = False) -> None:
        """`production`: exactly central/mosquitto/kiosk.conf and its ACL, with `tls`'s files, this port
        and a temporary persistence directory in place of the deployed paths."""
        self.production = production
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls = tls
        self.users = users
        self.extra = extra
        self.log = workdir / "mosquitto.log"
        self._process: subprocess.Popen | None = None

    def _config(self) -> str:
        if self.production:
            return self._production_config()
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.workdir}/",
            f"log_dest file {self.log}",
            "log_type all",
            "max_queued_messages 0",
            "max_inflight_messages 100",
            "set_tcp_nodelay true",  # as the production config: no Nagle delay on PUBACKs
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        if self.tls:
            lines += [f"cafile {self.tls.ca}", f"certfile {self.tls.server_cert}",
                      f"keyfile {self.tls.server_key}", "require_certificate false"]
        if self.users:
            passwd = self.workdir / "passwd"
            passwd.write_text("")
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
            lines += ["allow_anonymous false", f"password_file {passwd}"]
        else:
            lines.append("allow_anonymous true")
        return "\n".join(lines) + "\n" + self.extra + "\n"

    def _production_config(self) -> str:
        assert self.tls is not None, "the production config is TLS only"
        text = PRODUCTION_CONF.read_text()
        for deployed, here in [("listener 8883", f"listener {self.port} 127.0.0.1"),
                               ("/etc/mosquitto/kiosk.acl", str(PRODUCTION_CONF.with_name("kiosk.acl"))),
                               ("/etc/mosquitto/certs/ca.crt", str(self.tls.ca)),
                               ("/etc/mosquitto/certs/server.crt", str(self.tls.server_cert)),
                               ("/etc/mosquitto/certs/server.key", str(self.tls.server_key)),
                               ("/var/lib/mosquitto/", f"{self.workdir}/")]:
            assert deployed in text, f"{PRODUCTION_CONF} no longer says {deployed!r}"
            text = text.replace(deployed, here)
        text += f"\nlog_dest file {self.log}\nlog_type all\n" + ("user root\n" if os.geteuid() == 0 else "")
        return text

    def start(self) -> Mosquitto:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self._config())
        self._process = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)

        def accepting() -> bool:
            if self._process.poll() is not None:
                raise AssertionError(f"mosquitto exited: {self.log.read_text() if self.log.exists() else ''}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        wait_until(accepting, timeout=10)
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()  # mosquitto saves its persistence file on SIGTERM
            self._process.wait(timeout=10)
        self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL, as a crash: whatever the broker held only in memory (everything since its last
        autosave, with the default autosave_interval) is gone."""
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def log_count(self, text: str) -> int:
        """How often the broker's own log says `text`."""
        return self.log.read_text(errors="replace").count(text) if self.log.exists() else 0


# -- a subscriber that records everything ---------------------------------------------------------------
@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> dict[str, Any]:
        return json.loads(self.payload)


class Collector:
    """A persistent-session QoS 1 subscriber, like central: nothing is lost across broker restarts."""

    def __init__(self, broker: Mosquitto, topic: str = "kiosk/v1/#", client_id: str = "test-collector",
                 user: tuple[str, str] | None = None, cert: tuple[Path, Path] | None = None) -> None:
        """`cert`: a client certificate and key (`TlsFiles.issue`), for a broker that requires one."""
        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self._topic = topic
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.max_inflight_messages_set(100)
        if broker.tls:
            client.tls_set(ca_certs=str(broker.tls.ca), certfile=cert and str(cert[0]), keyfile=cert and str(cert[1]))
        if user:
            client.username_pw_set(*user)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = lambda *a: self.connected.clear()
        client.reconnect_delay_set(0.2, 1)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        client.connect_async("127.0.0.1", broker.port, 30, clean_start=False, properties=props)
        client.loop_start()
        self.client = client
        if not self.connected.wait(10):
            raise AssertionError("collector could not connect to the test broker")

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if not reason.is_failure:
            client.subscribe(self._topic, qos=1)
            self.connected.set()

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, message.payload, bool(message.retain)))

    def on(self, suffix: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            found = [m for m in self.messages if "/events/" in m.topic]
        return [m.json() for m in found if kind is None or m.topic.endswith("/events/" + kind)]

    def wait_for(self, predicate: Callable[[Collector], Any], timeout: float = 15.0) -> Any:
        return wait_until(lambda: predicate(self), timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Confirmer(Collector):
    """A TEST STAND-IN FOR CENTRAL'S CONFIRMING ROLE, for booth-level tests: a persistent-session QoS 1
    subscriber to every booth's events that records each event it receives (its "database" is the
    `messages` list of this process, which no broker crash can touch) and then confirms it on the
    booth's `ack` topic exactly as central does after a commit, redeliveries included
    (appliance.contract.confirmation, at most MAX_CONFIRMED pairs a message, batched every `every_s`).
    It proves the booth's side of the contract; end-to-end proofs use the real central.

    `confirming` can be cleared to play a central that has stopped confirming.
    """

    def __init__(self, broker: Mosquitto, client_id: str = "test-confirmer", every_s: float = 0.02,
                 user: tuple[str, str] | None = None) -> None:
        self._pending: dict[str, list[tuple[int, str]]] = {}
        self._pending_lock = threading.Lock()
        self.confirming = threading.Event()
        self.confirming.set()
        self.confirmations_sent = 0
        self._closing = threading.Event()
        super().__init__(broker, topic="kiosk/v1/+/events/+", client_id=client_id, user=user)
        self._every_s = every_s
        self._thread = threading.Thread(target=self._send_loop, name="test-confirmer", daemon=True)
        self._thread.start()

    def _on_message(self, client, userdata, message) -> None:
        super()._on_message(client, userdata, message)  # recorded ("committed") first, confirmed after
        event = json.loads(message.payload)
        with self._pending_lock:
            self._pending.setdefault(event["device"], []).append((event["seq"], event["id"]))

    def _send_loop(self) -> None:
        from appliance.contract import MAX_CONFIRMED, QOS_CONFIRMATIONS, confirmation, confirmation_topic

        while not self._closing.wait(self._every_s):
            if not self.confirming.is_set() or not self.connected.is_set():
                continue
            with self._pending_lock:
                pending, self._pending = self._pending, {}
            for device, pairs in pending.items():
                for start in range(0, len(pairs), MAX_CONFIRMED):
                    body = confirmation(pairs[start:start + MAX_CONFIRMED])
                    self.client.publish(confirmation_topic(device), json.dumps(body), qos=QOS_CONFIRMATIONS)
                    self.confirmations_sent += 1

    def received_ids(self) -> list[str]:
        """Every event id received, duplicates included, in arrival order."""
        return [e["id"] for e in self.events()]

    def close(self) -> None:
        self._closing.set()
        self._thread.join(5)
        super().close()


# -- kiosk configs ---------------------------------------------------------------------------------------
def kiosk_config_data(storage: Path, broker_port: int, device_id: str = "test-kiosk-0001", **sections) -> dict:
    data: dict[str, Any] = {
        "device": {"id": device_id, "site": "测试网点 自助服务区", "region": "370203"},
        "broker": {"host": "127.0.0.1", "port": broker_port, "reconnect_min_s": 1, "reconnect_max_s": 2},
        "storage": {"dir": str(storage)},
        "heartbeat": {"interval_s": 3600},
        "hardware": {"simulated": True, "printer": {"poll_s": 0.5}},
    }
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return data


def kiosk_config(storage: Path, broker_port: int, **sections) -> KioskConfig:
    return parse_config(kiosk_config_data(storage, broker_port, **sections))


# -- a citizen ------------------------------------------------------------------------------------------
def citizen_card():
    """The first of the simulator's invented citizens."""
    from drivers.card_reader_pty_sim import TEST_CITIZENS

    return TEST_CITIZENS[0]


TEST_NAME = citizen_card().name
TEST_ID_NUMBER = citizen_card().id_number


PRINTER_FAULTS = ("paper_end", "cover_open", "cutter_error", "paper_near_end")


def set_printer(kiosk, fault: str | None) -> None:
    """Give the simulated printer one fault (or none) and wait until the driver's poll has seen it."""
    from drivers.health import OK, Health, HealthState

    kiosk.hardware.printer_sim.set_state(**{name: name == fault for name in PRINTER_FAULTS})
    expected = OK if fault is None else Health(
        HealthState.DEGRADED if fault == "paper_near_end" else HealthState.FAULT, fault)
    wait_until(lambda: kiosk.hardware.printer.health() == expected, timeout=5)


def printed(kiosk) -> list[list[str]]:
    """The text lines of every receipt the simulated printer has cut, as decoded from its bytes."""
    return [receipt.lines for receipt in kiosk.hardware.printer_sim.receipts]


def place_card(kiosk, card=None) -> None:
    """Put a card on the simulated reader and wait until the core's session holds it."""
    kiosk.hardware.card_reader_sim.place(card or citizen_card())
    wait_until(lambda: kiosk.session is not None and kiosk.session.card is not None, timeout=5)


# -- PostgreSQL ------------------------------------------------------------------------------------------
class Postgres:
    """A private PostgreSQL cluster (Debian's `postgresql` package) in a temporary directory, on a free
    loopback port, trusting local connections; run as the `postgres` user when the tests run as root
    (initdb refuses root), so the directory lives directly under /tmp where that user can reach it."""

    BIN = Path("/usr/lib/postgresql")

    def __init__(self) -> None:
        versions = sorted(self.BIN.glob("*/bin/initdb"))
        if not versions:
            raise FileNotFoundError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = versions[-1].parent
        self.home = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
        self.data = self.home / "pgdata"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.home, "postgres")

    def start(self) -> Postgres:
        subprocess.run([*self._as, str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True)
        subprocess.run([*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                        str(self.data / "server.log"), "-o",
                        f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off", "start"],
                       check=True, capture_output=True)
        return self

    def stop(self) -> None:
        subprocess.run([*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
                       capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


def new_postgres_database(url: str) -> str:
    """A new, empty database on the server of `url` (a test's own, on a cluster a module shares); its URL."""
    from sqlalchemy import create_engine, text

    server = url.rsplit("/", 1)[0]
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{server}/{name}"


# -- systemd's notification socket ----------------------------------------------------------------------
class SystemdSocket:
    """Stands where systemd's notification socket is: a bound AF_UNIX datagram socket that records."""

    def __init__(self, within: Path | None = None) -> None:
        """`within`: the directory to bind in (default a new short one: AF_UNIX paths are ≤ 107 bytes)."""
        self.home = Path(tempfile.mkdtemp(prefix="kiosk-notify-", dir=within))
        self.path = self.home / "notify"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            for line in data.decode().splitlines():
                self.messages.append((time.monotonic(), line))

    def lines(self, since: float = 0.0) -> list[str]:
        return [line for at, line in self.messages if at >= since]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()
        shutil.rmtree(self.home, ignore_errors=True)
