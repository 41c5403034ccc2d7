"""The booth's side of a release on trial: ask the root side to commit it once the booth has been healthy
for the whole commit window, and say where the booth stands with its software in the heartbeat.

Healthy means every watched loop alive (what the watchdog pings on) and the broker connected or
unreachable for network reasons — a broker that *refuses* this release's login is not healthy. The
root side rolls back on its own when this never happens in time (appliance/release/guard.py); this
side only ever asks for the good outcome.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from appliance.contract import UpdateState
from appliance.release.build import BuildError, sequence_of
from appliance.release.layout import ReleaseLayout, UpdateRecord

log = logging.getLogger("kiosk.release")

READ_EVERY_S = 5.0  # how often the record is read (a small file; it changes only at an install or an outcome)
ASK_AGAIN_S = 30.0  # a commit request that changed nothing is repeated this often


class TrialWatch:
    def __init__(self, layout: ReleaseLayout, running_version: str, window_s: float, healthy: Callable[[], bool],
                 ask_commit: Callable[[], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._layout = layout
        self._version = running_version
        self._window = window_s
        self._healthy = healthy
        self._ask_commit = ask_commit
        self._clock = clock
        self._record = UpdateRecord()
        self._read_at = -READ_EVERY_S
        self._read(clock())
        self._healthy_since: float | None = None
        self._asked_at: float | None = None

    @property
    def record(self) -> UpdateRecord:
        return self._record

    def highest_sequence(self) -> int:
        """The highest release this booth has installed, rolled-back ones included, or the running one's:
        an offer must be newer (asked on paho's thread: from the record last read, no file access)."""
        try:
            running = sequence_of(self._version)
        except BuildError:  # a development build's version: any signed release is newer
            running = 0
        return max(self._record.highest_sequence, running)

    def _read(self, now: float) -> None:
        self._read_at = now
        try:
            self._record = self._layout.read_record()
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("update record %s unreadable: %s", self._layout.state_file, exc)

    @property
    def on_trial(self) -> bool:
        return self._record.trial is not None and self._record.trial.version == self._version

    def tick(self) -> None:
        """Once a second from the core ticker."""
        now = self._clock()
        if now - self._read_at >= READ_EVERY_S:
            self._read(now)
        if not self.on_trial:
            self._healthy_since = None
            return
        if not self._healthy():
            self._healthy_since = None
            return
        if self._healthy_since is None:
            self._healthy_since = now
            log.info("release %s on trial: healthy; committing after %.0f s more", self._version, self._window)
        due = self._asked_at is None or now - self._asked_at >= ASK_AGAIN_S
        if now - self._healthy_since >= self._window and due:
            self._asked_at = now
            log.info("release %s healthy for its commit window: asking the root side to commit it", self._version)
            self._ask_commit()


def update_block(record: UpdateRecord, running_version: str, fetching: dict[str, Any] | None) -> dict[str, Any]:
    """The heartbeat's `update` block: the trial under way, else a fetch in progress (until the root side has
    an outcome for what it fetched), else the last outcome (which tells central why a release rolled back
    or was refused), else idle."""
    if record.trial is not None:
        return _block(UpdateState.TRIAL.value, record.trial.version)
    last = record.last
    handed_over = (fetching or {}).get("state") == UpdateState.INSTALLING.value and last is not None \
        and last.version == fetching.get("version")  # the root side has taken it further: its word counts
    if fetching and fetching.get("state") not in (None, UpdateState.IDLE.value) and not handed_over:
        return fetching
    if last is not None and last.state != UpdateState.INSTALLING.value:
        return _block(last.state, last.version, last.reason)
    return _block(UpdateState.IDLE.value, running_version)


def _block(state: str, version: str, reason: str | None = None) -> dict[str, Any]:
    return {"state": state, "version": version, "reason": reason, "fetched": 0, "needed": 0}
