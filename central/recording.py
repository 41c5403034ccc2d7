"""What each message a booth publishes does to central's database: one batch in one transaction (the intake
decides when, holds the batch through database failures, and confirms and acknowledges it after the commit).

Status and command results are recorded as they come; heartbeats and events are gathered and recorded together
(one statement for many). Events are de-duplicated per device, every copy is confirmed, an assist request goes
on the desk, a progress query is answered from the cases and receipt numbers, a release chunk request is judged
by the chunk server. A message `read_message` refuses is kept as a dead letter with its reason."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from appliance.contract import iso, progress_answer_topic
from central import receipts
from central.alerts import clock_conditions, event_condition, heartbeat_conditions
from central.assist_desk import AssistDesk
from central.database import Database
from central.messages import BadMessage, Message, read_message
from central.releases.chunks import ChunkServer
from central.releases.reports import record_update_reports
from central.settings import CentralSettings

Reply = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Received:
    """A message as the intake took it from the broker, waiting for its batch."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    at: float
    connection: int  # the connection generation it arrived on: its ack is valid only on that one


@dataclass
class Outcome:
    """What one committed transaction owes: replies to publish and events to confirm, per device."""

    replies: list[Reply] = field(default_factory=list)
    confirmed: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: defaultdict(list))
    counts: Counter[str] = field(default_factory=Counter)  # added to the intake's once committed
    dead: list[tuple[str, str]] = field(default_factory=list)  # (topic, reason) of the dead letters
    chunks: list[Callable[[], Reply]] = field(default_factory=list)  # release chunks: read when published
    rollouts_changed: bool = False  # a booth reported on an update: the rollouts are judged again at once


