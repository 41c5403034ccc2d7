"""The message contract between devices and central (design.md §4, docs/asyncapi.yaml).

Both sides import this module and nothing else of each other: topic names, event kinds, which kinds
carry personal data, and the common stamp every payload carries.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

TOPIC_ROOT = "kiosk/v1"
DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9-]{2,62}")  # a topic segment and the certificate's CN (use fullmatch)


class EventKind(StrEnum):
    SUBMISSION = "submission"
    RATING = "rating"
    ASSIST = "assist"
    USAGE = "usage"
    ALERT = "alert"
    APPOINTMENT = "appointment"


# Events that carry a citizen's personal data: encrypted at rest, published only over TLS. An assist
# request may carry a call-back phone number, so every assist request is treated as personal.
PERSONAL_KINDS = frozenset({EventKind.SUBMISSION, EventKind.APPOINTMENT, EventKind.ASSIST})
# What a citizen did at the booth: never refused for capacity, never aged out.
CITIZEN_KINDS = frozenset({EventKind.SUBMISSION, EventKind.RATING, EventKind.ASSIST, EventKind.APPOINTMENT})


class DeviceStatus(StrEnum):
    ONLINE = "online"
    MAINTENANCE = "maintenance"
    OFFLINE = "offline"


COMMAND_NAMES = ("ping", "status", "maintenance", "reload-catalog", "print-test", "led-test", "retry-set-aside",
                 "reboot", "restart")

QOS_STATUS = 1
QOS_HEARTBEAT = 0
QOS_EVENTS = 1
QOS_COMMANDS = 1
QOS_CONFIRMATIONS = 1
QOS_ASSIST_ANSWERS = 1


def device_topic(device_id: str, suffix: str) -> str:
    return f"{TOPIC_ROOT}/{device_id}/{suffix}"


def status_topic(device_id: str) -> str:
    return device_topic(device_id, "status")


def heartbeat_topic(device_id: str) -> str:
    return device_topic(device_id, "heartbeat")


def event_topic(device_id: str, kind: str) -> str:
    return device_topic(device_id, f"events/{kind}")


def command_topic(device_id: str, name: str) -> str:
    return device_topic(device_id, f"cmd/{name}")


def command_result_topic(device_id: str) -> str:
    return device_topic(device_id, "cmd-result")


def progress_request_topic(device_id: str) -> str:
    return device_topic(device_id, "progress/request")


def progress_answer_topic(device_id: str) -> str:
    return device_topic(device_id, "progress/answer")


def assist_answer_topic(device_id: str) -> str:
    """Central → device: what became of an assist request (queued, taken, escalated, closed)."""
    return device_topic(device_id, "assist/answer")


class AssistMode(StrEnum):
    """How a citizen wants help: someone coming to the booth, or a call back at a number they keyed in."""

    ON_SITE = "on_site"
    CALL_BACK = "call_back"


class AssistState(StrEnum):
    """Where an assist request stands at central's desk (docs/asyncapi.yaml, AssistAnswer)."""

    QUEUED = "queued"  # recorded at central, on the desk, nobody has taken it yet
    TAKEN = "taken"  # an operator took it: someone is coming, or will call back
    ESCALATED = "escalated"  # not taken within the escalation time: the booth offers the hotline
    CLOSED = "closed"  # an operator closed it with an outcome


ASSIST_OUTCOMES = ("helped_on_site", "called_back", "no_answer", "citizen_gone")
ASSIST_SCREEN = re.compile(r"[a-z_]{1,32}")  # the screen a citizen asked from (use fullmatch)
# A call-back number, digits only: an 11-digit mobile or a landline with its area code (a desk in another
# city cannot dial a local number without one).
PHONE_NUMBER = re.compile(r"1[3-9][0-9]{9}|0[0-9]{9,11}")  # use fullmatch
HOTLINE = "12345"  # 政务服务便民热线: what a booth offers when no one at the desk can help in time


def assist_answer(request_id: str, state: AssistState, mode: AssistMode, **fields: Any) -> dict[str, Any]:
    """The body of an assist answer; `fields` are the state's own (operator, call_back_within_min …)."""
    return {"ts": now_iso(), "request": request_id, "state": state.value, "mode": mode.value, **fields}


def confirmation_topic(device_id: str) -> str:
    """Central → device: the events central has committed to its database (what frees them at the booth)."""
    return device_topic(device_id, "ack")


def confirmation(committed: list[tuple[int, str]]) -> dict[str, Any]:
    """The body of a confirmation: `[seq, id]` of each event central has committed (or dead-lettered),
    redeliveries included. Lists, not the highest contiguous seq: several central instances share one
    booth's events, and none of them sees all of its seqs."""
    return {"ts": now_iso(), "confirmed": [[seq, event_id] for seq, event_id in committed]}


MAX_CONFIRMED = 1000  # events one confirmation names at most (central splits larger batches)


def release_offer_topic(device_id: str) -> str:
    """Central → device, retained: the release this booth should run (docs/asyncapi.yaml, ReleaseOffer);
    an empty retained message withdraws it."""
    return device_topic(device_id, "release/offer")


