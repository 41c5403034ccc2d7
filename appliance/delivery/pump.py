"""The outbox pump: moves events from the outbox to the broker, at most `window` unacknowledged,
and frees them when central confirms it committed them.

Its own thread. PUBACKs and central's confirmations arrive on paho's network thread and are only
queued there; the pump settles them in batches (one transaction for many rows) and tops the window
up in batches too, so its cost per event stays a small multiple of a bare publish
(bench/bench_drain.py). A PUBACK marks an event delivered, nothing more: Mosquitto acknowledges
what it holds only in memory. An event still unconfirmed `confirm_timeout_s` after its PUBACK is
sent again; while central confirms nothing at all, that wait doubles (up to an hour) so a booth does
not flood the broker with copies while central is down; the first confirmation resets it.
A refused event (PUBACK reason code ≥ 0x80, or larger than the broker accepts) is set aside with
the reason so it never blocks the rest.
Events carrying personal data wait while the link is not TLS.

When the connection drops, everything in flight or unconfirmed goes back to ready and is published
again, in order, after the reconnect (the link makes paho forget its own copies, so the pump alone decides).
Some brokers answer a poison event by dropping the connection rather than with a PUBACK; an event
that is the oldest unacknowledged one at `POISON_STRIKES` drops in a row, each soon after it was
sent, is set aside too — on a flaky network that can catch an innocent event, which is kept and
counted, never lost, and which a maintainer can send again.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from appliance.clock import clock_synchronised
from appliance.contract import MAX_CONFIRMED, PERSONAL_KINDS, QOS_EVENTS, EventKind, event_topic, now_iso
from appliance.delivery.link import MqttLink
from appliance.delivery.outbox import Outbox, Pending
from appliance.repeated import RepeatedProblem

log = logging.getLogger("kiosk.pump")

TRANSIENT_REFUSALS = {0x89, 0x97}  # server busy, quota exceeded: try again later
TOPIC_OVERHEAD = 200  # bytes of fixed header, topic and properties beyond the payload, generously
POISON_STRIKES = 3
STRIKE_WINDOW_S = 10.0
CONNECTION_LOST = -1  # a marker in the ack queue: acks before it count, everything after is resent
MARK_EVERY_S = 0.05  # acknowledged rows are marked delivered in batches at least this often
POLL_S = 0.01  # how often the pump looks at PUBACKs while events are in flight
MAX_CONFIRM_WAIT_S = 3600.0  # the longest the unconfirmed wait grows to while central confirms nothing
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


class MalformedConfirmation(ValueError):
    """A message on the confirmation topic that is not a confirmation (docs/asyncapi.yaml, Confirmation)."""


def parse_confirmation(payload: bytes) -> list[tuple[int, str]]:
    """The `[seq, id]` pairs of a confirmation; raises `MalformedConfirmation` for anything else.

    All or nothing: one bad pair makes the whole message suspect, and freeing events on the word of a
    message that is partly wrong would risk exactly what confirmations exist to prevent.
    """
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than the parser goes
        raise MalformedConfirmation(f"not JSON ({str(exc)[:80]})") from None
    pairs = body.get("confirmed") if isinstance(body, dict) else None
    if not isinstance(pairs, list):
        raise MalformedConfirmation("no `confirmed` list")
    if len(pairs) > MAX_CONFIRMED:
        raise MalformedConfirmation(f"{len(pairs)} pairs, more than the {MAX_CONFIRMED} a confirmation may name")
    confirmed = []
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and type(pair[0]) is int and pair[0] >= 1
                and isinstance(pair[1], str) and ULID.fullmatch(pair[1])):
            raise MalformedConfirmation(f"{str(pair)[:60]} is not a [seq, id] pair")
        confirmed.append((pair[0], pair[1]))
    return confirmed


class Pump(threading.Thread):
    def __init__(self, outbox: Outbox, link: MqttLink, device_id: str, window: int,
                 on_pass: Callable[[], None] = lambda: None, confirm_timeout_s: float = 120.0) -> None:
        """`on_pass` is called on every pass of the loop (at least once a second): the watchdog's beat.
        `confirm_timeout_s`: how long after its PUBACK an event waits for central's confirmation
        before it is sent again."""
        super().__init__(name="outbox-pump", daemon=True)
        self._on_pass = on_pass
        self._outbox = outbox
        self._link = link
        self._device = device_id
        self._window = window
        # Top up when half the window is free: paho still has a quarter on the wire and a quarter
        # queued, and each top-up is one transaction for many events (a quarter cost about 10 µs more
        # CPU per event in bench/bench_drain.py: twice the wake-ups and transactions).
        self._refill_at = max(1, window // 2)
        self._topics = {kind: event_topic(device_id, kind) for kind in EventKind}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._acks: deque[tuple[int, int]] = deque()  # appended on paho's thread, taken on the pump's (both atomic)
        self._in_flight: dict[int, tuple[Pending, float]] = {}  # by seq
        self._by_mid: dict[int, int] = {}  # paho message id -> seq
        self._strikes: dict[int, int] = {}
        self._acked: list[int] = []  # acknowledged, not yet marked delivered (still "in flight" on disk)
        self._acked_since = 0.0
        self._retry_after = 0.0
        self._confirmations: queue.SimpleQueue[list[tuple[int, str]]] = queue.SimpleQueue()
        self._confirm_timeout = self._confirm_wait = confirm_timeout_s
        self._confirmed_since_resend = False
        self._next_overdue_check = 0.0
        self.delivered = 0  # PUBACKs settled (the broker has them; central may have confirmed some first)
        self.confirmed = 0  # rows freed by central's confirmation
        self.set_aside_events = 0  # events the broker refused for good (the outbox keeps them aside)
        self.resent = 0  # unconfirmed events made ready again (overdue or at a reconnect)
        self.mismatched = 0  # rows whose seq a confirmation named with another id (stale or forged)
        self._malformed = RepeatedProblem(log, "confirmation")  # messages on its topic that were not confirmations
        link.on_puback(self._on_puback)

    @property
    def malformed(self) -> int:
        return self._malformed.count

    def counters(self) -> dict[str, int]:
        """The heartbeat's delivery counters since boot."""
        return {"delivered": self.delivered, "confirmed": self.confirmed, "resent": self.resent,
                "confirmations_malformed": self.malformed, "confirmations_mismatched": self.mismatched,
                "set_aside": self.set_aside_events}

    def notify(self) -> None:
        """Something changed (new event, connection up): look again now."""
        self._wake.set()

    def connection_lost(self) -> None:
        """Called on paho's thread when the link drops, after every PUBACK that arrived before it."""
        self._acks.append((CONNECTION_LOST, 0))
        self._wake.set()

    def _on_puback(self, mid: int, reason: int) -> None:
        acks = self._acks
        acks.append((mid, reason))
        # Waking the pump for every PUBACK would hand the GIL back and forth per message; wake it
        # for a batch worth topping up (it also looks every POLL_S, or MARK_EVERY_S with a full batch out),
        # once: Event.set takes a lock even when the event is set already.
        if len(acks) >= self._refill_at and not self._wake.is_set():
            self._wake.set()

    def confirmation(self, payload: bytes) -> None:
        """A message on the confirmation topic (paho's thread): checked here, applied by the pump.

        A malformed one is logged (the first only: a broken or hostile sender could repeat it
        without end) and ignored; it never raises into paho's network thread.
        """
        try:
            pairs = parse_confirmation(payload)
        except MalformedConfirmation as exc:
            self._malformed.note(exc)
            return
        if pairs:
            self._confirmations.put(pairs)
            self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.join(timeout=10)

    def run(self) -> None:
        while not self._stopping.is_set():
            self._on_pass()
            # While a full batch is in flight a PUBACK wakes the pump for the top-up; a poll is needed only
            # for a trickle (and to mark what was acknowledged within MARK_EVERY_S).
            in_flight = len(self._in_flight)
            self._wake.wait(timeout=MARK_EVERY_S if in_flight >= self._refill_at
                            else POLL_S if in_flight or self._acked else 1.0)
            self._wake.clear()
            try:
                self._settle()
                self._mark_acked()
                self._apply_confirmations()
                if self._link.connected:
                    self._resend_overdue()
                if self._link.connected and time.monotonic() >= self._retry_after:
                    self._fill()
            except Exception:
                log.exception("outbox pump step failed; retrying in a second")
                self._stopping.wait(1.0)
        self._settle()
        self._mark_acked(force=True)
        self._apply_confirmations()

    # -- steps -------------------------------------------------------------------------------------
    def _settle(self) -> None:
        """Take in what paho reported: PUBACKs, refusals, a lost connection."""
        acks, by_mid, in_flight, strikes = self._acks, self._by_mid, self._in_flight, self._strikes
        acked = self._acked
        delivered = 0
        while acks:
            mid, reason = acks.popleft()
            seq = by_mid.pop(mid, None)
            if seq is None:
                if mid == CONNECTION_LOST:
                    self.delivered += delivered
                    delivered = 0
                    self._mark_acked(force=True)  # what the broker acknowledged before the drop is delivered…
                    self._requeue_in_flight()
                    self.resent += self._outbox.redeliver()  # …and, like everything unconfirmed, sent again
                    acked = self._acked
                continue  # or an ack for a copy already settled
            entry = in_flight.pop(seq, None)
            if entry is None:
                continue
            if strikes:
                strikes.pop(seq, None)
            if reason < 0x80:
                if not acked:
                    self._acked_since = time.monotonic()
                acked.append(seq)
                delivered += 1
            elif reason in TRANSIENT_REFUSALS:
                self._outbox.release([seq])
                self._retry_after = time.monotonic() + 5.0
            else:
                self._put_aside(entry[0], f"broker refused it: {ReasonCode(PacketTypes.PUBACK, identifier=reason)}")
        self.delivered += delivered

    def _mark_acked(self, force: bool = False) -> None:
        """Mark acknowledged rows delivered in one transaction per batch, not one per PUBACK."""
        if not self._acked:
            return
        if (force or not self._in_flight or len(self._acked) >= self._window // 2
                or time.monotonic() - self._acked_since >= MARK_EVERY_S):
            self._outbox.mark_delivered(self._acked)
            self._acked = []

    def _apply_confirmations(self) -> None:
        """Free what central confirmed: every queued confirmation in one transaction."""
        pairs: list[tuple[int, str]] = []
        while True:
            try:
                pairs += self._confirmations.get_nowait()
            except queue.Empty:
                break
        if not pairs:
            return
        done = self._outbox.confirm(pairs)
        self.confirmed += done.freed
        self._confirmed_since_resend = True
        if done.mismatched:
            if not self.mismatched:
                log.warning("central confirmed %d events whose seq this booth holds under another id "
                            "(a stale or forged confirmation); nothing freed for them", done.mismatched)
            self.mismatched += done.mismatched

    def _resend_overdue(self) -> None:
        """Every few seconds: events unconfirmed too long after their PUBACK go out again."""
        now = time.monotonic()
        if now < self._next_overdue_check:
            return
        self._next_overdue_check = now + min(5.0, self._confirm_timeout / 4)
        if self._confirmed_since_resend:
            self._confirm_wait = self._confirm_timeout
        resent = self._outbox.redeliver(delivered_before=now - self._confirm_wait)
        if not resent:
            return
        self.resent += resent
        log.info("%d events sent again: central did not confirm them within %.0f s", resent, self._confirm_wait)
        if not self._confirmed_since_resend:  # central confirms nothing: wait longer before the next copies
            self._confirm_wait = min(max(self._confirm_timeout, MAX_CONFIRM_WAIT_S), self._confirm_wait * 2)
        self._confirmed_since_resend = False
        self._wake.set()

    def _fill(self) -> None:
        in_flight = self._in_flight
        free = self._window - len(in_flight)
        if free < self._refill_at and in_flight:
            return  # top up in batches: one read transaction for many events
        link = self._link
        skip = () if link.tls else tuple(PERSONAL_KINDS)
        # One send time and one stamp for the batch: it leaves within milliseconds.
        stamp = (f'{{"device":"{self._device}","ts":"{now_iso()}",'
                 f'"clock_synced":{"true" if clock_synchronised() else "false"},').encode()
        sent = time.monotonic()
        limit = link.max_packet_size
        publish, topics, by_mid = link.publish, self._topics, self._by_mid
        for pending in self._outbox.take(free, skip):
            envelope = pending.envelope
            if limit and len(envelope) + TOPIC_OVERHEAD > limit:
                self._put_aside(pending, f"{len(envelope)} bytes exceed the broker's maximum packet size of {limit}")
                continue
            topic = topics.get(pending.kind) or event_topic(self._device, pending.kind)
            info = publish(topic, stamp + envelope[1:], QOS_EVENTS)
            if info.rc and info.rc != mqtt.MQTT_ERR_NO_CONN:  # NO_CONN: paho queued it
                if info.rc == mqtt.MQTT_ERR_PAYLOAD_SIZE:
                    self._put_aside(pending, "too large for the MQTT client")
                else:
                    self._outbox.release([pending.seq])
                continue
            by_mid[info.mid] = pending.seq
            in_flight[pending.seq] = (pending, sent)

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
        self.set_aside_events += 1

