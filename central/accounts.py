"""Operators' accounts: who may use the dashboard, with which role, for which regions.

- viewer: reads, never personal data (masked on the case page);
- operator: also sends commands to booths, sets case status, closes follow-ups;
- admin: everything, users and the audit log, every region.

A user limited to region prefixes (`3702` covers 370202 and 370211) sees and acts only on booths, cases
and ratings of those regions. Passwords are hashed with argon2id (argon2-cffi). Failed logins in a row
slow the next answer and, at LOCK_AFTER, lock the account for LOCK_S; every attempt is audited by the
caller.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, insert, select, update

from central.tables import users

ROLES = ("viewer", "operator", "admin")
NAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")
REGION_PREFIX = re.compile(r"[0-9]{2,6}")
MIN_PASSWORD = 10
MAX_DISPLAY_NAME = 32  # characters; a booth's screen shows it in one line
LOCK_AFTER = 5  # failed logins in a row
LOCK_S = 15 * 60
SLOW_S = 0.5  # per failure in a row, up to LOCK_AFTER: the answer to a wrong password comes this much later

_hasher = PasswordHasher()  # argon2id with argon2-cffi's defaults (RFC 9106 "low memory": 64 MiB, t=3)


class AccountError(ValueError):
    """A user that cannot be added or changed; the message says what is allowed."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    regions: tuple[str, ...]  # () = every region
    display_name: str = ""  # what a citizen is told ("王芳 已接单"); "" = the user name

    def may(self, role: str) -> bool:
        """At least `role` (viewer < operator < admin)."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def covers(self, region: str | None) -> bool:
        """The user may see this region's booths, cases and ratings."""
        return not self.regions or any((region or "").startswith(prefix) for prefix in self.regions)

    def as_dict(self) -> dict[str, Any]:
        shown = {"display_name": self.display_name} if self.display_name else {}
        return {"username": self.name, "role": self.role, "regions": list(self.regions), **shown}


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    reason: str  # ok, unknown_user, wrong_password, locked, disabled
    failures: int = 0  # in a row, after this attempt
    locked_until: float | None = None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


def add_user(conn: Connection, name: str, role: str, regions: list[str], password: str,
             display_name: str | None = None) -> User:
    if not NAME.fullmatch(name):
        raise AccountError(f"{name!r} is not a user name: 2-32 of a-z 0-9 . _ -, starting with a letter")
    _check_role(role, regions)
    shown = _display_name(display_name)
    check_password(password)
    if conn.execute(select(users.c.id).where(users.c.name == name)).first():
        raise AccountError(f"user {name!r} exists already (use `user passwd` or `user enable`)")
    conn.execute(insert(users).values(name=name, password_hash=_hasher.hash(password), role=role,
                                      regions=sorted(set(regions)), disabled=False, created_at=time.time(),
                                      failed_logins=0, display_name=shown or None))
    return User(name, role, tuple(sorted(set(regions))), shown)


def _display_name(given: str | None) -> str:
    """One line of at most MAX_DISPLAY_NAME printable characters (a booth shows it to citizens), or ""."""
    shown = " ".join((given or "").split())
    if len(shown) > MAX_DISPLAY_NAME or not shown.isprintable():
        raise AccountError(f"a display name is one line of at most {MAX_DISPLAY_NAME} printable characters "
                           "(e.g. 王芳 or 窗口3号 李明)")
    return shown


def _check_role(role: str, regions: list[str]) -> None:
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    for prefix in regions:
        if not REGION_PREFIX.fullmatch(prefix):
            raise AccountError(f"region {prefix!r} is not a prefix of a 6-digit division code (e.g. 3702 or 370202)")
    if role == "admin" and regions:
        raise AccountError("an admin sees every region; give --region only to viewers and operators")


def set_password(conn: Connection, name: str, password: str) -> None:
    check_password(password)
    _require(conn, name)
    conn.execute(update(users).where(users.c.name == name).values(
        password_hash=_hasher.hash(password), failed_logins=0, locked_until=None))


