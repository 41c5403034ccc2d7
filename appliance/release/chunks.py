"""The chunk exchange over MQTT, the booth's side: the one request outstanding, and how central's answer on
`release/chunk` is judged against it. Anyone in the fleet's ACL may write that topic, and a late answer
to a request already asked again is normal, so an answer is used only when it matches the request in
every field; anything else is ignored (and counted by the caller), never written.

    request  {"device", "ts", "clock_synced", "request", "version", "file", "offset", "length"}
    answer   {"ts", "request", "version", "file", "offset", "total", "data": <base64>}
          or {"ts", "request", "version", "file", "error": "<reason>"}
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from appliance.contract import MAX_RELEASE_CHUNK
from appliance.errors import CodedError
from appliance.release.staging import Download

MAX_CHUNK_MESSAGE = MAX_RELEASE_CHUNK * 4 // 3 + 4096  # base64 of a full chunk plus its JSON fields


class ChunkIgnored(CodedError):
    """An answer not to use; `code` is `malformed` (not an answer at all) or `mismatched` (an answer to
    something other than the request outstanding)."""


@dataclass(frozen=True)
class Asked:
    request: str  # a fresh id for every request, re-requests included
    version: str
    download: Download
    offset: int
    length: int
    at: float  # on the fetcher's clock

    def body(self) -> dict[str, Any]:
        return {"request": self.request, "version": self.version, "file": self.download.name,
                "offset": self.offset, "length": self.length}


@dataclass(frozen=True)
class Answer:
    data: bytes = b""  # the chunk, when central sent one
    error: str | None = None  # central's reason, when it could not


def read_answer(payload: bytes, asked: Asked | None) -> Answer:
    """Central's answer to `asked`; `ChunkIgnored` for anything that is not exactly that."""
    if len(payload) > MAX_CHUNK_MESSAGE:
        raise ChunkIgnored("malformed", f"{len(payload)} bytes, more than {MAX_CHUNK_MESSAGE}")
    try:
        body = json.loads(payload)
    except (ValueError, RecursionError):
        raise ChunkIgnored("malformed", "not JSON") from None
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("request", "version", "file")):
        raise ChunkIgnored("malformed", "request, version or file missing")
    if asked is None or (body["request"], body["version"], body["file"]) != (asked.request, asked.version,
                                                                           asked.download.name):
        raise ChunkIgnored("mismatched", "request, version or file differs from the one outstanding")
    if "error" in body:
        return Answer(error=str(body["error"])[:80])
    if body.get("offset") != asked.offset or body.get("total") != asked.download.size:
        raise ChunkIgnored("mismatched", "offset or total differs from the one asked for")
    try:
        data = base64.b64decode(body.get("data"), validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise ChunkIgnored("malformed", "data is not base64") from None
    if not 0 < len(data) <= asked.length:
        raise ChunkIgnored("mismatched", f"{len(data)} bytes where 1..{asked.length} were asked for")
    return Answer(data)
