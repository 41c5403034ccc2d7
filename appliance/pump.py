"""The outbox pump: moves events from the outbox to the broker, at most `window` unacknowledged.

Its own thread. PUBACKs arrive on paho's network thread and are only queued there; the pump
settles them in batches (one durable transaction for many deletions) and tops the window up in
batches too, so its cost per event stays a small multiple of a bare publish (bench/bench_drain.py).
A refused event (PUBACK reason code ≥ 0x80, or larger than the broker accepts) is set aside with
the reason so it never blocks the rest.
Events carrying personal data wait while the link is not TLS.

When the connection drops, everything in flight goes back to ready and is published again, in
order, after the reconnect (the link makes paho forget its own copies, so the pump alone decides).
Some brokers answer a poison event by dropping the connection rather than with a PUBACK; an event
that is the oldest unacknowledged one at `POISON_STRIKES` drops in a row, each soon after it was
sent, is set aside too — on a flaky network that can catch an innocent event, which is kept and
counted, never lost, and which a maintainer can send again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from appliance.clock import clock_synchronised
from appliance.contract import PERSONAL_KINDS, QOS_EVENTS, event_topic, now_iso
from appliance.link import MqttLink
from appliance.outbox import Outbox, Pending

log = logging.getLogger("kiosk.pump")

TRANSIENT_REFUSALS = {0x89, 0x97}  # server busy, quota exceeded: try again later
TOPIC_OVERHEAD = 200  # bytes of fixed header, topic and properties beyond the payload, generously
POISON_STRIKES = 3
STRIKE_WINDOW_S = 10.0
CONNECTION_LOST = -1  # a marker in the ack queue: acks before it count, everything after is resent
DELETE_EVERY_S = 0.05  # acknowledged rows are deleted in batches at least this often
POLL_S = 0.01  # how often the pump looks at PUBACKs while events are in flight


class Pump(threading.Thread):
    def __init__(self, outbox: Outbox, link: MqttLink, device_id: str, window: int,
                 on_pass: Callable[[], None] = lambda: None) -> None:
        """`on_pass` is called on every pass of the loop (at least once a second): the watchdog's beat."""
        super().__init__(name="outbox-pump", daemon=True)
        self._on_pass = on_pass
        self._outbox = outbox
        self._link = link
        self._device = device_id
        self._window = window
        self._refill_at = max(1, window // 4)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._acks: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        self._in_flight: dict[int, tuple[Pending, float]] = {}  # by seq
        self._by_mid: dict[int, int] = {}  # paho message id -> seq
        self._strikes: dict[int, int] = {}
        self._acked: list[int] = []  # acknowledged, not yet deleted (still "in flight" on disk)
        self._acked_since = 0.0
        self._retry_after = 0.0
        self.delivered = 0
        self.set_aside = 0
        link.on_puback(self._on_puback)

    def notify(self) -> None:
        """Something changed (new event, connection up): look again now."""
        self._wake.set()

    def connection_lost(self) -> None:
        """Called on paho's thread when the link drops, after every PUBACK that arrived before it."""
        self._acks.put((CONNECTION_LOST, 0))
        self._wake.set()

    def _on_puback(self, mid: int, reason: int) -> None:
        self._acks.put((mid, reason))
        # Waking the pump for every PUBACK would hand the GIL back and forth per message; wake it
        # for a batch worth topping up (it also looks every POLL_S while anything is in flight).
        if self._acks.qsize() >= self._refill_at:
            self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout=10)

    def run(self) -> None:
        while not self._stopping.is_set():
            self._on_pass()
            self._wake.wait(timeout=POLL_S if self._in_flight or self._acked else 1.0)
            self._wake.clear()
            try:
                self._settle()
                self._delete_acked()
                if self._link.connected and time.monotonic() >= self._retry_after:
                    self._fill()
            except Exception:
                log.exception("outbox pump step failed; retrying in a second")
                self._stopping.wait(1.0)
        self._settle()
        self._delete_acked(force=True)

    # -- steps -------------------------------------------------------------------------------------
    def _settle(self) -> None:
        """Take in what paho reported: PUBACKs, refusals, a lost connection."""
        while True:
            try:
                mid, reason = self._acks.get_nowait()
            except queue.Empty:
                break
            if mid == CONNECTION_LOST:
                self._requeue_in_flight()
                continue
            seq = self._by_mid.pop(mid, None)
            if seq is None or seq not in self._in_flight:
                continue  # an ack for a copy already settled
            pending, _ = self._in_flight.pop(seq)
            self._strikes.pop(seq, None)
            if reason < 0x80:
                if not self._acked:
                    self._acked_since = time.monotonic()
                self._acked.append(seq)
            elif reason in TRANSIENT_REFUSALS:
                self._outbox.release([seq])
                self._retry_after = time.monotonic() + 5.0
            else:
                self._put_aside(pending, f"broker refused it: {ReasonCode(PacketTypes.PUBACK, identifier=reason)}")

    def _delete_acked(self, force: bool = False) -> None:
        """Delete acknowledged rows in one durable transaction per batch, not one per PUBACK."""
        if not self._acked:
            return
        if (force or not self._in_flight or len(self._acked) >= self._window // 2
                or time.monotonic() - self._acked_since >= DELETE_EVERY_S):
            self.delivered += self._outbox.acknowledge(self._acked)
            self._acked = []

    def _fill(self) -> None:
        free = self._window - len(self._in_flight)
        if free < self._refill_at and self._in_flight:
            return  # top up in batches: one read transaction for many events
        skip = () if self._link.tls else tuple(PERSONAL_KINDS)
        # One send time for the batch: it leaves within milliseconds.
        stamp = (f'{{"device":"{self._device}","ts":"{now_iso()}",'
                 f'"clock_synced":{"true" if clock_synchronised() else "false"},').encode()
        for pending in self._outbox.take(free, skip):
            limit = self._link.max_packet_size
            if limit and len(pending.envelope) + TOPIC_OVERHEAD > limit:
                self._put_aside(pending, f"{len(pending.envelope)} bytes exceed the broker's maximum packet "
                                         f"size of {limit}")
                continue
            self._publish(pending, stamp)

    def _publish(self, pending: Pending, stamp: bytes) -> None:
        message = stamp + pending.envelope[1:]
        info = self._link.publish(event_topic(self._device, pending.kind), message, QOS_EVENTS)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):  # NO_CONN: paho queued it
            if info.rc == mqtt.MQTT_ERR_PAYLOAD_SIZE:
                self._put_aside(pending, "too large for the MQTT client")
            else:
                self._outbox.release([pending.seq])
            return
        self._by_mid[info.mid] = pending.seq
        self._in_flight[pending.seq] = (pending, time.monotonic())

    def _requeue_in_flight(self) -> None:
        """The connection dropped: all in flight is ready again; strike the oldest if it looks guilty."""
        if not self._in_flight:
            return
        oldest, sent = min(self._in_flight.values(), key=lambda entry: entry[0].seq)
        self._in_flight.pop(oldest.seq)
        if time.monotonic() - sent <= STRIKE_WINDOW_S:
            strikes = self._strikes[oldest.seq] = self._strikes.get(oldest.seq, 0) + 1
            if strikes >= POISON_STRIKES:
                self._strikes.pop(oldest.seq)
                self._put_aside(oldest, f"the broker dropped the connection each of the {strikes} times it was sent")
            else:
                self._outbox.release([oldest.seq])
        else:
            self._outbox.release([oldest.seq])
        self._outbox.release(list(self._in_flight))
        self._in_flight.clear()
        self._by_mid.clear()

    def _put_aside(self, pending: Pending, reason: str) -> None:
        log.error("event seq %d (%s) set aside: %s", pending.seq, pending.kind, reason)
        self._outbox.set_aside(pending.seq, reason)
        self.set_aside += 1

