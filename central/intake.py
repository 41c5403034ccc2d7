"""The intake: subscribes to every booth, records what they publish (what each message does to the database is
`central.recording`), confirms committed events to the booths, answers progress queries and assist requests
(central.assist_desk), and sends operators' commands.

MQTT 5 shared subscriptions (`$share/{group}/...`) let several central instances split one fleet's
messages behind one broker. paho's network thread only reads and queues; one writer thread records
messages in batches, one transaction each. Only after the commit does central confirm the batch's
events to their booths (`kiosk/v1/{device}/ack`: what frees them at the booth) and acknowledge the
messages to the broker (manual acks). Nothing is acknowledged or confirmed that is not committed:

- a failed transaction (database locked, down, restarting, disk full) is retried with backoff while
  its batch is held; `health()` says so, and the log says it once when it starts and once when it ends;
- a message that can never be recorded (refused by `read_message`, or by the database itself) is kept
  as a dead letter with its reason, and only then acknowledged and confirmed;
- an acknowledgement belongs to the connection its message came on: messages held through a broker
  reconnect are recorded, but their acks are dropped (the broker redelivers them; central de-duplicates).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from typing import Any

import paho.mqtt.client as mqtt
from sqlalchemy import select

from appliance.contract import (
    MAX_CONFIRMED,
    QOS_ASSIST_ANSWERS,
    QOS_COMMANDS,
    QOS_CONFIRMATIONS,
    QOS_RELEASE,
    TOPIC_ROOT,
    confirmation,
    confirmation_topic,
    encode,
    iso,
)
from appliance.delivery.mqtt_client import mqtt_client, session
from central.alerts import clock_conditions
from central.assist_desk import AssistDesk
from central.commands import send_commands
from central.database import Database, describe, is_transient
from central.recording import Outcome, Received, Recorder, Reply
from central.releases.chunks import ChunkServer
from central.releases.rollouts import RolloutRunner
from central.retention import erase_expired
from central.settings import CentralSettings
from central.tables import devices

log = logging.getLogger("central.intake")

SUBSCRIPTIONS = ("status", "heartbeat", "events/#", "cmd-result", "progress/request", "release/request")
BATCH = 500
SWEEP_S = 5.0
ERASE_FIRST_S = 60.0  # personal data past its retention is erased this long after start, then hourly
ERASE_EVERY_S = 3600.0
RETRY_FIRST_S = 0.2  # a failed transaction is retried after this, doubling up to RETRY_MAX_S
RETRY_MAX_S = 5.0
# QoS 0 messages (heartbeats) waiting beyond this many are dropped: while the database is down QoS 1
# messages stop at the broker's in-flight window, but heartbeats keep coming (the next one replaces them).
MAX_WAITING_QOS0 = 20_000

QOS_REPLIES = max(QOS_COMMANDS, QOS_ASSIST_ANSWERS)  # progress and assist answers: both QoS 1


class Intake:
    def __init__(self, settings: CentralSettings, database: Database, desk: AssistDesk | None = None) -> None:
        self.settings = settings
        self.db = database
        self.desk = desk or AssistDesk(database, settings)
        self.counts: Counter[str] = Counter()  # recorded / duplicate / stale / rejected, by message kind
        self.connected = threading.Event()
        self.sweep_s = SWEEP_S
        self._inbox: queue.Queue[Received] = queue.Queue()
        self._stopping = threading.Event()
        self._next_sweep = 0.0
        self.next_erasure_at = time.time() + ERASE_FIRST_S
        self._erasure_failing = False  # said once per outage
        self._connection = 0  # generation: +1 at every connect and disconnect
        self._connects = 0
        self._ack_lock = threading.Lock()  # a generation does not change between its check and an ack
        self._held = 0  # messages of the batch being recorded (held while the database fails)
        self._failing_since: float | None = None
        self._last_failure = ""
        self._client = self._make_client()
        self.recorder = Recorder(settings, database, self.desk,
                                 ChunkServer(settings.release_dir, settings.release_bytes_per_s))
        self.rollouts = RolloutRunner(database, self.publish_retained)
        self._writer = threading.Thread(target=self._write_loop, name="central-writer", daemon=True)

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        # paho logs every failed reconnect at ERROR ("Client is not connected"): the intake says when the
        # broker goes and comes back itself, once each.
        paho_log = logging.getLogger("central.paho")
        paho_log.setLevel(logging.CRITICAL)
        client = mqtt_client(s.client_id, ca_file=s.ca_file, cert_file=s.cert_file, key_file=s.key_file,
                             manual_ack=True, reconnect_s=(1, 30), logger=paho_log)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        # The session's expiry is short on purpose: with shared subscriptions Mosquitto keeps dealing a stopped
        # instance its share of the booths' messages into its session; when the session expires they are
        # dropped, and the booths resend them (nothing is freed at a booth before central's confirmation). A
        # restart within this time resumes the session and loses nothing either.
        self._writer.start()
        self._client.connect_async(self.settings.broker_host, self.settings.broker_port, 30, clean_start=False,
                                   properties=session(self.settings.session_expiry_s))
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping.set()
        self._writer.join(timeout=15)
        self._client.disconnect()
        self._client.loop_stop()

    def alive(self) -> bool:
        """Both of central's own threads run (the writer, paho's network loop); `serve` exits if not."""
        network = getattr(self._client, "_thread", None)
        return self._writer.is_alive() and (network is None or network.is_alive())

    def health(self) -> dict[str, Any]:
        """What the intake is doing, from memory only (the database may be the thing that is down)."""
        failing = self._failing_since
        return {
            "ok": failing is None and self.connected.is_set() and self.alive(),
            "database_ok": failing is None,
            "database_failing_since": None if failing is None else iso(failing),
            "database_failing_s": None if failing is None else round(time.time() - failing, 1),
            "database_last_error": self._last_failure or None,
            "held_messages": self._held + self._inbox.qsize(),
            "broker_connected": self.connected.is_set(),
            "broker_connections": self._connects,
            "threads_alive": self.alive(),
            "counts": dict(self.counts),
        }

    def _on_connect(self, client, _userdata, _flags, reason, _properties) -> None:
        if reason.is_failure:
            log.error("broker refused central: %s", reason)
            return
        with self._ack_lock:
            self._connection += 1
        self._connects += 1
        group = self.settings.share_group
        client.subscribe([(f"$share/{group}/{TOPIC_ROOT}/+/{suffix}", 1) for suffix in SUBSCRIPTIONS])
        self.connected.set()
        log.info("connected to %s:%d as %s", self.settings.broker_host, self.settings.broker_port,
                 self.settings.client_id)

    def _on_disconnect(self, _client, _userdata, _flags, reason, _properties) -> None:
        with self._ack_lock:  # from here on, acks of messages received so far would go to a new connection
            self._connection += 1
        if self.connected.is_set() and not self._stopping.is_set():  # once per outage (reconnects fail quietly)
            log.warning("lost the broker at %s:%d (%s); reconnecting", self.settings.broker_host,
                        self.settings.broker_port, reason)
        self.connected.clear()

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        self.counts["received"] += 1  # this thread's only key (with qos0_dropped): no lost increments
        if not message.qos and self._inbox.qsize() >= MAX_WAITING_QOS0:
            self.counts["qos0_dropped"] += 1
            return
        self._inbox.put(Received(message.topic, message.payload, message.mid, message.qos, time.time(),
                                 self._connection))

    # -- recording ------------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        """Take a batch, record it (holding it through database failures), then sweep when due. An error
        that is not the database's is logged and the loop goes on: this thread must not die."""
        while not self._stopping.is_set():
            try:
                batch = self._take_batch()
                if batch:
                    self._record_held(batch)
                self._sweep_when_due()
            except Exception as exc:
                self.counts["writer_errors"] += 1
                log.error("central's writer hit an error and goes on: %s", describe(exc))
                self._stopping.wait(1)

    def _take_batch(self) -> list[Received]:
        try:
            batch = [self._inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(batch) < BATCH:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _record_held(self, batch: list[Received]) -> None:
        """Commit `batch`, then confirm and acknowledge it. A failed transaction is retried with backoff
        until it commits (or central stops: then nothing is acknowledged and the broker redelivers). A
        batch the database refuses for its content is recorded one message at a time, so one bad
        message costs only itself: it becomes a dead letter."""
        pending, delay = [batch], RETRY_FIRST_S
        self._held = len(batch)
        try:
            while pending and not self._stopping.is_set():
                group = pending[0]
                try:
                    outcome = self.recorder.commit(group)
                except Exception as exc:
                    if is_transient(exc):
                        self._database_failed(exc)
                        self._stopping.wait(delay)
                        delay = min(delay * 2, RETRY_MAX_S)
                        continue
                    if len(group) > 1:
                        self.counts["batch_split"] += 1
                        pending[0:1] = [[received] for received in group]
                        continue
                    try:
                        reason = f"{_printable(group[0].topic)}: central could not record it: {describe(exc)}"
                        outcome = self.recorder.bury(group[0], reason)
                    except Exception as again:
                        if not is_transient(again):
                            raise
                        self._database_failed(again)
                        self._stopping.wait(delay)
                        delay = min(delay * 2, RETRY_MAX_S)
                        continue
                self._database_recovered()
                delay = RETRY_FIRST_S
                pending.pop(0)
                self._held -= len(group)
                self._finish(group, outcome)
        finally:
            self._held = 0

    def _finish(self, batch: list[Received], outcome: Outcome) -> None:
        """After the commit: confirm the events to their booths, reply, then acknowledge to the broker
        the messages that came on the connection we still have (the others are redelivered)."""
        self.counts.update(outcome.counts)
        if outcome.rollouts_changed:
            self._next_sweep = 0  # judge the rollouts after this batch
        for _topic, reason in outcome.dead:  # the reason names fields, never their content
            log.warning("dead letter: %s", reason)
        for device, confirmed in outcome.confirmed.items():
            committed = list(dict.fromkeys(confirmed))  # an event twice in one batch is confirmed once
            for start in range(0, len(committed), MAX_CONFIRMED):
                chunk = committed[start:start + MAX_CONFIRMED]
                self._client.publish(confirmation_topic(device), encode(confirmation(chunk)), qos=QOS_CONFIRMATIONS)
                self.counts["confirmed"] += len(chunk)
        for topic, body in outcome.replies:
            self.publish(topic, body)
        for chunk in outcome.chunks:
            self.publish(*chunk())
        with self._ack_lock:
            for received in batch:
                if not received.qos:
                    continue
                if received.connection == self._connection:
                    self._client.ack(received.mid, received.qos)
                else:
                    self.counts["ack_dropped_old_connection"] += 1

    def _database_failed(self, exc: BaseException) -> None:
        self.counts["database_failures"] += 1
        self._last_failure = describe(exc)
        if self._failing_since is None:
            self._failing_since = time.time()
            log.error("central's database is failing (%s): holding %d messages unacknowledged and "
                      "unconfirmed, retrying every %g s at most", self._last_failure,
                      self._held + self._inbox.qsize(), RETRY_MAX_S)

    def _database_recovered(self) -> None:
        if self._failing_since is not None:
            log.warning("central's database is back after %.1f s; the held messages are recorded",
                        time.time() - self._failing_since)
            self._failing_since = None
            self.counts["database_recoveries"] += 1

    # -- conditions judged on central's clock -------------------------------------------------------------
    def _sweep_when_due(self) -> None:
        """Re-judge the clock's alerts of every booth (offline too long, heartbeat overdue), writing
        only what changed; close event alerts whose end has come; prune old heartbeats."""
        now = time.time()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_s
        if now >= self.next_erasure_at:
            self.erase_personal_data(now)
        try:
            answers = self._sweep(now)
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._database_failed(exc)  # said once; the next sweep (or batch) tries again
            return
        self._database_recovered()
        for topic, body in answers:
            self.publish(topic, body)
        try:
            self.rollouts.run(now)  # the rollouts judged, their offers put on the broker
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._database_failed(exc)

    def _sweep(self, now: float) -> list[Reply]:
        """One transaction; the booths' answers for the assist requests it escalated, to publish after it."""
        with self.db.transaction() as conn:
            open_clock: dict[str, set[str]] = {}
            for alert in self.db.open_alerts(conn):
                if alert["source"] == "clock":
                    open_clock.setdefault(alert["device"], set()).add(alert["code"])
            facts = (devices.c.id, devices.c.status, devices.c.status_since, devices.c.last_heartbeat_at)
            for row in conn.execute(select(*facts)).mappings().all():
                found = clock_conditions(dict(row), now, self.settings.thresholds)
                if set(found) != open_clock.get(row["id"], set()):
                    self.db.sync_alerts(conn, row["id"], "clock", found, now)
            self.db.close_ended_alerts(conn, now)
            retention = self.settings.heartbeat_retention_days * 86_400
            self.db.prune_heartbeats(conn, now - retention)
            return self.desk.escalate(conn, now)

    def erase_personal_data(self, now: float) -> None:
        """Erase personal data past its retention (central.retention), in a transaction of its own. A
        failure is said once until it works again, and retried at the next hour; a call that hit its
        bound comes back at the next sweep."""
        self.next_erasure_at = now + ERASE_EVERY_S
        try:
            with self.db.transaction() as conn:
                erased = erase_expired(self.db, conn, now, self.settings.personal_data_days)
        except Exception as exc:
            self.counts["erasure_failures"] += 1
            if not self._erasure_failing:
                self._erasure_failing = True
                log.error("central could not erase expired personal data (%s); it tries again hourly",
                          describe(exc))
            return
        if self._erasure_failing:
            self._erasure_failing = False
            log.warning("erasing expired personal data works again")
        if erased.total:
            self.counts["personal_data_erased"] += erased.total
            log.info("erased expired personal data: %d cases, %d appointments, %d dead letters",
                     len(erased.cases), erased.appointments, erased.dead_letters)
        if erased.more:
            self.next_erasure_at = now

    def publish(self, topic: str, body: dict[str, Any]) -> None:
        """A reply to a booth (a progress or assist answer), QoS 1, not retained; only ever after the commit
        of what it reports. The web layer publishes assist answers through it too."""
        self._client.publish(topic, encode(body), qos=QOS_REPLIES)

    def publish_retained(self, topic: str, payload: bytes) -> bool:
        """A release offer (or its withdrawal: empty), retained, QoS 1; False when there is no broker to take it
        now (the rollouts' runner tries again at the next sweep)."""
        if not self.connected.is_set():
            return False
        return self._client.publish(topic, payload, qos=QOS_RELEASE, retain=True).rc == mqtt.MQTT_ERR_SUCCESS

    def send_command(self, targets: list[str], name: str, args: dict[str, Any] | None = None,
                     expires_in_s: float = 600, sent_by: str | None = None, address: str = "") -> dict[str, str]:
        return send_commands(self._client, self.db, targets, name, args, expires_in_s, sent_by, address)


def _printable(text: str) -> str:
    return ascii(text[:200])[1:-1]
