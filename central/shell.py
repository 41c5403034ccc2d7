"""What central's shell commands share: the database they work on (which must exist), the name the audit log
gives a change made from a shell, and a password asked for."""

from __future__ import annotations

import getpass
import os
import sys

from central.settings import SettingsError


def existing_database(url: str):
    """The database a shell command works on: it must exist (a mistyped path would otherwise be a new,
    empty database that answers "0 devices")."""
    from central.database import Database, sqlite_path

    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise SettingsError(f"no database at {path}: give --database as `kiosk central serve` was given it")
    return Database(url)


def ask_password(confirm: bool) -> str:
    """From KIOSK_CENTRAL_PASSWORD when set (scripts), otherwise asked twice without echo."""
    given = os.environ.get("KIOSK_CENTRAL_PASSWORD")
    if given is not None:
        return given
    if not sys.stdin.isatty():
        raise SettingsError("no password: set KIOSK_CENTRAL_PASSWORD or run this in a terminal")
    first = getpass.getpass("password: ")
    if confirm and getpass.getpass("again: ") != first:
        raise SettingsError("the two passwords differ; nothing changed")
    return first


def shell_actor() -> str:
    """The audit log's name for a change made from the shell: the login that made it."""
    try:
        return f"shell:{getpass.getuser()}"[:64]
    except (KeyError, OSError):
        return f"shell:uid{os.getuid()}"
