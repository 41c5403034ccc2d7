"""Central's database tables (SQLAlchemy Core): the same definitions on SQLite and PostgreSQL.

Times are unix seconds (float) as central received or decided them; what a device said about its own
clock stays in the stored payloads, since a Pi without NTP can be years off.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

devices = Table(
    "devices", metadata,
    Column("id", String(64), primary_key=True),
    Column("site", Text, nullable=False, default=""),
    Column("region", String(16), nullable=False, default=""),
    Column("software", String(64), nullable=False, default=""),
    Column("status", String(16), nullable=False, default="unknown"),  # online, maintenance, offline
    Column("status_since", Float),
    Column("boot", Integer, nullable=False, default=0),  # boot counter of the latest birth
    Column("first_seen", Float, nullable=False),
    Column("last_heartbeat_at", Float),
    Column("heartbeat", JSON),  # the latest heartbeat, made whole from the booth's facts (central.heartbeats)
    Column("facts", JSON),  # what the booth's births and fuller heartbeats said of it (central.heartbeats.fold_facts)
)

status_history = Table(
    "status_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(64), ForeignKey("devices.id"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("boot", Integer, nullable=False),
    Column("reason", String(32)),
    Column("received_at", Float, nullable=False),
    Column("stale", Boolean, nullable=False, default=False),  # a will older than the latest birth: ignored
    Index("status_history_device", "device", "received_at"),
)

heartbeats = Table(
    "heartbeats", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(64), ForeignKey("devices.id"), nullable=False),
    Column("received_at", Float, nullable=False),
    Column("boot", Integer, nullable=False),
    Column("outbox_depth", Integer),
    Column("outbox_oldest_s", Integer),
    Column("cpu_temp_c", Float),
    Column("disk_free_mb", Integer),
    Index("heartbeats_device", "device", "received_at"),
)

# An event is one booth's: its key is (device, id), so a redelivery is recorded once and no booth can
# shadow another's event by reusing its id. (Databases made before this key are upgraded in place:
# central.database.upgrade_event_keys.)
events = Table(
    "events", metadata,
    Column("device", String(64), ForeignKey("devices.id"), primary_key=True),
    Column("id", String(26), primary_key=True),  # the device's ULID
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created", String(40), nullable=False),  # as the device stamped it
    Column("received_at", Float, nullable=False),
    Column("payload", JSON, nullable=False),
    Index("events_device_seq", "device", "seq"),
    Index("events_kind", "kind", "received_at"),
    Index("events_id", "id"),  # a receipt number asked at any booth
)

cases = Table(
    "cases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("receipt", String(26), nullable=False),  # the submission's id
    Column("case_no", String(32), unique=True),
    Column("device", String(64), nullable=False),
    Column("item", String(32), nullable=False),
    Column("status", Text, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", Text),  # the operator who set the status (None: central, at intake)
    Column("closed_at", Float),  # when the status became a closing one (central.backoffice.CLOSING)
    Column("personal_erased_at", Float),  # when the applicant's personal data was erased (central.retention)
    UniqueConstraint("device", "receipt", name="cases_device_receipt"),
    ForeignKeyConstraint(["device", "receipt"], ["events.device", "events.id"], name="cases_event"),
    Index("cases_receipt", "receipt"),
)

ratings = Table(
    "ratings", metadata,
    Column("device", String(64), primary_key=True),
    Column("event", String(26), primary_key=True),
    Column("item", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("level", Integer, nullable=False),
    Column("case_ref", String(26)),
    Column("received_at", Float, nullable=False),
    # when the citizen rated: the booth's stamp if its clock was synchronised (and not after receipt),
    # else the receipt; the ledger's period and the follow-up's deadline count from it. Always set;
    # nullable only because SQLite cannot add a NOT NULL column without rebuilding the table
    Column("rated_at", Float),
    ForeignKeyConstraint(["device", "event"], ["events.device", "events.id"], name="ratings_event"),
    Index("ratings_rated_at", "rated_at"),
)

follow_ups = Table(
    "follow_ups", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(64), nullable=False),
    Column("rating", String(26), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("due_at", Float),  # the deadline, in working days from opened_at (central.workdays)
    Column("closed_at", Float),
    Column("closed_by", Text),
    Column("note", Text),
    UniqueConstraint("device", "rating", name="follow_ups_device_rating"),
    ForeignKeyConstraint(["device", "rating"], ["ratings.device", "ratings.event"], name="follow_ups_rating"),
    Index("follow_ups_open", "closed_at", "opened_at"),  # the open ones, oldest first, without a scan
)

alerts = Table(
    "alerts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(64), ForeignKey("devices.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("source", String(16), nullable=False),  # what opens and closes it: heartbeat, clock or event
    Column("severity", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("closed_at", Float),
    Column("until", Float),  # an alert that clears at a known time (an admin PIN lockout)
    Index("alerts_open", "device", "closed_at"),
)

commands = Table(
    "commands", metadata,
    Column("id", String(64), primary_key=True),  # the request id the device answers with
    Column("batch", String(32), nullable=False),  # one send to a group: one batch, one id per device
    Column("device", String(64), nullable=False),
    Column("name", String(32), nullable=False),
    Column("args", JSON, nullable=False),
    Column("sent_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("answered_at", Float),
    Column("ok", Boolean),
    Column("result", JSON),  # `result` or `error` of the device's cmd-result
    Column("sent_by", Text),  # the operator (or shell:LOGIN) who sent it
    Index("commands_device", "device", "sent_at"),
)

# What central could never record (refused at intake, or refused by the database itself), kept so an
# operator sees it (`kiosk central dead-letters`) and the booth can be told to stop resending it. The
# raw bytes are kept for a developer to replay once the cause is fixed; nothing shows or logs them.
dead_letters = Table(
    "dead_letters", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(64)),  # from the topic, when it names a device (the broker's ACL vouches)
    Column("topic", String(256), nullable=False),
    Column("event", String(26)),  # the event's id and seq, when the envelope names them usably
    Column("seq", Integer),
    Column("reason", Text, nullable=False),
    Column("size", Integer, nullable=False),
    Column("payload", LargeBinary),
    Column("received_at", Float, nullable=False),
    UniqueConstraint("device", "event", name="dead_letters_device_event"),  # a resend is kept once
    Index("dead_letters_received", "received_at"),
)

# A citizen's call for help (帮办代办) on the assist desk (central.assist_desk): made from an `assist` event in
# the transaction that records it, then taken and closed by operators. The call-back number is sealed
# (AES-GCM, bound to device and request) and erased when the request is closed.
assists = Table(
    "assists", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device", String(64), nullable=False),
    Column("request", String(26), nullable=False),  # the assist event's id
    Column("site", Text, nullable=False, default=""),  # the booth's site and region when it asked
    Column("region", String(16), nullable=False, default=""),
    Column("item", String(32)),  # the service item the citizen was on, if any
    Column("screen", String(32), nullable=False),
    Column("requested_mode", String(16), nullable=False),  # on_site or call_back, as the citizen asked
    Column("mode", String(16), nullable=False),  # how they are helped: on_site outside staff hours → call_back
    Column("phone_sealed", LargeBinary),  # the call-back number, sealed; NULL without one or once closed
    Column("made_at", Float, nullable=False),  # when the citizen asked (the booth's synchronised stamp, else receipt)
    Column("received_at", Float, nullable=False),
    Column("desk_from", Float, nullable=False),  # when the desk could first take it: receipt, or the next staff hours
    Column("outside_hours", Boolean, nullable=False),
    Column("escalated_at", Float),
    Column("taken_at", Float),
    Column("taken_by", String(64)),  # the operator's user name
    Column("call_back_within_min", Integer),
    Column("closed_at", Float),
    Column("closed_by", String(64)),
    Column("outcome", String(16)),  # appliance.contract.ASSIST_OUTCOMES
    Column("note", Text),
    UniqueConstraint("device", "request", name="assists_device_request"),
    ForeignKeyConstraint(["device", "request"], ["events.device", "events.id"], name="assists_event"),
    Index("assists_open", "closed_at", "made_at"),  # the open ones, oldest first, without a scan
    Index("assists_made_at", "made_at"),  # a period's requests (usage, 台账)
)

# -- the office's side: who may use the dashboard, what they did, their browser sessions --------------

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # argon2id (argon2-cffi's encoded form)
    Column("role", String(16), nullable=False),  # viewer, operator, admin (central.accounts.ROLES)
    Column("regions", JSON, nullable=False),  # region code prefixes the user is limited to; [] = all
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),  # in a row, since the last success
    Column("locked_until", Float),
    Column("last_login_at", Float),
    Column("display_name", String(64)),  # what citizens are told ("王芳 已接单"); None: the user name
)

# Append-only (the migration adds triggers that refuse UPDATE and DELETE): every login, command, case
# status change, follow-up closed, personal data opened or erased, and user change.
audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("actor", String(64), nullable=False),  # a user's name, or "central" for what runs by itself
    Column("address", String(64), nullable=False, default=""),  # the client's address, as the proxy says
    Column("action", String(32), nullable=False),  # login, login_failed, command, case_status, …
    Column("target", Text, nullable=False, default=""),  # a device, case number, follow-up id, user name
    Column("ok", Boolean, nullable=False, default=True),
    Column("details", JSON, nullable=False),  # never personal data
    Index("audit_log_at", "at"),
)

# Dashboard sessions (starsessions' store): the key is a hash of the cookie's id, so the table alone
# opens no session.
web_sessions = Table(
    "web_sessions", metadata,
    Column("key", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("web_sessions_expires", "expires_at"),
)

# Central's own secrets, shared by every instance on this database (the CSRF tokens' signing key).
central_secrets = Table(
    "central_secrets", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- usage totals, kept as usage reports arrive (central.usage_totals): the usage page reads these, not
# every report of the period (2,000 booths × 14 days is 28,000 reports of dozens of counts each) --------

# Per booth-stamped day, region, action and item ("" for counts without an item): per-day charts and
# top items.
usage_daily = Table(
    "usage_daily", metadata,
    Column("day", String(10), primary_key=True),  # YYYY-MM-DD of the report's window_start, or "unknown"
    Column("region", String(16), primary_key=True),  # the booth's region when the report arrived
    Column("action", String(32), primary_key=True),
    Column("item", String(32), primary_key=True),
    Column("count", Integer, nullable=False),
)

# Per day and booth: citizens served (guides viewed, notices printed, submissions, appointments).
usage_daily_booth = Table(
    "usage_daily_booth", metadata,
    Column("day", String(10), primary_key=True),
    Column("device", String(64), primary_key=True),
    Column("region", String(16), nullable=False),
    Column("served", Integer, nullable=False),
)

# -- software releases (issue 17, central.releases): the signed bundles central holds, rollouts of one to a part
# of the fleet in waves, and what each booth says of its updates -------------------------------------------

# A release as `kiosk central release add` verified it: its manifest's exact signed bytes and signature (what
# an offer carries), and each file's place in the bundle kept in --release-dir (what chunks are read from).
releases = Table(
    "releases", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version", String(16), nullable=False),  # X.Y.Z
    Column("sequence", Integer, nullable=False),  # orders releases, inside the signed manifest
    Column("platform", String(16), nullable=False),  # aarch64, x86_64
    Column("manifest", LargeBinary, nullable=False),  # manifest.json, byte for byte
    Column("signature", Text, nullable=False),  # manifest.sig's base64 text, stripped
    Column("files", JSON, nullable=False),  # name → {sha256, bytes, at}: `at` is where its bytes start in the bundle
    Column("bundle", String(255), nullable=False),  # the bundle's file name in --release-dir
    Column("bundle_bytes", BigInteger, nullable=False),
    Column("added_at", Float, nullable=False),
    Column("added_by", String(64), nullable=False),  # shell:LOGIN
    UniqueConstraint("platform", "version", name="releases_platform_version"),
    UniqueConstraint("platform", "sequence", name="releases_platform_sequence"),
)

# A release offered to booths wave by wave (central.releases.rollouts).
rollouts = Table(
    "rollouts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("release", Integer, ForeignKey("releases.id"), nullable=False),
    Column("target", JSON, nullable=False),  # {"region": P} | {"region": P, "percent": N} | {"devices": [...]}
    Column("waves", JSON, nullable=False),  # wave sizes in % of the rollout's booths, e.g. [10, 30, 60]
    Column("halt_above", Float, nullable=False),  # halts when more than this share (0..1) of a wave rolled back
    Column("state", String(16), nullable=False),  # running, paused, halted, completed
    Column("wave", Integer, nullable=False),  # the wave offered last (1-based)
    Column("reason", Text),  # why it halted
    Column("created_at", Float, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("changed_at", Float, nullable=False),
    Column("changed_by", String(64), nullable=False),  # a user, or "central" (a wave moved on, a halt by itself)
    Index("rollouts_state", "state"),
)

# Each booth of a rollout: its wave, when it was offered the release, what became of it. `published_at` is
# None while the broker does not yet hold the booth's retained offer (or its withdrawal) as this row says.
rollout_booths = Table(
    "rollout_booths", metadata,
    Column("rollout", Integer, ForeignKey("rollouts.id"), primary_key=True),
    Column("device", String(64), ForeignKey("devices.id"), primary_key=True),
    Column("wave", Integer, nullable=False),
    Column("offered_at", Float),
    Column("acted_at", Float),  # the booth began on it: a chunk served, or a report of this version
    Column("outcome", String(16)),  # committed, rolled_back, refused, withdrawn
    Column("outcome_at", Float),
    Column("reason", String(200)),  # the booth's, with rolled_back or refused
    Column("published_at", Float),
    Index("rollout_booths_device", "device", "rollout"),
    Index("rollout_booths_unpublished", "published_at"),
)

# What each booth last said of its updates (the heartbeat's `update` block); `problem` says why the last
# block was refused (the heartbeat itself is recorded all the same).
device_updates = Table(
    "device_updates", metadata,
    Column("device", String(64), ForeignKey("devices.id"), primary_key=True),
    Column("state", String(16)),  # appliance.contract.UpdateState; None before a good block came
    Column("version", String(16)),
    Column("reason", String(200)),
    Column("fetched", BigInteger),
    Column("needed", BigInteger),
    Column("since", Float),  # when it first said this state, version and reason
    Column("reported_at", Float, nullable=False),
    Column("problem", String(300)),
)

# -- receipt numbers (issue 18): the 16-digit numbers booths print (appliance/receipt_numbers.py), and the
# booth codes they carry, so that a citizen finds their case by its number or by their ID card (central.receipts) --

# Each numbered submission or appointment: its number, and the keyed digest of its applicant's ID number
# (`holder`, HMAC with central's lookup key; erased with the applicant's personal data). `conflict`: the number
# was already another event's (a booth whose state database was lost), or its booth code is another booth's:
# such a number finds nothing by itself (the citizen's ID card and the booth that filed it still do).
receipt_numbers = Table(
    "receipt_numbers", metadata,
    Column("device", String(64), primary_key=True),
    Column("event", String(26), primary_key=True),
    Column("number", String(16), nullable=False),
    Column("kind", String(16), nullable=False),  # submission or appointment
    Column("holder", String(64)),
    Column("filed_at", Float, nullable=False),  # when filed: the booth's synchronised stamp, else receipt
    Column("conflict", Boolean, nullable=False, default=False),
    ForeignKeyConstraint(["device", "event"], ["events.device", "events.id"], name="receipt_numbers_event"),
    Index("receipt_numbers_number", "number"),
    Index("receipt_numbers_holder", "holder"),
)

# Which booth a booth code belongs to: the first booth whose numbers carried it. Another booth's numbers with
# the same code are flagged (conflict) and an alert names the clash until that booth is given its own code.
booth_codes = Table(
    "booth_codes", metadata,
    Column("code", String(5), primary_key=True),
    Column("device", String(64), nullable=False),
    Column("first_seen", Float, nullable=False),
)
