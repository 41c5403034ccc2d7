"""Encryption at rest for the outbox, with a per-device key file (mode 0600, made on first start).

AES-256-GCM; the event id is bound in as associated data so a sealed body cannot be swapped onto
another row unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
CANNOT_OPEN = "sealed body cannot be opened with this device key"


class SealError(Exception):
    """A sealed body that cannot be opened (wrong key, corrupted row)."""


def load_or_create_key(path: Path) -> bytes:
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = os.urandom(KEY_BYTES)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
        return key
    if len(key) != KEY_BYTES:
        raise SealError(f"device key {path} is {len(key)} bytes, expected {KEY_BYTES}; restore it from backup")
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return key


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
        except (InvalidTag, ValueError) as exc:
            raise SealError(CANNOT_OPEN) from exc

    def open_many(self, sealed: Iterable[tuple[bytes, str]]) -> list[bytes | None]:
        """Open a batch of `(sealed body, event id)`, the id being the associated data: the plaintext of
        each, or None for one that cannot be opened (wrong key, corrupted row). One call for the whole
        batch the pump takes, instead of a method call and an exception frame per body."""
        decrypt = self._aead.decrypt
        opened: list[bytes | None] = []
        append = opened.append
        for body, associated in sealed:
            try:
                append(decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], associated.encode()))
            except (InvalidTag, ValueError):
                append(None)
        return opened


def derived_key(key: bytes, purpose: str) -> bytes:
    """A key for another purpose than sealing (HMAC of `purpose` with the device key): the same on every start,
    useless for opening sealed bodies."""
    return hmac.new(key, f"kiosk device key: {purpose}".encode(), hashlib.sha256).digest()
