"""`kiosk central release add | list`: the release publisher hands central a signed bundle; central checks it
with the release key before it keeps it, and says what it holds."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from central.settings import build_settings


def _add(args: argparse.Namespace) -> int:
    from central.database import Database
    from central.releases.store import add_release
    from central.shell import shell_actor

    settings = build_settings(database=args.database, release_dir=args.release_dir, release_key=args.release_key)
    added = add_release(Database(settings.database), settings, args.bundle, shell_actor())
    manifest = added.manifest
    said = "added" if added.fresh else "was there already, nothing changed:"
    print(f"{said} release {manifest.version} (sequence {manifest.sequence}) for {manifest.platform}: "
          f"{len(manifest.files)} wheels, {manifest.total_bytes / 2**20:.1f} MiB, kept in {settings.release_dir}; "
          "roll it out on the dashboard's Releases page")
    return 0


def _list(args: argparse.Namespace) -> int:
    from central.releases.store import release_rows
    from central.shell import existing_database

    with existing_database(args.database).read() as conn:
        found = release_rows(conn)
    if args.json:
        print(json.dumps(found, ensure_ascii=False, indent=1))
        return 0
    for row in found:
        added = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["added_at"]))
        print(f"{row['version']:<10} {row['platform']:<8} sequence {row['sequence']:<10} {row['files']:>3} wheels "
              f"{row['bytes'] / 2**20:>7.1f} MiB  from {row['min_upgrade_from']:<8} added {added} by {row['added_by']}")
    print(f"{len(found)} releases")
    return 0


def add_release_commands(sub: Any, friendly: Any, default_database: str) -> None:
    """`kiosk central release …`, under central's subcommands (central.cli)."""
    release = sub.add_parser("release", help="software releases central offers the booths: add, list")
    verbs = release.add_subparsers(dest="release_command", required=True)
    add = verbs.add_parser("add", help="verify a signed bundle with the release key and keep it for rollouts")
    add.add_argument("bundle", type=Path, help="a bundle made by `kiosk release build` and signed")
    add.add_argument("--release-key", required=True, metavar="KEY",
                     help="the key `kiosk release keygen` printed, or a file holding it")
    add.add_argument("--release-dir", type=Path, metavar="PATH",
                     help="where central keeps bundles (default central-releases; give it `serve` too)")
    add.set_defaults(func=friendly(_add))
    listing = verbs.add_parser("list", help="the releases central holds, newest first")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=friendly(_list))
    for parser in verbs.choices.values():
        parser.add_argument("--database", default=default_database)
