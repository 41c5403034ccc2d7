"""The root side's guard over a release on trial: it commits one that proved healthy and brings the
previous one back when the new one crashes, hangs or is not healthy in time.

It runs as root from the *committed* release (`/opt/kiosk/committed/bin/python -m appliance.release.guard`),
never from the release on trial, so a broken release cannot break its own way back:

- `start`: kiosk.service's `ExecStartPre=-+…`, before every start of the kiosk. A trial gets
  `MAX_TRIAL_STARTS` starts (crashes and watchdog restarts each cost one); the next start, or a
  start after the deadline, runs the previous release instead. It also finishes a switch a power cut
  interrupted. It never stops the kiosk from starting.
- `check`: kiosk-update-check.timer, every 30 s: a trial past its deadline is rolled back and the
  kiosk restarted (a release that runs but never becomes healthy).
- `commit`: asked for by the kiosk itself (root action `commit-release`) once it has been healthy for
  the commit window (appliance/release/trial_watch.py).
- `install-staged DIR` / `install BUNDLE`: appliance/release/installer.py, then a restart into the trial.

Every outcome goes into the update record, which the kiosk reports to central in its heartbeat.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from appliance.config import ConfigError, StorageSection, UpdatesSection, load_config
from appliance.contract import UpdateState
from appliance.errors import operator_error
from appliance.release.installer import InstallRefused, ReleaseInstaller, read_no_follow
from appliance.release.layout import MANIFEST_COPY, ReleaseLayout, write_atomically
from appliance.release.offer import read_public_key

log = logging.getLogger("kiosk.release")

MAX_TRIAL_STARTS = 3
KIOSK_UNIT = "kiosk.service"
STAGED_MARKER = "staged.json"  # the fetcher writes it last (appliance/release/fetch.py)


def restart_kiosk() -> None:
    """Into the release just switched to. The unit's start counter is reset first: a trial spends up to
    `MAX_TRIAL_STARTS` + 1 starts, and kiosk.service reboots the booth at its StartLimitBurst."""
    try:
        subprocess.run(["systemctl", "reset-failed", KIOSK_UNIT], check=False, timeout=60)
        subprocess.run(["systemctl", "restart", "--no-block", KIOSK_UNIT], check=False, timeout=60)
    except OSError as exc:  # no systemd here (a development machine): the next start runs the release
        log.warning("could not restart %s: %s", KIOSK_UNIT, exc)


class TrialGuard:
    def __init__(self, layout: ReleaseLayout, restart: Callable[[], None] = restart_kiosk,
                 clock: Callable[[], float] = time.time) -> None:
        self._layout = layout
        self._restart = restart
        self._clock = clock

    def on_start(self) -> str:
        """Before each start of the kiosk: count the trial's starts, roll back when they or the time ran out."""
        layout, record = self._layout, self._layout.read_record()
        trial = record.trial
        if trial is None:
            return "no release on trial"
        release = layout.release_dir(trial.version)
        if not layout.is_complete(release):
            return self.roll_back(f"release {trial.version} is incomplete on disk")
        if trial.starts >= MAX_TRIAL_STARTS:
            return self.roll_back(f"release {trial.version} stopped {trial.starts} times during its trial "
                                  "(crashed or failed the watchdog)")
        if self._clock() > trial.deadline:
            return self.roll_back(f"release {trial.version} was not healthy within its commit window")
        if layout.target(layout.current) != release.resolve():
            layout.point(layout.current, release)  # a power cut came between the record and the switch
        layout.write_record(record.with_outcome(UpdateState.TRIAL, trial.version,
                                                trial=replace(trial, starts=trial.starts + 1)))
        return f"release {trial.version} on trial, start {trial.starts + 1} of {MAX_TRIAL_STARTS}"

    def check(self) -> str:
        """Every half minute: a trial past its deadline goes back, and the kiosk restarts into the previous one."""
        trial = self._layout.read_record().trial
        if trial is None or self._clock() <= trial.deadline:
            return "nothing to do"
        said = self.roll_back(f"release {trial.version} was not healthy within its commit window")
        self._restart()
        return said

    def commit(self) -> str:
        """The kiosk on trial says it has been healthy for the whole window: make it the committed release."""
        layout, record = self._layout, self._layout.read_record()
        trial = record.trial
        if trial is None:
            return "no release on trial"
        release = layout.release_dir(trial.version)
        if layout.target(layout.current) != release.resolve() or self._clock() > trial.deadline:
            return f"release {trial.version} is not the one running in time; not committed"
        previous = layout.target(layout.committed)
        layout.point(layout.committed, release)
        layout.write_record(record.with_outcome(UpdateState.COMMITTED, trial.version, trial=None))
        self._prune(keep={release, *([previous] if previous else [])})
        return f"release {trial.version} committed"

    def roll_back(self, reason: str) -> str:
        layout, record = self._layout, self._layout.read_record()
        trial = record.trial
        if trial is None:
            return "no release on trial"
        committed = layout.target(layout.committed)
        if committed is None:
            return f"{reason}; no committed release to go back to, so the trial goes on"
        layout.point(layout.current, committed)
        layout.write_record(record.with_outcome(UpdateState.ROLLED_BACK, trial.version, reason, trial=None))
        shutil.rmtree(layout.release_dir(trial.version), ignore_errors=True)
        log.error("rolled back to %s: %s", layout.version_of(committed), reason)
        return f"rolled back to {layout.version_of(committed)}: {reason}"

    def _prune(self, keep: set[Path]) -> None:
        """Only the committed release and the one before it stay, and the wheels they were built from."""
        layout = self._layout
        kept_wheels: set[str] = set()
        for release in sorted(layout.releases.glob("*")) if layout.releases.is_dir() else []:
            if release.resolve() not in {path.resolve() for path in keep}:
                shutil.rmtree(release, ignore_errors=True)
                continue
            try:
                kept_wheels |= {Path(name).name for name in json.loads((release / MANIFEST_COPY).read_bytes())["files"]}
            except (OSError, ValueError, KeyError):
                continue
        index = layout.wheel_hashes()
        for name in set(index) - kept_wheels:
            (layout.wheels / name).unlink(missing_ok=True)
            del index[name]
        if layout.wheel_index.exists():
            write_atomically(layout.wheel_index, json.dumps(index, indent=1, sort_keys=True).encode() + b"\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m appliance.release.guard", description=__doc__.split("\n")[0])
    parser.add_argument("verb", choices=("start", "check", "commit", "install-staged", "install"))
    parser.add_argument("source", nargs="?", type=Path,
                        help="install-staged: the staging directory; install: the bundle")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(None)
        updates, storage = config.updates, config.storage.dir
    except ConfigError:  # the guard must work even when the config does not: a release may have broken it
        updates, storage = UpdatesSection(), StorageSection().dir
    layout = ReleaseLayout(updates.release_root)
    guard = TrialGuard(layout)
    if args.verb == "start":
        try:
            print(guard.on_start())
        except Exception:  # never keep the kiosk from starting
            log.exception("trial guard failed at start; the kiosk starts as it is")
        return 0
    if args.verb in ("check", "commit"):
        print(guard.check() if args.verb == "check" else guard.commit())
        return 0
    if args.verb == "install-staged":
        staged = staged_release(args.source or storage / "updates")
        if staged is None:
            return operator_error("update", f"no complete staged release in {args.source or storage / 'updates'}")
        return install(layout, updates, args.verb, staged)
    return install(layout, updates, args.verb, args.source)


