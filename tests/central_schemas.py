"""Central's schemas of before, for the tests that upgrade them: the one from before events were keyed by
(device, id), built from central 0.1's frozen tables (central/migrations/legacy.py)."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

from central.migrations import legacy as v0_1


def pre_key_schema() -> MetaData:
    """central's tables before events were keyed by (device, id) (central/tables.py at 501ea75^): events,
    cases, ratings and follow-ups keyed by the event's id alone, and no dead letters yet."""
    old = MetaData()
    for name in ("devices", "status_history", "heartbeats", "alerts", "commands"):  # as 0.1 still had them
        v0_1.metadata.tables[name].to_metadata(old)
    Table("events", old, Column("id", String(26), primary_key=True),
          Column("device", String(64), ForeignKey("devices.id"), nullable=False),
          Column("seq", Integer, nullable=False), Column("kind", String(16), nullable=False),
          Column("created", String(40), nullable=False), Column("received_at", Float, nullable=False),
          Column("payload", JSON, nullable=False), Index("events_device_seq", "device", "seq"),
          Index("events_kind", "kind", "received_at"))
    Table("cases", old, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("receipt", String(26), ForeignKey("events.id"), nullable=False, unique=True),
          Column("case_no", String(32), unique=True), Column("device", String(64), nullable=False),
          Column("item", String(32), nullable=False), Column("status", Text, nullable=False),
          Column("note", Text, nullable=False), Column("updated_at", Float, nullable=False))
    Table("ratings", old, Column("event", String(26), ForeignKey("events.id"), primary_key=True),
          Column("device", String(64), nullable=False), Column("item", String(32), nullable=False),
          Column("channel", String(32), nullable=False), Column("level", Integer, nullable=False),
          Column("case_ref", String(26)), Column("received_at", Float, nullable=False))
    Table("follow_ups", old, Column("id", Integer, primary_key=True, autoincrement=True),
          Column("rating", String(26), ForeignKey("ratings.event"), nullable=False, unique=True),
          Column("opened_at", Float, nullable=False), Column("closed_at", Float), Column("closed_by", Text),
          Column("note", Text))
    return old