class Recorder:
    """Records batches of received messages; what a committed batch owes (confirmations, replies, chunks) is
    its `Outcome`."""

    def __init__(self, settings: CentralSettings, database: Database, desk: AssistDesk, chunks: ChunkServer) -> None:
        self.settings = settings
        self.db = database
        self.desk = desk
        self.chunks = chunks
        self.lookup_key = receipts.LookupKey(settings.personal_data_key)  # for citizens' digests (central.receipts)

    def commit(self, batch: list[Received]) -> Outcome:
        """Record a batch in one transaction."""
        outcome = Outcome()
        with self.db.transaction() as conn:
            gathered: dict[str, list[tuple[Message, float]]] = {"heartbeat": [], "event": []}
            for received in batch:
                outcome.replies += self._record(conn, received, gathered, outcome)
            if gathered["event"]:
                self._record_events(conn, gathered["event"], outcome)
            if gathered["heartbeat"]:
                self._record_heartbeats(conn, gathered["heartbeat"], outcome)
        return outcome

    def bury(self, received: Received, reason: str) -> Outcome:
        """A message the database will not take, kept as a dead letter in a transaction of its own."""
        outcome = Outcome()
        device, event = _identity(received)
        with self.db.transaction() as conn:
            self.db.add_dead_letter(conn, received.topic, device, event, reason, received.payload, received.at)
        outcome.counts["dead_letter"] += 1
        outcome.dead.append((received.topic, reason))
        if device is not None and event is not None:
            outcome.confirmed[device].append(event)
        return outcome

    def _record(self, conn: Connection, received: Received, gathered: dict[str, list[tuple[Message, float]]],
                outcome: Outcome) -> list[Reply]:
        """Record one message, except heartbeats and events: they are gathered and recorded together. A
        message refused by `read_message` is kept as a dead letter (and confirmed, if it is an event)."""
        try:
            message = read_message(received.topic, received.payload)
        except BadMessage as exc:
            outcome.counts["rejected"] += 1
            outcome.counts["dead_letter"] += 1
            outcome.dead.append((received.topic, str(exc)))
            self.db.add_dead_letter(conn, received.topic, exc.device, exc.event, str(exc), received.payload,
                                    received.at)
            if exc.device is not None and exc.event is not None:
                outcome.confirmed[exc.device].append(exc.event)
            return []
        if message.kind in gathered:
            gathered[message.kind].append((message, received.at))
            return []
        handler = getattr(self, f"_record_{message.kind.replace('-', '_')}")
        return handler(conn, message, received.at, outcome) or []

    def _record_status(self, conn: Connection, message: Message, now: float, outcome: Outcome) -> None:
        fresh = self.db.record_status(conn, message.device, message.body, now)
        outcome.counts["status" if fresh else "stale_will"] += 1
        if fresh:
            self._judge_clock(conn, message.device, now)

    def _record_heartbeats(self, conn: Connection, beats: list[tuple[Message, float]], outcome: Outcome) -> None:
        # made whole from the booth's facts (central.heartbeats): alerts follow each booth's latest heartbeat
        latest = {device: (beat, at) for device, beat, at in
                  self.db.record_heartbeats(conn, [(m.device, m.body, at) for m, at in beats])}
        known = self.db.devices_and_open_alerts(conn, list(latest))
        for device, (beat, now) in latest.items():
            row, open_now = known[device]
            self.db.sync_alerts(conn, device, "heartbeat", heartbeat_conditions(beat, self.settings.thresholds), now,
                                open_now)
            self.db.sync_alerts(conn, device, "clock", clock_conditions(row, now, self.settings.thresholds), now,
                                open_now)
        # an update block central knows to be behind the booth's (facts_stale) is not the booth's word now
        if record_update_reports(conn, [(device, beat, at) for device, (beat, at) in latest.items()
                                        if not beat.get("facts_stale")]):
            outcome.rollouts_changed = True  # a booth said something new of an update: judge the rollouts after it
        outcome.counts["heartbeat"] += len(beats)

    def _record_events(self, conn: Connection, gathered: list[tuple[Message, float]], outcome: Outcome) -> None:
        """New events are recorded; every event of the batch, redeliveries included, is confirmed. An assist
        request goes on the desk (its phone sealed there, never kept in the event) and its booth is answered
        after the commit: `queued`, or for a redelivery the request's state then."""
        phones = {(m.device, m.body["id"]): m.body["payload"].pop("phone", None)
                  for m, _at in gathered if m.body["kind"] == "assist"}
        new = self.db.record_events(conn, [(m.device, m.body, at) for m, at in gathered])
        outcome.counts["duplicate"] += len(gathered) - len(new)
        outcome.counts["receipt_number_conflict"] += receipts.record(self.db, conn, self.lookup_key, new)
        for message, _at in gathered:
            outcome.confirmed[message.device].append((message.body["seq"], message.body["id"]))
        new_requests = {}  # assist events recorded just now, by (device, id)
        for device, envelope, now in new:
            outcome.counts[f"event_{envelope['kind']}"] += 1
            opened = event_condition(envelope["payload"]) if envelope["kind"] == "alert" else None
            if opened is not None:
                self.db.open_alert(conn, device, "event", *opened, now)
            if envelope["kind"] == "assist":
                new_requests[device, envelope["id"]] = envelope, now
        for message, at in gathered:  # every copy is answered: the first of a new one goes on the desk
            if message.body["kind"] != "assist":
                continue
            key = (message.device, message.body["id"])
            if key in new_requests:
                envelope, now = new_requests.pop(key)
                outcome.replies.append(self.desk.record(conn, message.device, envelope, now, phones[key]))
            elif (answer := self.desk.answer(conn, message.device, message.body["id"], at)) is not None:
                outcome.replies.append(answer)

    def _record_cmd_result(self, conn: Connection, message: Message, now: float, outcome: Outcome) -> None:
        known = self.db.record_command_result(conn, message.device, message.body, now)
        outcome.counts["cmd_result" if known else "cmd_result_unknown"] += 1

    def _record_progress(self, conn: Connection, message: Message, now: float, outcome: Outcome) -> list[Reply]:
        """A booth's citizen asks how their case stands: by receipt number, by an older receipt's event id, or
        by the keyed digest of their ID number (central.receipts); or the booth asks for the digests' key."""
        body, answer = message.body, {"id": message.body["id"]}
        if body.get("want") == "holder_key":
            answer["holder_key"] = self.lookup_key.for_booth()
        elif body.get("holder") is not None:
            found = receipts.by_holder(conn, body["holder"])
            answer.update(holder=True, found=bool(found), cases=found)
        elif body.get("number") is not None:
            found = receipts.by_number(conn, body["number"], message.device)
            answer.update({"number": body["number"], "found": found is not None, **(found or {})})
        else:
            case = self.db.progress(conn, body["case"].strip().upper(), message.device)
            answer.update(case=body["case"], found=case is not None)
            if case is not None:
                note = f"办件编号 {case['case_no']}" + (f"；{case['note']}" if case["note"] else "")
                answer.update(status=case["status"], updated=iso(case["updated_at"]), note=note,
                              case_no=case["case_no"], item=case["item"])
        outcome.counts["progress"] += 1
        return [(progress_answer_topic(message.device), answer)]

    def _record_release_request(self, conn: Connection, message: Message, _now: float, outcome: Outcome) -> None:
        outcome.chunks.append(self.chunks.decide(conn, message.device, message.body))
        outcome.counts["release_request"] += 1

    # -- conditions judged on central's clock -------------------------------------------------------------
    def _judge_clock(self, conn: Connection, device: str, now: float) -> None:
        self.db.sync_alerts(conn, device, "clock", clock_conditions(
            self.db.device(conn, device), now, self.settings.thresholds), now)


def _identity(received: Received) -> tuple[str | None, tuple[int, str] | None]:
    """The device and event a message names, as far as they can be read, for a dead letter."""
    try:
        message = read_message(received.topic, received.payload)
    except BadMessage as exc:
        return exc.device, exc.event
    event = (message.body["seq"], message.body["id"]) if message.kind == "event" else None
    return message.device, event