def release_request_topic(device_id: str) -> str:
    """Device → central: one chunk of one file of an offered release, please (ReleaseChunkRequest)."""
    return device_topic(device_id, "release/request")


def release_chunk_topic(device_id: str) -> str:
    """Central → device: the chunk asked for, or why not (ReleaseChunk)."""
    return device_topic(device_id, "release/chunk")


QOS_RELEASE = 1
MAX_RELEASE_CHUNK = 64 * 1024  # bytes of file one chunk carries at most (base64 in JSON: ~87 KiB on the wire)


class UpdateState(StrEnum):
    """Where a booth stands with a software release (the heartbeat's `update.state`)."""

    IDLE = "idle"  # running a committed release, nothing offered beyond it
    DOWNLOADING = "downloading"  # fetching the wheels it lacks, chunk by chunk
    STAGED = "staged"  # everything fetched and verified; waiting for no citizen in a session
    INSTALLING = "installing"  # the root side verifies and builds the release's environment
    TRIAL = "trial"  # running the new release, not yet healthy for the whole commit window
    COMMITTED = "committed"  # the new release passed its trial
    ROLLED_BACK = "rolled_back"  # the new release failed its trial; the previous one runs again (`reason`)
    REFUSED = "refused"  # the offer or bundle failed verification, or does not fit (`reason`)


def catalog_topic(region: str) -> str:
    return f"{TOPIC_ROOT}/catalog/{region}"


_ZONE_SPAN_S = 900  # UTC offsets change only at quarter hours (DST and zone rules)
_last_zone: tuple[float, timezone] = (-1.0, UTC)  # (quarter hour, the local zone's offset then)


_last_second: tuple[int, str, str] = (-1, "", "")  # (unix second, its "YYYY-MM-DDTHH:MM:SS", its offset)
_MILLIS = tuple(f".{ms:03d}" for ms in range(1000))


def iso(unix: float, timespec: str = "milliseconds") -> str:
    """A unix time as local wall clock, ISO 8601 with offset.

    Every outbox event's envelope carries one, so it is cheap: the text of the whole second is kept
    for the next call (events made in the same second share it) and only the milliseconds are
    looked up, rounded exactly as `datetime.fromtimestamp` rounds; the offset is looked up once per
    quarter hour (offsets change only at quarter hours). Same output as
    `datetime.fromtimestamp(unix).astimezone().isoformat(timespec=timespec)`.
    """
    global _last_second
    if timespec != "milliseconds" or unix < 0:
        return _iso(unix, timespec)
    whole = int(unix)
    micro = round((unix - whole) * 1e6)  # the exact fraction (as math.modf), half to even as datetime does
    if micro >= 1_000_000:
        whole, micro = whole + 1, micro - 1_000_000
    second, text, offset = _last_second  # one tuple: another thread may replace it meanwhile
    if second != whole:
        full = _iso(float(whole), "seconds")
        second, text, offset = _last_second = (whole, full[:19], full[19:])
    return text + _MILLIS[micro // 1000] + offset


def _iso(unix: float, timespec: str) -> str:
    global _last_zone
    quarter, zone = _last_zone
    if unix // _ZONE_SPAN_S != quarter:
        zone = timezone(timedelta(seconds=time.localtime(unix).tm_gmtoff))
        _last_zone = (unix // _ZONE_SPAN_S, zone)
    return datetime.fromtimestamp(unix, zone).isoformat(timespec=timespec)


def now_iso() -> str:
    return iso(time.time())


def event_envelope(event_id: str, seq: int, kind: str, created: float, created_clock_synced: bool, boot: int,
                   payload_json: bytes) -> bytes:
    """An outbox event's envelope, assembled around its already-serialised payload (see
    docs/asyncapi.yaml, Envelope); the pump adds the common stamp when it sends it. One bytes
    formatting per event (the pump makes one for every event it sends)."""
    return _ENVELOPE % (event_id.encode(), seq, kind.encode(), iso(created).encode(),
                        b"true" if created_clock_synced else b"false", boot, payload_json)


_ENVELOPE = b'{"id":"%s","seq":%d,"kind":"%s","created":"%s","created_clock_synced":%s,"boot":%d,"payload":%s}'


def stamped(device_id: str, clock_synced: bool, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with the fields every payload carries: device, ts, clock_synced."""
    return {"device": device_id, "ts": now_iso(), "clock_synced": clock_synced, **body}


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- the booth's facts: the heartbeat carries the rare ones only after a change (docs/asyncapi.yaml, RareFacts)
RARE_FACTS = (("catalog_version",), ("update",), ("system", "pi", "throttling"), ("system", "pi", "filesystem_errors"))


def pick_paths(body: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    """The values at `paths` of `body`, in the same nesting (a path it lacks is left out)."""
    picked: dict[str, Any] = {}
    for path in paths:
        value: Any = body
        for key in path:
            if not isinstance(value, dict) or key not in value:
                break
            value = value[key]
        else:
            into = picked
            for key in path[:-1]:
                into = into.setdefault(key, {})
            into[path[-1]] = value
    return picked


def merge_nested(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid on `base`, object by object (neither is changed)."""
    merged = dict(base)
    for key, value in over.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge_nested(merged[key], value) if nested else value
    return merged