def set_disabled(conn: Connection, name: str, disabled: bool) -> None:
    """Disable, or enable and unlock (an administrator's decision lifts a lock after failed logins)."""
    _require(conn, name)
    changes: dict[str, Any] = {"disabled": disabled}
    if not disabled:
        changes.update(failed_logins=0, locked_until=None)
    conn.execute(update(users).where(users.c.name == name).values(**changes))


def set_user(conn: Connection, name: str, role: str | None, regions: list[str], display_name: str | None = None
             ) -> User:
    """A new role and regions (the regions replace the old ones; `role` None keeps both), and a new display
    name if one is given ("" removes it); the user's sessions follow at once."""
    _require(conn, name)
    changes: dict[str, Any] = {}
    if role is not None:
        _check_role(role, regions)
        changes.update(role=role, regions=sorted(set(regions)))
    elif regions:
        raise AccountError("give --role with --region (the regions go with a role)")
    if display_name is not None:
        changes["display_name"] = _display_name(display_name) or None
    if not changes:
        raise AccountError("nothing to change: give --role (and --region) or --display-name")
    conn.execute(update(users).where(users.c.name == name).values(**changes))
    row = conn.execute(select(users).where(users.c.name == name)).mappings().one()
    return _user(row)


def list_users(conn: Connection) -> list[dict[str, Any]]:
    columns = [c for c in users.columns if c.name != "password_hash"]
    return [dict(row) for row in conn.execute(select(*columns).order_by(users.c.name)).mappings()]


def current(conn: Connection, name: str) -> User | None:
    """The user as the database has them now (None if unknown or disabled): a session names a user,
    and what that user may do is read again on every request, so disabling takes effect at once."""
    row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
    if row is None or row["disabled"]:
        return None
    return _user(row)


def _user(row: Any) -> User:
    return User(row["name"], row["role"], tuple(row["regions"] or ()), row["display_name"] or "")


def log_in(conn: Connection, name: str, password: str, now: float) -> LoginResult:
    """Check a login and count it. An unknown name is answered exactly as a known one with a wrong
    password (the hash is computed, failures are counted and lock it, in memory), so neither the
    answer nor its timing tells which names exist."""
    row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
    if row is None:
        _verify(_dummy_hash(), password)
        return _UNKNOWN.fail(name, now)
    if row["locked_until"] is not None and row["locked_until"] > now:
        return LoginResult(None, "locked", row["failed_logins"], row["locked_until"])
    if not _verify(row["password_hash"], password):
        failures = row["failed_logins"] + 1
        locked = now + LOCK_S if failures >= LOCK_AFTER else None
        conn.execute(update(users).where(users.c.id == row["id"]).values(
            failed_logins=0 if locked else failures, locked_until=locked))
        return LoginResult(None, "locked" if locked else "wrong_password", failures, locked)
    if row["disabled"]:
        return LoginResult(None, "disabled")
    changes: dict[str, Any] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if _hasher.check_needs_rehash(row["password_hash"]):
        changes["password_hash"] = _hasher.hash(password)
    conn.execute(update(users).where(users.c.id == row["id"]).values(**changes))
    return LoginResult(_user(row), "ok")


def _verify(encoded: str, password: str) -> bool:
    try:
        return _hasher.verify(encoded, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _require(conn: Connection, name: str) -> None:
    if not conn.execute(select(users.c.id).where(users.c.name == name)).first():
        raise AccountError(f"no user {name!r} (`kiosk central user list` shows them)")


class _UnknownNames:
    """Failed logins of names that do not exist, counted and locked like real accounts' (bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, float | None]] = {}  # name -> (failures in a row, locked until)

    def fail(self, name: str, now: float) -> LoginResult:
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            failures, locked = self._seen.get(name, (0, None))
            if locked is not None and locked > now:
                return LoginResult(None, "locked", failures, locked)
            failures += 1
            locked = now + LOCK_S if failures >= LOCK_AFTER else None
            self._seen[name] = (0 if locked else failures, locked)
            return LoginResult(None, "locked" if locked else "unknown_user", failures, locked)


_UNKNOWN = _UnknownNames()


@cache
def _dummy_hash() -> str:
    """A hash to check an unknown name's password against (made once, when first needed)."""
    return _hasher.hash("not a password anyone has")
