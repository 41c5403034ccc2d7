"""The device's MQTT link (paho-mqtt 2, MQTT 5): session, birth and will, reconnects, TLS or password.

Birth and death follow design.md §4: a retained `offline` will registered at connect and a retained
`online` (or `maintenance`) after every connect, both carrying the persisted boot counter so central
can ignore a will older than the latest birth. A refused login is reported and retried only at the
slowest reconnect pace; an absent broker never stops the kiosk.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from appliance import __version__
from appliance.config import KioskConfig
from appliance.contract import (
    QOS_ASSIST_ANSWERS,
    QOS_COMMANDS,
    QOS_CONFIRMATIONS,
    QOS_RELEASE,
    QOS_STATUS,
    DeviceStatus,
    assist_answer_topic,
    catalog_topic,
    command_topic,
    confirmation_topic,
    encode,
    progress_answer_topic,
    release_chunk_topic,
    release_offer_topic,
    stamped,
    status_topic,
)
from appliance.delivery.mqtt_client import booth_client, session

log = logging.getLogger("kiosk.link")

AUTH_REFUSALS = {0x86: "bad user name or password", 0x87: "not authorized", 0x8C: "bad authentication method"}

PubackListener = Callable[[int, int], None]  # (mid, reason code value)
MessageListener = Callable[[str, bytes], None]


class MqttLink:
    def __init__(
        self,
        config: KioskConfig,
        boot: int,
        clock_synced: Callable[[], bool],
        on_message: MessageListener,
        on_connection_change: Callable[[bool], None] = lambda connected: None,
    ) -> None:
        self._config = config
        self._broker = config.broker
        self._device = config.device.id
        self._boot = boot
        self._clock_synced = clock_synced
        self._on_message = on_message
        self._on_connection_change = on_connection_change
        self._puback_listener: PubackListener = lambda mid, rc: None
        self._status = DeviceStatus.ONLINE
        self._lock = threading.Lock()
        self.connected = False
        self.connects = 0
        self.last_error: str | None = None
        self.refused = False  # the broker answered and said no (credentials, authorisation): not the network
        self.max_packet_size: int | None = None
        self._client = self._make_client()

    @property
    def tls(self) -> bool:
        return self._broker.tls is not None

    def _make_client(self) -> mqtt.Client:
        broker = self._broker
        client = booth_client(  # the TLS files were checked when the config was loaded
            broker, self._device, reconnect_s=(broker.reconnect_min_s, broker.reconnect_max_s),
            logger=logging.getLogger("kiosk.paho"),
        )
        # paho keeps a quarter of the pump's window on the wire and queues the rest, sending the next
        # one itself as each PUBACK comes in: far fewer hand-overs between the pump's thread and paho's.
        client.max_inflight_messages_set(max(1, self._config.outbox.inflight_window // 4))
        client.will_set(
            status_topic(self._device), self._status_payload(DeviceStatus.OFFLINE, "connection_lost"),
            qos=QOS_STATUS, retain=True,
        )
        client.on_connect = self._guard(self._handle_connect)
        client.on_connect_fail = self._guard(self._handle_connect_fail)
        client.on_disconnect = self._guard(self._handle_disconnect)
        client.on_message = self._guard(self._handle_message)
        client.on_publish = self._guard(self._handle_publish)
        return client

    @staticmethod
    def _guard(callback: Callable[..., None]) -> Callable[..., None]:
        """An exception in a paho callback would end the network thread: log it instead."""

        def guarded(*args: Any) -> None:
            try:
                callback(*args)
            except Exception:
                log.exception("error in MQTT callback %s", callback.__name__)

        return guarded

    # Every fact of the booth for its births (monitor.heartbeat.Heartbeat.birth_facts registers itself here)
    birth_facts: Callable[[], dict[str, Any]] | None = None

    def _status_payload(self, status: DeviceStatus, reason: str | None = None) -> bytes:
        """A birth (`online`, `maintenance`) carries every fact of the booth that its heartbeats leave out;
        the will and `offline` only say who, which boot and why."""
        device = self._config.device
        body: dict[str, Any] = {"status": status.value, "boot": self._boot, "software": __version__,
                                "site": device.site, "region": device.region}
        if status != DeviceStatus.OFFLINE and self.birth_facts is not None:
            try:
                body.update((key, value) for key, value in self.birth_facts().items() if key not in body)
            except Exception:  # a birth without its facts still goes (the heartbeats carry them in time)
                log.exception("the birth's facts could not be gathered")
        if reason:
            body["reason"] = reason
        return encode(stamped(self._device, self._clock_synced(), body))

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self._client.connect_async(
            self._broker.host, self._broker.port, self._broker.keepalive_s,
            clean_start=False, properties=session(self._broker.session_expiry_s),
        )
        self._client.loop_start()

    def network_alive(self) -> bool:
        """Whether paho's network thread runs: if it ever died, nothing would reconnect (the watchdog
        restarts the service instead). paho keeps it in `_thread` (paho-mqtt < 3, pinned)."""
        thread = getattr(self._client, "_thread", None)
        return thread is not None and thread.is_alive()

    def stop(self, timeout_s: float = 3.0) -> None:
        """Publish the explicit `offline`, wait briefly for its PUBACK, and disconnect."""
        if self.connected:
            info = self._client.publish(
                status_topic(self._device), self._status_payload(DeviceStatus.OFFLINE, "shutdown"),
                qos=QOS_STATUS, retain=True,
            )
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):
                log.warning("offline status not confirmed by the broker before shutdown")
        self._client.disconnect()
        self._client.loop_stop()

    # -- publishing -------------------------------------------------------------------------------
    def on_puback(self, listener: PubackListener) -> None:
        self._puback_listener = listener

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> mqtt.MQTTMessageInfo:
        return self._client.publish(topic, payload, qos=qos, retain=retain)

    def set_status(self, status: DeviceStatus) -> None:
        """Announce `online` or `maintenance` (retained); remembered for every later connect."""
        self._status = status
        if self.connected:
            self.publish(status_topic(self._device), self._status_payload(status), QOS_STATUS, retain=True)

    # -- paho callbacks (network thread) -------------------------------------------------------------
    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.refused = bool(reason_code.is_failure)
        if reason_code.is_failure:
            meaning = AUTH_REFUSALS.get(reason_code.value)
            if meaning:
                self._report(f"broker {self._where()} refused the login ({meaning}); "
                             f"retrying every {self._broker.reconnect_max_s} s — check the credentials")
                # Do not hammer a broker that said no: retry at the slowest pace until one succeeds.
                client.reconnect_delay_set(self._broker.reconnect_max_s, self._broker.reconnect_max_s)
            else:
                self._report(f"broker {self._where()} refused the connection: {reason_code}")
            return
        client.reconnect_delay_set(self._broker.reconnect_min_s, self._broker.reconnect_max_s)
        self._forget_unacknowledged(client)
        self._no_delay(client)
        self.max_packet_size = getattr(properties, "MaximumPacketSize", None)
        with self._lock:
            self.connected = True
            self.connects += 1
        if self.last_error:
            log.info("connected to broker %s (was: %s)", self._where(), self.last_error)
        else:
            log.info("connected to broker %s", self._where())
        self.last_error = None
        client.subscribe([(command_topic(self._device, "+"), QOS_COMMANDS),
                          (progress_answer_topic(self._device), QOS_COMMANDS),
                          (confirmation_topic(self._device), QOS_CONFIRMATIONS),
                          (assist_answer_topic(self._device), QOS_ASSIST_ANSWERS),
                          (catalog_topic(self._config.device.region), QOS_COMMANDS),
                          (release_offer_topic(self._device), QOS_RELEASE),
                          (release_chunk_topic(self._device), QOS_RELEASE)])
        self.publish(status_topic(self._device), self._status_payload(self._status), QOS_STATUS, retain=True)
        self._on_connection_change(True)

    def _handle_connect_fail(self, client, userdata) -> None:
        self._report(f"broker {self._where()} unreachable; retrying with backoff up to "
                     f"{self._broker.reconnect_max_s} s (the kiosk keeps working and queues events)")

    def _handle_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was_connected = self.connected
        with self._lock:
            self.connected = False
        if was_connected:
            log.warning("disconnected from broker %s: %s", self._where(), reason_code)
            self._on_connection_change(False)

    @staticmethod
    def _forget_unacknowledged(client: mqtt.Client) -> None:
        """Make paho drop its copies of what the last connection left unacknowledged, which it would
        otherwise resend by itself right after this callback: the pump re-publishes from the outbox
        instead, so it alone decides what goes (and can hold back an event the broker keeps dropping
        the connection over). Done here, not in on_disconnect, because paho may be iterating these
        very messages when a failed write makes it call on_disconnect. paho has no public call for
        this; the attributes are pinned by the paho-mqtt <3 requirement."""
        with client._out_message_mutex:
            client._out_messages.clear()
            client._inflight_messages = 0

    @staticmethod
    def _no_delay(client: mqtt.Client) -> None:
        """Send small packets at once: with Nagle's algorithm on, a PUBLISH can wait for the TCP
        acknowledgement of the previous one, which stalls a pump that keeps a window in flight."""
        sock = client.socket()
        if isinstance(sock, socket.socket | ssl.SSLSocket) and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        self._on_message(message.topic, message.payload)

    def _handle_publish(self, client, userdata, mid, reason_code, properties) -> None:
        self._puback_listener(mid, reason_code.value)

    def _report(self, message: str) -> None:
        """Log a connection problem once, not at every retry."""
        if message != self.last_error:
            log.error(message)
        self.last_error = message

    def _where(self) -> str:
        return f"{self._broker.host}:{self._broker.port}"

    def state(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "connects_since_boot": self.connects,
            "tls": self.tls,
            "last_error": self.last_error,
        }