def staged_release(updates_dir: Path) -> Path | None:
    """The staging directory the kiosk marked complete (`staged.json`, written last), the highest if several."""
    found: list[tuple[int, Path]] = []
    for candidate in sorted(updates_dir.glob("*")) if updates_dir.is_dir() else []:
        try:
            marker = json.loads(read_no_follow(candidate / STAGED_MARKER, 4096))
            found.append((int(marker["sequence"]), candidate))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return max(found)[1] if found else None


def install(layout: ReleaseLayout, updates: UpdatesSection, verb: str, source: Path | None) -> int:
    """Verify, install and switch to a release, then restart the kiosk into its trial."""
    if source is None:
        what = "staging directory" if verb == "install-staged" else "bundle"
        return operator_error("update", f"{verb} needs the {what}")
    key, problem = read_public_key(updates.public_key_file)
    if key is None:
        return operator_error("update", problem)
    installer = ReleaseInstaller(layout, key, commit_window_s=updates.commit_window_s)
    try:
        manifest = installer.install_staged(source) if verb == "install-staged" else installer.install_bundle(source)
    except InstallRefused as exc:
        return operator_error("update", f"refused ({exc.code}): {exc}")
    print(f"release {manifest.version} installed; the kiosk restarts into it on trial")
    restart_kiosk()
    return 0


if __name__ == "__main__":
    sys.exit(main())
