"""A booth fetches the files it lacks from central in chunks over MQTT (`release/request` → `release/chunk`).

Why MQTT: the booth already holds an authenticated, ACL-scoped link to the broker with its device certificate;
a second path (HTTPS through the office's proxy, with its own certificates and firewall rules) would be one more
thing to fail at a village post office, and this one works wherever the broker is reachable. The booth asks for
one range at a time, so it resumes after a lost link or a power cut from what it has on disk.

Central answers a request only for the release currently offered to that booth (its latest rollout's offer, not
withdrawn) and only a file that release's manifest lists, a range inside it of at most MAX_RELEASE_CHUNK bytes;
anything else gets an error whose reason starts with a code (bad_request, bad_offset, bad_length, not_offered,
unlisted_file, busy, unavailable). What one booth may make central read is bounded twice: per request, and per
second (`--release-bytes-per-s`, a token bucket per booth: beyond it the answer is `busy`, with when to ask
again). The bytes are read from the kept bundle at the file's recorded place only when the answer is published,
after the transaction: one chunk in memory at a time, never a bundle.
"""

from __future__ import annotations

import base64
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select, update

from appliance.contract import MAX_RELEASE_CHUNK, now_iso, release_chunk_topic
from appliance.release.build import VERSION
from appliance.release.bundle import WHEEL_NAME
from appliance.repeated import RepeatedProblem
from central.releases.rollouts import WITHDRAWN
from central.releases.store import read_file_part, release_row
from central.tables import rollout_booths, rollouts

log = logging.getLogger("central.releases")

Reply = tuple[str, dict[str, Any]]
MAX_BOOTHS_TRACKED = 50_000  # token buckets kept (the least recently used go first)


class TokenBucket:
    """`rate` bytes a second, up to `burst` at once."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def take(self, amount: int, now: float) -> float:
        """0 when `amount` was taken; otherwise the seconds until it could be."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if amount <= self.tokens:
            self.tokens -= amount
            return 0.0
        return (amount - self.tokens) / self.rate


class ChunkServer:
    """Answers chunk requests for the intake: `decide` in the intake's transaction, the answer's bytes read when
    it is published."""

    def __init__(self, release_dir: Path, bytes_per_s: int) -> None:
        self.release_dir = release_dir
        self.rate = bytes_per_s
        self.burst = max(bytes_per_s, 2 * MAX_RELEASE_CHUNK)
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._unreadable = RepeatedProblem(log, "a release bundle central cannot read")

    def decide(self, conn: Connection, device: str, body: dict[str, Any]) -> Callable[[], Reply]:
        """What to answer `body` (its `request` checked by central.messages) from `device`: a function that makes
        the answer, reading the chunk's bytes only then."""
        version, name, offset, length = (body.get(key) for key in ("version", "file", "offset", "length"))
        asked = {"request": body["request"], "version": version if isinstance(version, str) else None,
                 "file": name if isinstance(name, str) else None}

        def refuse(code: str, why: str) -> Callable[[], Reply]:
            reply = (release_chunk_topic(device), {"ts": now_iso(), **asked, "error": f"{code}: {why}"})
            return lambda: reply

        if not isinstance(version, str) or not VERSION.fullmatch(version):
            return refuse("bad_request", "version must be X.Y.Z")
        if not isinstance(name, str) or not WHEEL_NAME.fullmatch(name):
            return refuse("bad_request", "file must be wheels/NAME.whl")
        if not _whole(offset) or offset < 0:
            return refuse("bad_offset", "offset must be a whole number of bytes, 0 or more")
        if not _whole(length) or not 1 <= length <= MAX_RELEASE_CHUNK:
            return refuse("bad_length", f"length must be 1 to {MAX_RELEASE_CHUNK} bytes")
        wait = self._bucket(device).take(length, time.monotonic())
        if wait:
            return refuse("busy", f"over {self.rate} bytes a second for this booth; ask again in {wait:.1f} s")
        offered = _offered(conn, device)
        if offered is None or offered["version"] != version:
            return refuse("not_offered", f"release {version} is not offered to this booth")
        release, booth = offered, offered["booth"]
        entry = release["files"].get(name)
        if entry is None:
            return refuse("unlisted_file", f"{name[:120]} is not in release {version}'s manifest")
        total = int(entry["bytes"])
        if offset >= total:
            return refuse("bad_offset", f"offset {offset} is not inside {name} ({total} bytes)")
        if booth["acted_at"] is None:  # it began: a halt no longer withdraws its offer
            conn.execute(update(rollout_booths).where(rollout_booths.c.rollout == booth["rollout"],
                                                      rollout_booths.c.device == device,
                                                      rollout_booths.c.acted_at.is_(None)).values(acted_at=time.time()))
        count = min(length, total - offset)

        def answer() -> Reply:
            try:
                data = read_file_part(self.release_dir, release, name, offset, count)
            except OSError as exc:
                self._unreadable.note(f"{release['bundle']}: {exc}")
                return refuse("unavailable", f"central cannot read release {version}'s bundle; tell its "
                                             "administrator (--release-dir)")()
            return (release_chunk_topic(device), {"ts": now_iso(), **asked, "offset": offset, "total": total,
                                                  "data": base64.b64encode(data).decode("ascii")})
        return answer

    def _bucket(self, device: str) -> TokenBucket:
        bucket = self._buckets.pop(device, None) or TokenBucket(self.rate, self.burst, time.monotonic())
        self._buckets[device] = bucket  # the most recent last
        while len(self._buckets) > MAX_BOOTHS_TRACKED:
            self._buckets.popitem(last=False)
        return bucket


def _offered(conn: Connection, device: str) -> dict[str, Any] | None:
    """The release the broker offers `device` now (its latest rollout's offer, unless withdrawn), with the
    booth's row as `booth`."""
    booth = conn.execute(select(rollout_booths, rollouts.c.release).join(
        rollouts, rollouts.c.id == rollout_booths.c.rollout).where(
        rollout_booths.c.device == device, rollout_booths.c.offered_at.is_not(None))
        .order_by(rollout_booths.c.rollout.desc()).limit(1)).mappings().first()
    if booth is None or booth["outcome"] == WITHDRAWN:
        return None
    release = release_row(conn, booth["release"])
    return None if release is None else {**release, "booth": dict(booth)}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
