"""The intake: subscribes to every booth, records what they publish, answers progress queries and sends
operators' commands.

MQTT 5 shared subscriptions (`$share/{group}/...`) let several central instances split one fleet's
messages behind one broker. paho's network thread only reads and queues; one writer thread records
messages in batches, one transaction each, and acknowledges them to the broker only after the commit
(manual acks): a central that dies mid-batch gets the unacknowledged messages again.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Connection, select

from appliance.contract import (
    QOS_COMMANDS,
    TOPIC_ROOT,
    encode,
    iso,
    progress_answer_topic,
)
from central.alerts import clock_conditions, event_condition, heartbeat_conditions
from central.commands import send_commands
from central.database import Database
from central.messages import BadMessage, Message, read_message
from central.settings import CentralSettings
from central.tables import devices

log = logging.getLogger("central.intake")

SUBSCRIPTIONS = ("status", "heartbeat", "events/#", "cmd-result", "progress/request")
BATCH = 500
SWEEP_S = 5.0


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    at: float


class Intake:
    def __init__(self, settings: CentralSettings, database: Database) -> None:
        self.settings = settings
        self.db = database
        self.counts: Counter[str] = Counter()  # recorded / duplicate / stale / rejected, by message kind
        self.connected = threading.Event()
        self._inbox: queue.Queue[Received] = queue.Queue()
        self._stopping = threading.Event()
        self._next_sweep = 0.0
        self._client = self._make_client()
        self._writer = threading.Thread(target=self._write_loop, name="central-writer", daemon=True)

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=mqtt.MQTTv5,
                             manual_ack=True)
        client.enable_logger(logging.getLogger("central.paho"))
        if s.ca_file is not None:
            client.tls_set(ca_certs=str(s.ca_file), certfile=str(s.cert_file) if s.cert_file else None,
                           keyfile=str(s.key_file) if s.key_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.on_connect = self._on_connect
        client.on_disconnect = lambda *_args: self.connected.clear()
        client.on_message = self._on_message
        return client

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = 7 * 86_400  # the broker keeps our queue while we restart
        self._writer.start()
        self._client.connect_async(self.settings.broker_host, self.settings.broker_port, 30, clean_start=False,
                                   properties=properties)
        self._client.loop_start()

    def stop(self) -> None:
        self._stopping.set()
        self._writer.join(timeout=10)
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client, _userdata, _flags, reason, _properties) -> None:
        if reason.is_failure:
            log.error("broker refused central: %s", reason)
            return
        group = self.settings.share_group
        client.subscribe([(f"$share/{group}/{TOPIC_ROOT}/+/{suffix}", 1) for suffix in SUBSCRIPTIONS])
        self.connected.set()
        log.info("connected to %s:%d as %s", self.settings.broker_host, self.settings.broker_port,
                 self.settings.client_id)

    def _on_message(self, _client, _userdata, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(Received(message.topic, message.payload, message.mid, message.qos, time.time()))

    # -- recording ------------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = [self._inbox.get(timeout=0.2)]
            except queue.Empty:
                self._sweep_when_due()
                continue
            while len(batch) < BATCH:
                try:
                    batch.append(self._inbox.get_nowait())
                except queue.Empty:
                    break
            replies = self._record_batch(batch)
            for received in batch:
                if received.qos:
                    self._client.ack(received.mid, received.qos)
            for topic, body in replies:
                self._client.publish(topic, encode(body), qos=QOS_COMMANDS)
            self._sweep_when_due()

    def _record_batch(self, batch: list[Received]) -> list[tuple[str, dict[str, Any]]]:
        """Record a batch in one transaction; if the database refuses it, one message at a time, so
        one bad message costs only itself."""
        try:
            with self.db.transaction() as conn:
                gathered: dict[str, list[tuple[Message, float]]] = {"heartbeat": [], "event": []}
                replies = [reply for received in batch for reply in self._record(conn, received, gathered)]
                if gathered["event"]:
                    self._record_events(conn, gathered["event"])
                if gathered["heartbeat"]:
                    self._record_heartbeats(conn, gathered["heartbeat"])
                return replies
        except Exception:
            if len(batch) == 1:
                log.exception("could not record a message on %s; dropped", batch[0].topic)
                self.counts["failed"] += 1
                return []
            log.warning("a batch of %d failed; recording its messages one by one", len(batch))
            return [reply for received in batch for reply in self._record_batch([received])]

    def _record(self, conn: Connection, received: Received,
                gathered: dict[str, list[tuple[Message, float]]]) -> list[tuple[str, dict[str, Any]]]:
        """Record one message, except heartbeats and events: they are gathered and recorded together."""
        try:
            message = read_message(received.topic, received.payload)
        except BadMessage as exc:
            self.counts["rejected"] += 1
            log.warning("rejected: %s", exc)
            return []
        if message.kind in gathered:
            gathered[message.kind].append((message, received.at))
            return []
        handler = getattr(self, f"_record_{message.kind.replace('-', '_')}")
        return handler(conn, message, received.at) or []

    def _record_status(self, conn: Connection, message: Message, now: float) -> None:
        fresh = self.db.record_status(conn, message.device, message.body, now)
        self.counts["status" if fresh else "stale_will"] += 1
        if fresh:
            self._judge_clock(conn, message.device, now)

    def _record_heartbeats(self, conn: Connection, beats: list[tuple[Message, float]]) -> None:
        self.db.record_heartbeats(conn, [(m.device, m.body, at) for m, at in beats])
        latest = {m.device: (m.body, at) for m, at in beats}  # alerts follow each booth's latest heartbeat
        known = self.db.devices_and_open_alerts(conn, list(latest))
        for device, (beat, now) in latest.items():
            row, open_now = known[device]
            self.db.sync_alerts(conn, device, "heartbeat", heartbeat_conditions(beat, self.settings.thresholds), now,
                                open_now)
            self.db.sync_alerts(conn, device, "clock", clock_conditions(row, now, self.settings.thresholds), now,
                                open_now)
        self.counts["heartbeat"] += len(beats)

    def _record_events(self, conn: Connection, gathered: list[tuple[Message, float]]) -> None:
        new = self.db.record_events(conn, [(m.device, m.body, at) for m, at in gathered])
        self.counts["duplicate"] += len(gathered) - len(new)
        for device, envelope, now in new:
            self.counts[f"event_{envelope['kind']}"] += 1
            opened = event_condition(envelope["payload"]) if envelope["kind"] == "alert" else None
            if opened is not None:
                self.db.open_alert(conn, device, "event", *opened, now)

    def _record_cmd_result(self, conn: Connection, message: Message, now: float) -> None:
        known = self.db.record_command_result(conn, message.device, message.body, now)
        self.counts["cmd_result" if known else "cmd_result_unknown"] += 1

    def _record_progress(self, conn: Connection, message: Message, now: float) -> list[tuple[str, dict[str, Any]]]:
        case = self.db.progress(conn, message.body["case"].strip().upper())
        answer: dict[str, Any] = {"id": message.body["id"], "case": message.body["case"], "found": case is not None}
        if case is not None:
            note = f"办件编号 {case['case_no']}" + (f"；{case['note']}" if case["note"] else "")
            answer.update(status=case["status"], updated=iso(case["updated_at"]), note=note, case_no=case["case_no"])
        self.counts["progress"] += 1
        return [(progress_answer_topic(message.device), answer)]

    # -- conditions judged on central's clock -------------------------------------------------------------
    def _judge_clock(self, conn: Connection, device: str, now: float) -> None:
        self.db.sync_alerts(conn, device, "clock", clock_conditions(
            self.db.device(conn, device), now, self.settings.thresholds), now)

    def _sweep_when_due(self) -> None:
        """Re-judge the clock's alerts of every booth (offline too long, heartbeat overdue), writing
        only what changed; close event alerts whose end has come; prune old heartbeats."""
        now = time.time()
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_S
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

    def send_command(self, targets: list[str], name: str, args: dict[str, Any] | None = None,
                     expires_in_s: float = 600) -> dict[str, str]:
        return send_commands(self._client, self.db, targets, name, args, expires_in_s)

