"""One builder for every paho client the product makes: the booth's link, `kiosk provision check`,
central's intake and `kiosk central send`. MQTT 5 with paho's version-2 callbacks, TLS from PEM files
(the CA, and a client certificate with its key where the broker wants one) or a user name with a
password file; what differs between them (a will, manual acknowledgement, reconnect pacing, a session
kept or not) is said by the caller, so the four cannot drift apart on how they log in."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

if TYPE_CHECKING:  # central uses this module too, and needs nothing of the booth's config
    from appliance.config import BrokerSection


# What a plain PUBACK says, made once: paho builds a fresh ReasonCode and Properties (which fills a
# table of every MQTT 5 property) for each one. Shared with the callbacks: read-only.
_ACCEPTED = {code: ReasonCode(PacketTypes.PUBACK, identifier=code) for code in (0x00, 0x10)}  # 0x10: no subscriber
_NO_PROPERTIES = Properties(PacketTypes.PUBACK)


class Client(mqtt.Client):
    """paho's client with a cheaper PUBACK: one that accepted the message and carries no properties
    (the only kind a broker sends while things go well) is read without paho's general MQTT 5
    decoding, which costs a stock client 30–50 µs per message here, as much as the pump's own work
    (bench/bench_drain.py). Anything else goes paho's way. Relies on paho's internals of the 2.x
    line (pinned < 3); tests/test_mqtt_client.py holds it to what paho's own decoding says."""

    def _handle_pubackcomp(self, cmd: Literal["PUBACK", "PUBCOMP"]) -> mqtt.MQTTErrorCode:
        packet = self._in_packet["packet"]
        if cmd == "PUBACK" and 2 <= len(packet) <= 3 and self._protocol == mqtt.MQTTv5:  # mid, reason unless 0
            reason = _ACCEPTED.get(packet[2] if len(packet) == 3 else 0)
            if reason is not None:
                mid = packet[0] << 8 | packet[1]
                self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received PUBACK (Mid: %d)", mid)
                with self._out_message_mutex:
                    if mid in self._out_messages:  # as paho: tell the client once
                        return self._do_on_publish(mid, reason, _NO_PROPERTIES)
                return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._handle_pubackcomp(cmd)


def mqtt_client(
    client_id: str,
    *,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    username: str | None = None,
    password_file: Path | None = None,
    manual_ack: bool = False,
    reconnect_s: tuple[int, int] | None = None,
    logger: logging.Logger | None = None,
) -> mqtt.Client:
    """An MQTT 5 client, not yet connected. TLS when `ca_file` is given (with `cert_file`/`key_file`:
    the certificate's name is the login); `manual_ack` leaves acknowledging each message to the caller,
    after it has kept it; `reconnect_s` paces paho's own reconnects (min, max seconds)."""
    client = Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, manual_ack=manual_ack)
    if logger is not None:
        client.enable_logger(logger)
    if reconnect_s is not None:
        client.reconnect_delay_set(*reconnect_s)
    if ca_file is not None:
        client.tls_set(ca_certs=str(ca_file), certfile=str(cert_file) if cert_file else None,
                       keyfile=str(key_file) if key_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if username is not None:
        client.username_pw_set(username, password_file.read_text().strip() if password_file else None)
    return client


def booth_client(broker: BrokerSection, client_id: str, *, manual_ack: bool = False,
                 reconnect_s: tuple[int, int] | None = None, logger: logging.Logger | None = None) -> mqtt.Client:
    """A client with the booth's own credentials from kiosk.toml (its TLS files, or its user name and
    password file), as the link and `kiosk provision check` log in."""
    tls = broker.tls
    return mqtt_client(client_id, ca_file=tls.ca_file if tls else None, cert_file=tls.cert_file if tls else None,
                       key_file=tls.key_file if tls else None, username=broker.username,
                       password_file=broker.password_file, manual_ack=manual_ack, reconnect_s=reconnect_s,
                       logger=logger)


def session(expiry_s: int) -> Properties:
    """CONNECT properties that keep the session (subscriptions, queued messages) this long after a
    disconnect: given with `clean_start=False`, a reconnect resumes it."""
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = expiry_s
    return properties
