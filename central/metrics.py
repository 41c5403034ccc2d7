"""Central watched by operations (issue 14, point 8): Prometheus metrics of the intake and the fleet.

`render(intake, db)` gives the body and content type of one scrape (the web layer serves it at
`/metrics`, to `settings.metrics_from` only). Everything is read at scrape time by a collector on a
registry of its own (never the process-wide default one): the intake's counters and what it holds from
memory, and the fleet's picture from the database in one short read transaction. When the database
cannot be read the scrape still answers, with the intake's metrics and `central_database_up 0`.

With several central instances on one database each reports its own intake; the `central_booths`,
alert, follow-up and dead-letter gauges are the database's and so the same from every instance (take
`max` across instances, not `sum`). No metric carries a citizen's data: labels are kinds, statuses and
severities, never a device's free text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from central.assist_desk import desk_counts
from central.database import Database, describe
from central.tables import alerts, dead_letters, devices, events, follow_ups

if TYPE_CHECKING:
    from central.intake import Intake

log = logging.getLogger("central.metrics")

BOOTH_STATUSES = ("online", "maintenance", "offline", "unknown")  # devices.status; always reported, 0 or not
SEVERITIES = ("warning", "error")  # central.alerts.Condition.severity

# The intake's counts (Intake.counts) of messages it took from the broker, as (kind, outcome).
# `event_<kind>` keys are events recorded; the rest are named here.
MESSAGE_OUTCOMES = {
    "status": ("status", "recorded"),
    "stale_will": ("status", "stale"),  # a will older than the booth's latest birth: ignored
    "heartbeat": ("heartbeat", "recorded"),
    "duplicate": ("event", "duplicate"),  # a redelivery: confirmed again, recorded once
    "cmd_result": ("cmd_result", "recorded"),
    "cmd_result_unknown": ("cmd_result", "unknown_command"),
    "progress": ("progress", "answered"),
    "rejected": ("unreadable", "rejected"),  # refused by read_message (its kind may be what is wrong)
    "qos0_dropped": ("qos0", "dropped"),  # heartbeats dropped while too many waited
}
# Other counts of the intake: (metric name without _total, help).
INTAKE_COUNTERS = {
    "received": ("central_messages_received", "Messages taken from the broker (before they are recorded)"),
    "dead_letter": ("central_dead_letters_written",
                    "Messages central could never record, kept as dead letters (refused, or by the database)"),
    "confirmed": ("central_events_confirmed", "Events confirmed to their booths after the commit"),
    "database_failures": ("central_database_failures",
                          "Transactions of the intake that failed on the database (each retry counts)"),
    "database_recoveries": ("central_database_recoveries", "Times the database came back after failing"),
    "batch_split": ("central_batches_split", "Batches the database refused, recorded one message at a time"),
    "ack_dropped_old_connection": ("central_acks_dropped",
                                   "Acknowledgements dropped because their broker connection had ended"),
    "writer_errors": ("central_writer_errors", "Errors in central's writer thread that were not the database's"),
    "personal_data_erased": ("central_personal_data_erased",
                             "Cases, appointments and dead letters whose personal data was erased on schedule"),
    "erasure_failures": ("central_personal_data_erasure_failures", "Scheduled erasures of personal data that failed"),
}


class CentralCollector(Collector):
    """Reads the intake and the database each time it is collected."""

    def __init__(self, intake: Intake | None, db: Database | None) -> None:
        self.intake, self.db = intake, db

    def collect(self) -> Iterator[Metric]:
        if self.intake is not None:
            yield from self._intake_metrics(self.intake)
        if self.db is not None:
            yield from self._database_metrics(self.db)

    # -- from the intake's memory -------------------------------------------------------------------------
    @staticmethod
    def _intake_metrics(intake: Intake) -> Iterator[Metric]:
        health = intake.health()
        counts = health["counts"]
        messages = CounterMetricFamily("central_messages", "Messages from the booths, by kind and what became "
                                       "of them (counted once committed)", labels=["kind", "outcome"])
        totals: dict[tuple[str, str], int] = {}
        recorded_events = CounterMetricFamily("central_events_recorded", "Events recorded, by event kind",
                                              labels=["kind"])
        for key, value in sorted(counts.items()):
            if key.startswith("event_"):
                recorded_events.add_metric([key.removeprefix("event_")], value)
                totals[("event", "recorded")] = totals.get(("event", "recorded"), 0) + value
            elif key in MESSAGE_OUTCOMES:
                totals[MESSAGE_OUTCOMES[key]] = totals.get(MESSAGE_OUTCOMES[key], 0) + value
        for (kind, outcome), value in sorted(totals.items()):
            messages.add_metric([kind, outcome], value)
        yield messages
        yield recorded_events
        for key, (name, text) in INTAKE_COUNTERS.items():
            yield CounterMetricFamily(name, text, value=counts.get(key, 0))
        yield GaugeMetricFamily("central_held_messages", "Messages received but not yet committed (waiting, or "
                                "held while the database fails): unacknowledged and unconfirmed",
                                value=health["held_messages"])
        yield GaugeMetricFamily("central_intake_database_ok", "1 if the intake's last transaction succeeded",
                                value=int(health["database_ok"]))
        yield GaugeMetricFamily("central_intake_database_failing_seconds", "How long the intake's transactions "
                                "have been failing (0 when they succeed)", value=health["database_failing_s"] or 0)
        yield GaugeMetricFamily("central_broker_connected", "1 if central is connected to the broker",
                                value=int(health["broker_connected"]))
        yield CounterMetricFamily("central_broker_connections", "Connections made to the broker since start",
                                  value=health["broker_connections"])
        yield GaugeMetricFamily("central_threads_alive", "1 if central's writer and network threads both run",
                                value=int(health["threads_alive"]))

    # -- from the database, in one short read transaction -------------------------------------------------
    @staticmethod
    def _database_metrics(db: Database) -> Iterator[Metric]:
        now = time.time()
        try:
            with db.read() as conn, conn.begin():
                booths = dict(conn.execute(select(devices.c.status, func.count()).group_by(devices.c.status)).all())
                open_alerts = dict(conn.execute(select(alerts.c.severity, func.count())
                                                .where(alerts.c.closed_at.is_(None))
                                                .group_by(alerts.c.severity)).all())
                follow_open, follow_overdue = conn.execute(select(
                    func.count(), func.count().filter(follow_ups.c.due_at < now))
                    .where(follow_ups.c.closed_at.is_(None))).one()
                assists = conn.execute(select(func.count()).where(events.c.kind == "assist")).scalar_one()
                desk = desk_counts(conn)
                letters = conn.execute(select(func.count()).select_from(dead_letters)).scalar_one()
        except Exception as exc:  # a scrape must answer even when the database does not
            _note_failure(exc)
            yield GaugeMetricFamily("central_database_up", "1 if central could read its database for this scrape",
                                    value=0)
            return
        _note_success()
        yield GaugeMetricFamily("central_database_up", "1 if central could read its database for this scrape",
                                value=1)
        family = GaugeMetricFamily("central_booths", "Booths by their last reported status", labels=["status"])
        for status in (*BOOTH_STATUSES, *sorted(set(booths) - set(BOOTH_STATUSES))):
            family.add_metric([status], booths.get(status, 0))
        yield family
        family = GaugeMetricFamily("central_alerts_open", "Open alerts by severity", labels=["severity"])
        for severity in (*SEVERITIES, *sorted(set(open_alerts) - set(SEVERITIES))):
            family.add_metric([severity], open_alerts.get(severity, 0))
        yield family
        yield GaugeMetricFamily("central_follow_ups_open", "差评 follow-ups not yet closed", value=follow_open)
        yield GaugeMetricFamily("central_follow_ups_overdue", "Open 差评 follow-ups past their deadline",
                                value=follow_overdue)
        yield GaugeMetricFamily("central_assist_requests_open", "Assist requests (帮办代办) on the desk not yet "
                                "closed", value=desk["open"])
        yield GaugeMetricFamily("central_assist_requests_escalated", "Open assist requests nobody took within the "
                                "escalation time, still waiting", value=desk["escalated"])
        yield CounterMetricFamily("central_assist_requests_recorded", "Assist requests (assist events) recorded",
                                  value=assists)
        yield GaugeMetricFamily("central_dead_letters", "Dead letters kept (what central could never record)",
                                value=letters)


_failing = False  # the database could not be read at the last scrape: said once per outage


def _note_failure(exc: BaseException) -> None:
    global _failing
    if not _failing:
        _failing = True
        log.warning("metrics: central's database cannot be read (%s); central_database_up is 0", describe(exc))


def _note_success() -> None:
    global _failing
    if _failing:
        _failing = False
        log.info("metrics: central's database can be read again")


def registry(intake: Intake | None, db: Database | None) -> CollectorRegistry:
    """A registry of its own holding central's collector (auto_describe off: describing would collect,
    that is read the database, once more at registration)."""
    made = CollectorRegistry(auto_describe=False)
    made.register(CentralCollector(intake, db))
    return made


def render(intake: Intake | None, db: Database | None) -> tuple[bytes, str]:
    """One scrape: (body, content type) in Prometheus' text format. Never raises for a database failure;
    `intake` may be None in a process that runs only the dashboard."""
    return generate_latest(registry(intake, db)), CONTENT_TYPE_PLAIN_0_0_4
