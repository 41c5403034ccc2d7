"""`kiosk update install | status`: a maintainer on site. `install BUNDLE` (as root, from a USB stick, no
network needed) takes the same path as a release from central: verify, install beside the running one,
switch on trial, commit or roll back by itself. `status` shows what runs, what is on trial, and the
last outcome with its reason."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from appliance.config import ConfigError, UpdatesSection, load_config
from appliance.errors import friendly, operator_error
from appliance.release.guard import MAX_TRIAL_STARTS, install
from appliance.release.layout import ReleaseLayout

_friendly = friendly("kiosk update", (OSError, ValueError))


def _updates(args: argparse.Namespace) -> UpdatesSection:
    try:
        return load_config(args.config).updates
    except ConfigError:
        if args.config is not None:
            raise
        return UpdatesSection()


def _install(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        return operator_error("kiosk update", "install changes the booth's software: run it as root (sudo)")
    updates = _updates(args)
    return install(ReleaseLayout(updates.release_root), updates, "install", args.bundle)


def _when(unix: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix))


def _status(args: argparse.Namespace) -> int:
    layout = ReleaseLayout(_updates(args).release_root)
    record = layout.read_record()
    current, committed = layout.target(layout.current), layout.target(layout.committed)
    print(f"current:   {layout.version_of(current) or 'none'} ({current or layout.current})")
    print(f"committed: {layout.version_of(committed) or 'none'} ({committed or layout.committed})")
    kept = [path for path in (*sorted(layout.releases.glob("*")), layout.root / ".venv")
            if path.is_dir() and path.resolve() not in (current, committed) and layout.version_of(path)]
    print(f"previous:  {', '.join(f'{layout.version_of(path)} ({path})' for path in kept) or 'none kept'}")
    trial = record.trial
    if trial is None:
        print("trial:     none")
    else:
        print(f"trial:     {trial.version} since {_when(trial.since)}, start {trial.starts} of {MAX_TRIAL_STARTS}, "
              f"commits or rolls back by {_when(trial.deadline)}")
    last = record.last
    print(f"last:      {f'{last.state} {last.version} at {_when(last.at)}' if last else 'nothing yet'}"
          f"{f': {last.reason}' if last and last.reason else ''}")
    failures = [outcome for outcome in record.history if outcome.state in ("rolled_back", "refused")]
    if failures:
        failure = failures[-1]
        print(f"last failure: {failure.state} {failure.version} at {_when(failure.at)}: {failure.reason}")
    wheels = layout.wheel_hashes()
    size = sum((layout.wheels / name).stat().st_size for name in wheels if (layout.wheels / name).is_file())
    print(f"wheels:    {len(wheels)} kept ({size / 2**20:.1f} MiB); highest release installed: "
          f"sequence {record.highest_sequence}")
    return 0


def add_update_commands(commands: argparse._SubParsersAction) -> None:
    update = commands.add_parser("update", help="install a release bundle on site; show the update state")
    tools = update.add_subparsers(dest="update_command", required=True)
    install_cmd = tools.add_parser("install", help="verify and install a signed bundle, on trial (as root)")
    install_cmd.add_argument("bundle", type=Path)
    install_cmd.add_argument("--config", type=Path, help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    install_cmd.set_defaults(func=_friendly(_install))
    status = tools.add_parser("status", help="current, committed, trial and the last outcome")
    status.add_argument("--config", type=Path)
    status.set_defaults(func=_friendly(_status))
