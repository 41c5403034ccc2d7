"""The maintainer's admin PIN: kept only as a salted scrypt hash, tried at a limited pace, locked out
after repeated failures — and the lockout survives a restart (it lives in the state database), so
pulling the plug does not buy a burglar more guesses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from appliance.state.store import Store

PIN = re.compile(r"^[0-9]{6,12}$")
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
MAX_FAILURES = 5  # in a row; then locked out
LOCKOUT_S = 15 * 60
MIN_INTERVAL_S = 2.0  # between two attempts


class PinError(ValueError):
    """A PIN or stored hash that cannot be used; the message says what is allowed."""


def hash_pin(pin: str) -> str:
    """`scrypt$N$r$p$salt$hash` (base64): what `kiosk provision init` writes into the config."""
    if not PIN.fullmatch(pin):
        raise PinError("the admin PIN must be 6 to 12 digits")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, **SCRYPT)
    return "$".join(["scrypt", str(SCRYPT["n"]), str(SCRYPT["r"]), str(SCRYPT["p"]),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def pin_matches(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except ValueError as exc:
        raise PinError(f"the stored admin PIN hash is not a scrypt$N$r$p$salt$hash value ({exc})") from None
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class Attempt:
    outcome: str  # ok, wrong, locked, too_fast
    failures: int = 0  # in a row, after this attempt
    locked_until: float | None = None  # unix time


class PinGuard:
    """Judges attempts against the stored hash; failures and lockout are kept in the state database."""

    def __init__(self, store: Store, stored_hash: str) -> None:
        self._store = store
        self._hash = stored_hash
        self._last_attempt = 0.0

    def attempt(self, pin: str, now: float | None = None) -> Attempt:
        now = time.time() if now is None else now
        failures = int(self._store.meta_get("admin_pin_failures", "0"))
        locked_until = float(self._store.meta_get("admin_pin_locked_until", "0"))
        if now < locked_until:
            return Attempt("locked", failures, locked_until)
        if now - self._last_attempt < MIN_INTERVAL_S:
            return Attempt("too_fast", failures)
        self._last_attempt = now
        if pin_matches(pin, self._hash):
            self._remember(0, 0.0)
            return Attempt("ok")
        failures += 1
        if failures >= MAX_FAILURES:
            self._remember(0, now + LOCKOUT_S)
            return Attempt("locked", failures, now + LOCKOUT_S)
        self._remember(failures, 0.0)
        return Attempt("wrong", failures)

    def _remember(self, failures: int, locked_until: float) -> None:
        with self._store.transaction() as conn:
            self._store.meta_set(conn, "admin_pin_failures", str(failures))
            self._store.meta_set(conn, "admin_pin_locked_until", repr(locked_until))
