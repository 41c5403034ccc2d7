"""The booth's release fetcher (issue 17, points 2 and 3): takes central's signed offer, fetches over MQTT,
chunk by chunk, only the wheels the booth lacks, stages them for the root-side installer, and asks for the
install when no citizen is in a session.

Two threads touch it, and neither waits on the other for long:
- paho's network thread hands it offers and chunks. An offer is judged there (release/offer.py: small,
  one signature check) and never raises; a chunk that answers the one outstanding request is appended
  to its .part file (a 64 KiB write, no fsync) and the next request goes out at once if the pacing allows,
  so the rate bound, not the ticker's second, sets the speed.
- the core ticker calls `tick()` once a second for the slow or periodic work: preparing the staging
  directory (hashing what a previous run left), syncing and renaming a finished file, the disk-space
  check, timeouts, and asking for the install. No thread of its own: nothing to start, stop or watch,
  and the injected clock drives all of it in tests.

One request is outstanding at a time; an unanswered one is asked again after `chunk_timeout_s`; a chunk
that does not match what was asked (request, version, file, offset, size) is ignored and counted.
A new offer supersedes the current one; an empty (withdrawn) or refused offer stops the fetching and
removes the staging (a download refused for space or hashes keeps it until the next offer). Once the
install is asked for, the fetcher holds still: the root side installs and restarts the kiosk, and a new
fetcher reads the retained offer again. Nothing here logs a payload."""

from __future__ import annotations

import logging
import platform
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from appliance.clock import clock_synchronised
from appliance.config import UpdatesSection
from appliance.contract import MAX_RELEASE_CHUNK, QOS_RELEASE, UpdateState, encode, release_request_topic, stamped
from appliance.release.chunks import Asked, ChunkIgnored, read_answer
from appliance.release.offer import Offer, OfferRefused, read_offer, read_public_key
from appliance.release.pacing import Pacer
from appliance.release.staging import Download, Staging, StagingError, wheels_held
from appliance.repeated import RepeatedProblem

log = logging.getLogger("kiosk.release")

Publish = Callable[[str, bytes, int], object]  # (topic, payload, qos), as MqttLink.publish

CHUNK_TIMEOUT_S = 30.0  # an unanswered chunk request is asked again after this long (also after central's error)
MAX_FAILURES = 3  # a file that arrives with another sha256 this often is given up on (state refused)
SPACE_MARGIN_BYTES = 64 * 1024 * 1024  # free space kept beyond what the download needs
MAX_REASON = 200  # characters of `reason` in the heartbeat (docs/asyncapi.yaml, UpdateReport)


