"""Reading what booths publish: every message checked before it is recorded.

Anything on the wire may be malformed (a bug, a half-upgraded booth, a stranger with a certificate):
`read_message` returns a `Message` or raises `BadMessage` with a reason an operator can act on. The
payload itself is never put into the reason, because events can carry a citizen's name.

What is checked is what central later shows or computes with: a value that passed here must not be
able to break the dashboard for every operator (a NaN heartbeat, a lone surrogate, a count that is
not a number) nor fail the database (a NUL character, an integer beyond a 32-bit column, a code longer
than its column). Numbers are numbers, never booleans; lists and maps are bounded.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance.contract import (
    ASSIST_SCREEN,
    DEVICE_ID,
    PHONE_NUMBER,
    TOPIC_ROOT,
    AssistMode,
    DeviceStatus,
    EventKind,
    UpdateState,
)
from appliance.receipt_numbers import HOLDER_DIGEST
from appliance.receipt_numbers import NUMBER as RECEIPT_NUMBER
from appliance.receipt_numbers import valid as valid_receipt_number
from appliance.release.build import VERSION

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_DEPTH = 16  # nesting of objects and lists; the contract needs 5
INT32 = 2**31 - 1  # PostgreSQL's INTEGER: seq, boot and the heartbeat's columns
MAX_DRIVERS = 16  # each troubled driver is an alert row: a booth has a handful of devices
MAX_USAGE_COUNTS = 5_000  # (action, item) pairs in one usage window: ~10 actions × a few hundred items
MAX_LIST = 100  # any other list central reads (rating reasons)
NAME = re.compile(r"^[A-Za-z0-9_.-]{1,31}$")  # a driver's name and its health reason: an alert code ≤ 64
HEALTH_STATES = frozenset({"ok", "degraded", "fault", "absent"})
MAX_RELEASE_REQUEST_BYTES = 2048  # a chunk request is a few short fields: refused before it is parsed beyond this


class BadMessage(ValueError):
    """A message central will not record; the text says why, without the payload's content.

    `device` is the booth the topic names (when it is a device id); `event` is the event's `(seq, id)`
    when the envelope names them well enough for central to confirm the refusal to the booth."""

    def __init__(self, reason: str, device: str | None = None, event: tuple[int, str] | None = None) -> None:
        super().__init__(reason)
        self.device = device
        self.event = event


@dataclass(frozen=True)
class Message:
    device: str
    kind: str  # status, heartbeat, event, cmd-result, progress, release-request
    body: dict[str, Any]


def read_message(topic: str, payload: bytes) -> Message:
    """The checked message, or `BadMessage` saying why not (with the device and event when known)."""
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != TOPIC_ROOT:
        raise BadMessage(f"topic {_shown(topic)} is not under {TOPIC_ROOT}/DEVICE/")
    device, suffix = parts[2], "/".join(parts[3:])
    if not DEVICE_ID.fullmatch(device):
        raise BadMessage(f"topic {_shown(topic)}: {_shown(device)} is not a device id")
    try:
        return _read(topic, device, suffix, payload)
    except BadMessage as exc:
        exc.device = device
        raise


def _read(topic: str, device: str, suffix: str, payload: bytes) -> Message:
    limit = MAX_RELEASE_REQUEST_BYTES if suffix == "release/request" else MAX_PAYLOAD_BYTES
    if len(payload) > limit:
        raise BadMessage(f"{topic}: {len(payload)} bytes is over the {limit} byte limit")
    try:
        text = payload.decode("utf-8")  # strict: no other encoding, no encoded surrogates
    except UnicodeDecodeError:
        raise BadMessage(f"{topic}: payload is not UTF-8") from None
    try:
        body = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except _NotANumber:
        raise BadMessage(f"{topic}: payload has NaN or Infinity (not JSON numbers)") from None
    except _OutOfRange:
        raise BadMessage(f"{topic}: payload has a number out of range") from None
    except (ValueError, RecursionError):
        raise BadMessage(f"{topic}: payload is not JSON") from None
    if not isinstance(body, dict):
        raise BadMessage(f"{topic}: payload is not a JSON object")
    # Strict UTF-8 and JSON's own rules leave two ways to a string central cannot store or show, both
    # through a \u escape: a lone surrogate, a NUL. Booths send text unescaped: the walk is rare.
    problem = _unshowable(body, 0) if "\\u" in text else None
    if problem:
        raise BadMessage(f"{topic}: payload has {problem}", event=_event_identity(body, suffix))
    if body.get("device") != device:
        raise BadMessage(f"{topic}: payload names device {_shown(body.get('device'))}, the topic {device!r}")
    _check(body, topic, **STAMP)
    if suffix == "status":
        _check(body, topic, **STATUS)
        _check_facts(body, topic)
        return Message(device, "status", body)
    if suffix == "heartbeat":
        _check_heartbeat(body, topic)
        return Message(device, "heartbeat", body)
    if suffix.startswith("events/"):
        _check_event(body, topic, suffix.removeprefix("events/"))
        return Message(device, "event", body)
    if suffix == "cmd-result":
        _check(body, topic, **COMMAND_RESULT)
        return Message(device, "cmd-result", body)
    if suffix == "progress/request":
        _check(body, topic, **PROGRESS_REQUEST)
        if sum(body.get(way) is not None for way in PROGRESS_WAYS) != 1:
            raise BadMessage(f"{topic}: asks by none or several of {', '.join(PROGRESS_WAYS)}")
        return Message(device, "progress", body)
    if suffix == "release/request":  # the rest is judged by central.releases.chunks, which answers why not
        _check(body, topic, **RELEASE_REQUEST)
        return Message(device, "release-request", body)
    raise BadMessage(f"{topic}: central does not consume '{_shown(suffix)}'")


def _check_heartbeat(body: dict[str, Any], topic: str) -> None:
    _check(body, topic, **HEARTBEAT)
    _check(body.get("outbox") or {}, f"{topic} outbox", **HEARTBEAT_OUTBOX)
    _check_facts(body, topic)


def _check_facts(body: dict[str, Any], topic: str) -> None:
    """The booth's facts, which a birth carries and a heartbeat may (central.heartbeats), and the system
    readings; the `update` block is checked alone (read_update)."""
    _check(body, topic, **FACTS)
    system = body.get("system") or {}
    _check(system, f"{topic} system", **HEARTBEAT_SYSTEM)
    _check(system.get("pi") or {}, f"{topic} system.pi", **HEARTBEAT_PI)


def read_update(block: Any, where: str) -> dict[str, Any]:
    """A heartbeat's `update` block (what the booth says of its software updates), its known fields only;
    `BadMessage` with the reason otherwise. Checked apart from the heartbeat: a bad block is refused alone
    (central.releases.reports keeps why), the heartbeat and the fleet view go on."""
    if not _map(block):
        raise BadMessage(f"{where}: is not an object")
    _check(block, where, **HEARTBEAT_UPDATE)
    return {key: block.get(key) for key in HEARTBEAT_UPDATE}


def _check_event(body: dict[str, Any], topic: str, kind: str) -> None:
    try:
        if kind not in EVENT_KINDS or body.get("kind") != kind:
            raise BadMessage(f"{topic}: field 'kind' has an unusable value")
        _check(body, topic, **ENVELOPE)
    except BadMessage as exc:
        exc.event = _event_identity(body, f"events/{kind}")
        raise
    where = f"{topic} payload"
    try:
        if kind == EventKind.ASSIST:
            body["payload"] = _assist_payload(body["payload"], where)
            return
        _check(body["payload"], where, **PAYLOADS[kind])
        if kind == EventKind.ALERT:
            _check(body["payload"].get("details") or {}, f"{where} details", **ALERT_DETAILS)
    except BadMessage as exc:
        exc.event = (body["seq"], body["id"])
        raise


def _assist_payload(payload: dict[str, Any], where: str) -> dict[str, Any]:
    """An assist request as central keeps it: `ASSIST_KEPT` fields only (anything else a booth adds may be
    personal). A booth from before issue 15 sent `{item, topic, session, site}`: an on-site request from
    the help screen, its free-text `topic` dropped (a citizen may have typed a phone number into it). The
    phone is here only for the intake, which seals it apart and never stores it in the event."""
    if "mode" not in payload and "screen" not in payload:
        _check(payload, where, **ASSIST_LEGACY)
        payload = {**payload, "screen": "help", "mode": AssistMode.ON_SITE.value}
    else:
        _check(payload, where, **ASSIST)
        call_back = payload["mode"] == AssistMode.CALL_BACK
        if call_back != ("phone" in payload):
            raise BadMessage(f"{where}: field 'phone' must come with mode call_back, and only with it")
        if call_back:
            _check(payload, where, phone=lambda v: isinstance(v, str) and PHONE_NUMBER.fullmatch(v))
    return {key: payload[key] for key in ASSIST_KEPT if key in payload}


def _event_identity(body: dict[str, Any], suffix: str) -> tuple[int, str] | None:
    """`(seq, id)` of an event refused for its content, when both are usable: enough to confirm it."""
    if not suffix.startswith("events/"):
        return None
    seq, event_id = body.get("seq"), body.get("id")
    if _positive(seq) and isinstance(event_id, str) and ULID.fullmatch(event_id):
        return seq, event_id
    return None


# -- the rules ------------------------------------------------------------------------------------------
class _NotANumber(ValueError):
    pass


class _OutOfRange(ValueError):
    pass


def _no_constant(_name: str) -> Any:
    raise _NotANumber


def _finite(literal: str) -> float:
    """A JSON number with a fraction or exponent; 1e400 would parse as infinity."""
    value = float(literal)
    if not math.isfinite(value):
        raise _OutOfRange
    return value


def _unshowable(value: Any, depth: int) -> str | None:
    """What in a parsed payload central could not store or show: a lone surrogate or a NUL in a string
    (key or value), nesting beyond `MAX_DEPTH`."""
    if depth > MAX_DEPTH:
        return f"nesting deeper than {MAX_DEPTH}"
    if isinstance(value, str):
        if "\x00" in value:
            return "a NUL character in a string"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "a lone surrogate in a string (not Unicode text)"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _unshowable(key, depth + 1) or _unshowable(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _unshowable(item, depth + 1)
            if problem:
                return problem
    return None


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: Any) -> bool:
    return _int(value) and 1 <= value <= INT32


def _count(value: Any) -> bool:
    """A whole number ≥ 0 that fits an INTEGER column (a float like 12.0 is not a count)."""
    return _int(value) and 0 <= value <= INT32


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        and abs(value) <= INT32


def _bool(value: Any) -> bool:
    return isinstance(value, bool)


def _map(value: Any) -> bool:
    return isinstance(value, dict)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _text_upto(limit: int) -> Callable[[Any], bool]:
    return lambda value: _text(value) and len(value) <= limit


def _optional(rule: Callable[[Any], bool], empty: bool = False) -> Callable[[Any], bool]:
    """`rule`, or absent/null (`_check` skips absent optional fields); `empty`: "" is allowed too."""
    return lambda value: value is None or (empty and value == "") or rule(value)


def _list_of(value: Any, rule: Callable[[Any], bool], limit: int) -> bool:
    return isinstance(value, list) and len(value) <= limit and all(rule(item) for item in value)


def _drivers(value: Any) -> bool:
    """Driver name → {state, reason}, at most `MAX_DRIVERS`: each troubled one becomes an alert row."""
    return _map(value) and len(value) <= MAX_DRIVERS and all(
        NAME.fullmatch(name) and _map(health) and health.get("state") in HEALTH_STATES
        and isinstance(health.get("reason"), str) and NAME.fullmatch(health["reason"])
        for name, health in value.items())


def _usage_count(value: Any) -> bool:
    return (_map(value) and _text_upto(32)(value.get("action"))
            and (value.get("item") is None or value.get("item") == "" or _text_upto(32)(value.get("item")))
            and _count(value.get("count")))


def _shown(value: Any) -> str:
    """A short, printable rendering of a value from the wire, for a reason (never a payload's content)."""
    return ascii(str(value)[:64])


def _check(body: dict[str, Any], topic: str, **rules: Callable[[Any], bool]) -> None:
    """Each field must pass its rule; a missing field passes only a rule that accepts None (optional)."""
    for field, valid in rules.items():
        if field not in body:
            if not valid(None):
                raise BadMessage(f"{topic}: field '{field}' is missing")
        elif not valid(body[field]):
            raise BadMessage(f"{topic}: field '{field}' has an unusable value")


# -- what each message must look like (built once: the intake reads thousands a second) -------------------
STATUSES = frozenset(s.value for s in DeviceStatus)
EVENT_KINDS = frozenset(k.value for k in EventKind)
STAMP = {"clock_synced": _optional(_bool)}
STATUS = {"status": lambda v: v in STATUSES, "boot": _positive, "software": _optional(_text_upto(64), empty=True),
          "site": _optional(_text_upto(200), empty=True), "region": _optional(_text_upto(16), empty=True),
          "reason": _optional(_text_upto(32))}
HEARTBEAT = {"boot": _positive, "drivers": _drivers, "outbox": _optional(_map),
             "software": STATUS["software"], "site": STATUS["site"], "region": STATUS["region"]}
HEARTBEAT_OUTBOX = {"depth": _optional(_count), "oldest_age_s": _optional(_count)}
HEARTBEAT_SYSTEM = {"disk_free_mb": _optional(_number), "disk_total_mb": _optional(_number),
                    "cpu_temp_c": _optional(_number), "pi": _optional(_map)}
FACTS = {"facts_rev": _optional(_positive), "catalog_version": _optional(_text_upto(64), empty=True),
         "fitted": _optional(lambda v: _list_of(v, lambda name: isinstance(name, str) and NAME.fullmatch(name),
                                                MAX_DRIVERS)),
         "outbox": _optional(_map), "system": _optional(_map), "link": _optional(_map)}
HEARTBEAT_PI = {"throttling": _optional(_map), "filesystem_errors": _optional(
    lambda v: _map(v) and len(v) <= MAX_DRIVERS and all(_count(n) for n in v.values()))}
ENVELOPE = {"id": lambda v: isinstance(v, str) and ULID.fullmatch(v), "seq": _positive, "created": _text_upto(40),
            "boot": _optional(_positive), "payload": _map}
_ITEM = {"item": _text_upto(32)}
# A receipt number (appliance.receipt_numbers): 16 digits whose check digit holds. Optional: older booths print the
# event's id instead.
_NUMBERED = {**_ITEM, "number": _optional(lambda v: isinstance(v, str) and valid_receipt_number(v))}
PAYLOADS: dict[str, dict[str, Callable[[Any], bool]]] = {
    EventKind.SUBMISSION: _NUMBERED,
    EventKind.APPOINTMENT: _NUMBERED,
    EventKind.RATING: {**_ITEM, "level": lambda v: _int(v) and 1 <= v <= 5, "channel": _optional(_text_upto(32)),
                       "case": _optional(_text_upto(26), empty=True),
                       "reasons": _optional(lambda v: _list_of(v, _text_upto(64), MAX_LIST))},
    EventKind.USAGE: {"window_start": _text_upto(40),
                      "counts": lambda v: _list_of(v, _usage_count, MAX_USAGE_COUNTS)},
    EventKind.ALERT: {"code": _text_upto(64), "message": _optional(_text_upto(500), empty=True),
                      "details": _optional(_map)},
}
ALERT_DETAILS = {"until": _optional(_text_upto(40))}
ASSIST_MODES = frozenset(m.value for m in AssistMode)
ASSIST_LEGACY = {"item": _optional(_text_upto(32), empty=True), "session": _optional(_text_upto(64), empty=True),
                 "site": _optional(_text_upto(200), empty=True)}
ASSIST = {**ASSIST_LEGACY, "screen": lambda v: isinstance(v, str) and ASSIST_SCREEN.fullmatch(v),
          "mode": lambda v: v in ASSIST_MODES}
ASSIST_KEPT = ("item", "screen", "mode", "phone", "session", "site")
COMMAND_RESULT = {"id": lambda v: v is None or _text_upto(64)(v), "ok": _bool}
# A progress request asks by exactly one of: an older receipt's event id (`case`), a receipt number, a citizen's
# keyed digest (`holder`, central.receipts), or for the key booths make digests with.
PROGRESS_REQUEST = {"id": _text_upto(64), "case": _optional(_text_upto(64)),
                    "number": _optional(lambda v: isinstance(v, str) and RECEIPT_NUMBER.fullmatch(v) is not None),
                    "holder": _optional(lambda v: isinstance(v, str) and HOLDER_DIGEST.fullmatch(v) is not None),
                    "want": _optional(lambda v: v == "holder_key")}
PROGRESS_WAYS = ("case", "number", "holder", "want")
RELEASE_REQUEST = {"request": _text_upto(64)}  # what the answer must carry back; the rest is answered with reasons
UPDATE_STATES = frozenset(s.value for s in UpdateState)
HEARTBEAT_UPDATE = {"state": lambda v: v in UPDATE_STATES,
                    "version": _optional(lambda v: isinstance(v, str) and VERSION.fullmatch(v) is not None),
                    "reason": _optional(_text_upto(200), empty=True), "fetched": _count, "needed": _count}
