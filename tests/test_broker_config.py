"""The production Mosquitto config (central/mosquitto/kiosk.conf and kiosk.acl), started as it is with a
generated test CA: TLS only, a certificate per booth, and each booth confined to its own topics."""

from __future__ import annotations

import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support import Mosquitto, make_test_ca, wait_until


class Client:
    """A raw MQTT 5 client that remembers what the broker answered and what it delivered."""

    def __init__(self, broker: Mosquitto, name: str | None, certificate: bool = True) -> None:
        tls = broker.tls
        self.received: list[str] = []
        self.acks: dict[int, int] = {}
        self.granted: list[int] = []
        self.refused: list[str] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-test-{name}", protocol=mqtt.MQTTv5)
        cert, key = tls.issue(name) if certificate else (None, None)
        self.client.tls_set(ca_certs=str(tls.ca), certfile=str(cert) if cert else None,
                            keyfile=str(key) if key else None)
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, m: self.received.append(m.topic)
        self.client.on_publish = lambda _c, _u, mid, reason, _p: self.acks.__setitem__(mid, reason.value)
        self.client.on_subscribe = lambda _c, _u, _mid, reasons, _p: self.granted.extend(r.value for r in reasons)
        self.client.connect_async("localhost", broker.port)
        self.client.loop_start()

    def _on_connect(self, _client, _userdata, _flags, reason, _properties) -> None:
        if reason.is_failure:
            self.refused.append(str(reason))
        else:
            self.ready.set()

    def publish(self, topic: str) -> int:
        """Publish QoS 1 and return the PUBACK's reason code (0 = accepted, 135 = not authorised)."""
        mid = self.client.publish(topic, b'{"probe": true}', qos=1).mid
        wait_until(lambda: mid in self.acks, timeout=5)
        return self.acks[mid]

    def subscribe(self, topic: str) -> int:
        before = len(self.granted)
        self.client.subscribe(topic, qos=1)
        wait_until(lambda: len(self.granted) > before, timeout=5)
        return self.granted[-1]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def production_broker(tmp_path: Path):
    broker = Mosquitto(tmp_path / "broker", tls=make_test_ca(tmp_path / "tls", "kiosk-a"), production=True).start()
    clients: list[Client] = []

    def connect(name: str | None, certificate: bool = True) -> Client:
        client = Client(broker, name, certificate)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()
    broker.stop()


def test_a_booth_may_publish_only_as_itself_and_read_only_its_own_commands(production_broker) -> None:
    central = production_broker("central-1")
    booth_a, booth_b = production_broker("kiosk-a"), production_broker("kiosk-b")
    for client in (central, booth_a, booth_b):
        assert client.ready.wait(10), client.refused
    assert central.subscribe("$share/central/kiosk/v1/+/heartbeat") < 128
    assert central.subscribe("$share/central/kiosk/v1/+/events/+") < 128

    assert booth_a.publish("kiosk/v1/kiosk-a/heartbeat") == 0
    assert booth_a.publish("kiosk/v1/kiosk-a/events/rating") == 0
    assert booth_a.publish("kiosk/v1/kiosk-b/heartbeat") == 135  # not authorised: another booth's topic
    assert booth_a.publish("kiosk/v1/kiosk-b/events/submission") == 135
    assert booth_a.publish("kiosk/v1/kiosk-b/cmd/maintenance") == 135  # nor command another booth
    assert booth_a.publish("kiosk/v1/catalog/110101") == 135  # nor replace the catalogue
    wait_until(lambda: sorted(central.received) == ["kiosk/v1/kiosk-a/events/rating", "kiosk/v1/kiosk-a/heartbeat"])

    assert booth_b.subscribe("kiosk/v1/kiosk-b/cmd/+") < 128
    assert booth_b.subscribe("kiosk/v1/catalog/+") < 128
    # Mosquitto grants any subscription but delivers only what the ACL lets the subscriber read.
    booth_a.subscribe("kiosk/v1/kiosk-b/cmd/+")
    booth_a.subscribe("kiosk/v1/+/heartbeat")
    assert central.publish("kiosk/v1/kiosk-b/cmd/ping") == 0
    assert central.publish("kiosk/v1/catalog/110101") == 0
    assert booth_b.publish("kiosk/v1/kiosk-b/heartbeat") == 0
    wait_until(lambda: sorted(booth_b.received) == ["kiosk/v1/catalog/110101", "kiosk/v1/kiosk-b/cmd/ping"])
    wait_until(lambda: "kiosk/v1/kiosk-b/heartbeat" in central.received)
    assert booth_a.received == []  # neither booth B's command nor its heartbeat reached booth A


def test_no_certificate_no_connection(production_broker) -> None:
    stranger = production_broker("stranger", certificate=False)
    assert not stranger.ready.wait(3)


def test_plain_mqtt_is_not_offered(production_broker, tmp_path: Path) -> None:
    import socket

    broker_port = next(p for p in _listening_ports(tmp_path))
    with socket.create_connection(("127.0.0.1", broker_port), timeout=5) as raw:
        raw.sendall(bytes([0x10, 0x0D, 0x00, 0x04]) + b"MQTT" + bytes([0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x00]))
        raw.settimeout(5)
        try:
            answer = raw.recv(16)
        except (ConnectionResetError, TimeoutError):
            answer = b""
    assert not answer.startswith(b"\x20")  # no CONNACK: a TLS listener does not speak plain MQTT


def _listening_ports(tmp_path: Path) -> list[int]:
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    return [int(line.split()[1]) for line in conf.splitlines() if line.startswith("listener ")]


def test_confirmations_reach_only_their_booth_and_the_operators_cli_only_sends_commands(production_broker) -> None:
    central, cli = production_broker("central-1"), production_broker("central-cli")
    booth_a, booth_b = production_broker("kiosk-a"), production_broker("kiosk-b")
    for client in (central, cli, booth_a, booth_b):
        assert client.ready.wait(10), client.refused
    booth_a.subscribe("kiosk/v1/kiosk-a/ack")
    booth_a.subscribe("kiosk/v1/kiosk-a/cmd/+")
    booth_b.subscribe("kiosk/v1/kiosk-a/ack")  # granted, but the ACL delivers nothing of another booth's
    cli.subscribe("$share/central/kiosk/v1/+/events/+")
    assert booth_b.publish("kiosk/v1/kiosk-a/ack") == 135  # a booth cannot confirm anything
    assert central.publish("kiosk/v1/kiosk-a/ack") == 0
    assert cli.publish("kiosk/v1/kiosk-a/cmd/ping") == 0
    assert cli.publish("kiosk/v1/kiosk-a/ack") == 135  # the operator's CLI sends commands, nothing else
    assert booth_b.publish("kiosk/v1/kiosk-b/events/rating") == 0
    wait_until(lambda: sorted(booth_a.received) == ["kiosk/v1/kiosk-a/ack", "kiosk/v1/kiosk-a/cmd/ping"])
    assert booth_b.received == [] and cli.received == []  # nor does it read the booths' events