class ReleaseFetcher:
    def __init__(self, device_id: str, updates: UpdatesSection, staging_root: Path, publish: Publish,
                 installed_sequence: Callable[[], int], citizen_busy: Callable[[], bool],
                 request_install: Callable[[], object], *, clock: Callable[[], float] = time.monotonic,
                 clock_synced: Callable[[], bool] = clock_synchronised, machine: str | None = None,
                 chunk_timeout_s: float = CHUNK_TIMEOUT_S, space_margin_bytes: int = SPACE_MARGIN_BYTES) -> None:
        """`staging_root`: `<storage dir>/updates`. `installed_sequence`: the highest release sequence this
        booth installed (the root side's record, rolled-back ones included; offers must be higher), asked on
        paho's thread for each offer, so quick. `citizen_busy` is called on the ticker's thread only;
        `request_install` once per staged version, from `tick()`. `machine`: the booth's platform (default
        `platform.machine()`)."""
        self._device = device_id
        self._topic = release_request_topic(device_id)
        self._release_root = updates.release_root
        self._key, self._key_problem = read_public_key(updates.public_key_file)
        if self._key_problem:
            log.warning("%s", self._key_problem)
        self._staging = Staging(staging_root)
        self._pacer = Pacer(updates.max_bytes_per_s, clock)
        self._publish, self._installed_sequence = publish, installed_sequence
        self._citizen_busy, self._request_install = citizen_busy, request_install
        self._clock, self._clock_synced = clock, clock_synced
        self._machine = machine or platform.machine()
        self._timeout_s, self._margin = chunk_timeout_s, space_margin_bytes
        self._lock = threading.Lock()
        self._offer: Offer | None = None
        self._downloads: list[Download] | None = None  # None: to prepare at the next tick
        self._asked: Asked | None = None
        self._not_before = 0.0  # after central's error: no request before this
        self._busy = True  # until the first tick has asked
        self._clean = False  # the staging is to be removed at the next tick
        self._install_asked: str | None = None
        self._state, self._version, self._reason = UpdateState.IDLE, None, None
        self.requests = self.chunks = self.timeouts = self.hash_failures = self.chunk_errors = 0
        self._refused: dict[str, RepeatedProblem] = {}
        self._malformed = RepeatedProblem(log, "malformed release chunk")
        self._mismatched = RepeatedProblem(log, "release chunk that was not asked for")
        self._central_error = RepeatedProblem(log, "release chunk request refused by central")

    # -- paho's network thread -------------------------------------------------------------------
    def offer(self, payload: bytes) -> None:
        """Central's retained offer on `release/offer`; an empty payload withdraws it."""
        try:
            self._on_offer(payload)
        except Exception:
            log.exception("release offer not handled")

    def chunk(self, payload: bytes) -> None:
        """Central's answer on `release/chunk`."""
        try:
            message = self._on_chunk(payload)
        except Exception:
            log.exception("release chunk not handled")
            return
        if message is not None:
            self._publish(self._topic, message, QOS_RELEASE)

    # -- the core ticker ------------------------------------------------------------------------------
    def tick(self) -> None:
        """Once a second: prepare, finish files, time out, pace the next request, ask for the install."""
        busy = bool(self._citizen_busy())
        with self._lock:
            self._busy = busy
            if self._state is UpdateState.INSTALLING:
                return
            clean, self._clean = self._clean, False
            offer = self._offer if self._state is UpdateState.DOWNLOADING else None
            downloads = self._downloads
        if clean:
            self._staging.remove()
        if offer is not None and downloads is None:
            self._prepare(offer)
        elif offer is not None and downloads is not None:
            self._finish(offer, downloads)
        with self._lock:
            if self._asked is not None and self._clock() - self._asked.at >= self._timeout_s:
                self.timeouts += 1
                self._asked = None
            message = self._next_request()
        if message is not None:
            self._publish(self._topic, message, QOS_RELEASE)
        self._install_when_ready()

    # -- what the heartbeat reports -------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """The heartbeat's `update` block; `needed` is the bytes this release moves (only missing wheels)."""
        with self._lock:
            downloads = self._downloads or []
            reason = self._reason[:MAX_REASON] if self._reason else None
            return {"state": self._state.value, "version": self._version, "reason": reason,
                    "fetched": sum(d.have for d in downloads), "needed": sum(d.size for d in downloads)}

    def counters(self) -> dict[str, int]:
        return {"requests": self.requests, "chunks": self.chunks, "timeouts": self.timeouts,
                "hash_failures": self.hash_failures, "chunk_errors": self.chunk_errors,
                "chunks_mismatched": self._mismatched.count, "chunks_malformed": self._malformed.count,
                "offers_refused": sum(problem.count for problem in self._refused.values())}

    @property
    def waiting(self) -> bool:
        """Whether a chunk request is outstanding."""
        return self._asked is not None

    # -- offers ------------------------------------------------------------------------------------------
    def _on_offer(self, payload: bytes) -> None:
        if self._state is UpdateState.INSTALLING:
            log.info("release offer changed while an install is under way: read again after the restart")
            return
        if not payload:
            with self._lock:
                if self._offer is not None or self._state is not UpdateState.IDLE:
                    log.info("release offer withdrawn: staging removed")
                self._stop(UpdateState.IDLE, None, None)
            return
        try:
            offer = read_offer(payload, self._key, self._key_problem, self._installed_sequence(), self._machine)
        except OfferRefused as refused:
            if refused.code == "installed":  # the retained offer of what runs (or was rolled back): nothing to do
                with self._lock:
                    self._stop(UpdateState.IDLE, None, None)
                return
            with self._lock:
                self._stop(UpdateState.REFUSED, refused.version, f"{refused.code}: {refused}")
            self._refused.setdefault(refused.code, RepeatedProblem(log, f"release offer ({refused.code})")) \
                .note(refused)
            return
        with self._lock:
            if offer == self._offer:
                return  # the same offer again (the retained message at a reconnect)
            log.info("release %s (sequence %d) offered", offer.version, offer.manifest.sequence)
            self._stop(UpdateState.DOWNLOADING, offer.version, None)
            self._offer, self._clean = offer, False

    def _stop(self, state: UpdateState, version: str | None, reason: str | None) -> None:
        """Drop the current offer and its downloads (under the lock); the next tick removes the staging."""
        self._offer, self._downloads, self._asked, self._clean = None, None, None, True
        self._state, self._version, self._reason = state, version, reason

    def _refuse(self, offer: Offer, code: str, message: str) -> None:
        """Give up on `offer` (under the lock) if it is still the current one; its staging stays until the
        next offer or withdrawal."""
        if self._offer is offer:
            log.warning("release %s refused: %s", offer.version, message)
            self._asked, self._state, self._reason = None, UpdateState.REFUSED, f"{code}: {message}"

    # -- chunks --------------------------------------------------------------------------------------
    def _on_chunk(self, payload: bytes) -> bytes | None:
        asked = self._asked
        try:
            answer = read_answer(payload, asked)
        except ChunkIgnored as ignored:
            (self._malformed if ignored.code == "malformed" else self._mismatched).note(ignored)
            return None
        with self._lock:
            if asked is None or self._asked is not asked:
                self._mismatched.note("an answer to a request given up meanwhile")
                return None
            self._asked = None
            if answer.error is not None:
                self.chunk_errors += 1
                self._central_error.note(answer.error)
                self._not_before, self._reason = self._clock() + self._timeout_s, f"central: {answer.error}"
                return None
            self.chunks += 1
            self._reason = None
            try:
                self._staging.append(asked.version, asked.download, asked.offset, answer.data)
            except (OSError, StagingError) as exc:
                log.warning("release %s: %s; preparing the staging again", asked.version, exc)
                self._downloads = None
                return None
            return self._next_request()

    def _next_request(self) -> bytes | None:
        """The next chunk request if one may go now (under the lock), counted and paced."""
        if (self._state is not UpdateState.DOWNLOADING or self._downloads is None or self._asked is not None
                or self._busy or self._clock() < self._not_before or self._offer is None):
            return None
        download = next((d for d in self._downloads if d.have < d.size), None)
        if download is None:
            return None
        length = min(MAX_RELEASE_CHUNK, self._pacer.burst, download.size - download.have)
        if not self._pacer.allows(length):
            return None
        self._pacer.spend(length)
        self._asked = Asked(secrets.token_hex(8), self._offer.version, download, download.have, length, self._clock())
        self.requests += 1
        return encode(stamped(self._device, self._clock_synced(), self._asked.body()))

    # -- the slow part, on the ticker -------------------------------------------------------------------
    def _prepare(self, offer: Offer) -> None:
        try:
            downloads = self._staging.prepare(offer, wheels_held(self._release_root))
            remaining = sum(d.size - d.have for d in downloads if not d.complete)
            free = self._staging.free_bytes()
        except OSError as exc:
            with self._lock:
                self._refuse(offer, "disk", f"cannot stage in {self._staging.root}: {exc}")
            return
        with self._lock:
            if self._offer is not offer:
                return  # superseded meanwhile: the next tick prepares the new one
            if free < remaining + self._margin:
                self._refuse(offer, "no_space", f"needs {remaining >> 20} MiB + {self._margin >> 20} MiB margin, "
                                                f"{free >> 20} MiB free in {self._staging.root}")
                return
            self._downloads = downloads
        log.info("release %s: %d of %d wheels not held by the booth, %d still to fetch; %d of their %d bytes "
                 "already here", offer.version, len(downloads), len(offer.manifest.files),
                 sum(1 for d in downloads if not d.complete), sum(d.have for d in downloads),
                 sum(d.size for d in downloads))
        self._finish(offer, downloads)

    def _finish(self, offer: Offer, downloads: list[Download]) -> None:
        """Sync and rename every fully fetched file whose sha256 holds; fetch a wrong one again, three times
        at most; when all are here, mark the release staged."""
        try:
            for download in downloads:
                if download.complete or download.have < download.size or self._staging.finish(offer.version, download):
                    continue
                self.hash_failures += 1
                log.warning("release %s: %s arrived with another sha256 (%d of %d), fetching it again",
                            offer.version, download.name, download.failures, MAX_FAILURES)
                if download.failures >= MAX_FAILURES:
                    with self._lock:
                        self._refuse(offer, "hash_mismatch", f"{download.name} arrived with another sha256 "
                                                             f"{download.failures} times")
                    return
            if not all(d.complete for d in downloads):
                return
            self._staging.mark_staged(offer)
        except OSError as exc:
            with self._lock:
                self._refuse(offer, "disk", f"cannot stage release {offer.version} in {self._staging.root}: {exc}")
            return
        with self._lock:
            if self._offer is offer and self._state is UpdateState.DOWNLOADING:
                log.info("release %s staged", offer.version)
                self._state = UpdateState.STAGED

    def _install_when_ready(self) -> None:
        with self._lock:
            offer = self._offer
            if (offer is None or self._state is not UpdateState.STAGED or self._busy
                    or self._install_asked == offer.version):
                return
            self._install_asked, self._state = offer.version, UpdateState.INSTALLING
        log.info("release %s staged and no citizen in a session: asking the root side to install it", offer.version)
        try:
            self._request_install()
        except Exception as exc:
            log.exception("asking for the install of release %s failed", offer.version)
            with self._lock:
                self._state, self._reason = UpdateState.STAGED, f"install_request: {exc}"
