"""Reading what booths publish: every message checked before it is recorded.

Anything on the wire may be malformed (a bug, a half-upgraded booth, a stranger with a certificate):
`read_message` returns a `Message` or raises `BadMessage` with a reason an operator can act on. The
payload itself is never put into the reason, because events can carry a citizen's name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from appliance.contract import DEVICE_ID, TOPIC_ROOT, DeviceStatus, EventKind

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
MAX_PAYLOAD_BYTES = 256 * 1024


class BadMessage(ValueError):
    """A message central will not record; the text says why, without the payload's content."""


@dataclass(frozen=True)
class Message:
    device: str
    kind: str  # status, heartbeat, event, cmd-result, progress
    body: dict[str, Any]


def read_message(topic: str, payload: bytes) -> Message:
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != TOPIC_ROOT:
        raise BadMessage(f"topic {topic!r} is not under {TOPIC_ROOT}/DEVICE/")
    device, suffix = parts[2], "/".join(parts[3:])
    if not DEVICE_ID.fullmatch(device):
        raise BadMessage(f"topic {topic!r}: {device!r} is not a device id")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BadMessage(f"{topic}: {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES} byte limit")
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise BadMessage(f"{topic}: payload is not UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise BadMessage(f"{topic}: payload is not a JSON object")
    if body.get("device") != device:
        raise BadMessage(f"{topic}: payload names device {str(body.get('device'))[:64]!r}, the topic {device!r}")
    if suffix == "status":
        _check(body, topic, status=lambda v: v in {s.value for s in DeviceStatus}, boot=_positive)
        return Message(device, "status", body)
    if suffix == "heartbeat":
        _check(body, topic, boot=_positive, drivers=lambda v: isinstance(v, dict))
        return Message(device, "heartbeat", body)
    if suffix.startswith("events/"):
        kind = suffix.removeprefix("events/")
        _check(body, topic, id=lambda v: isinstance(v, str) and ULID.fullmatch(v), seq=_positive,
               kind=lambda v: v == kind and v in {k.value for k in EventKind}, created=_text,
               payload=lambda v: isinstance(v, dict))
        if kind == EventKind.RATING:
            _check(body["payload"], topic, level=lambda v: isinstance(v, int) and 1 <= v <= 5)
        if kind in (EventKind.SUBMISSION, EventKind.RATING, EventKind.APPOINTMENT):
            _check(body["payload"], topic, item=_text)
        return Message(device, "event", body)
    if suffix == "cmd-result":
        _check(body, topic, id=lambda v: v is None or _text(v), ok=lambda v: isinstance(v, bool))
        return Message(device, "cmd-result", body)
    if suffix == "progress/request":
        _check(body, topic, id=lambda v: _text(v) and len(v) <= 64, case=_text)
        return Message(device, "progress", body)
    raise BadMessage(f"{topic}: central does not consume '{suffix}'")


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _check(body: dict[str, Any], topic: str, **rules) -> None:
    for field, valid in rules.items():
        if field not in body:
            raise BadMessage(f"{topic}: field '{field}' is missing")
        if not valid(body[field]):
            raise BadMessage(f"{topic}: field '{field}' has an unusable value")
