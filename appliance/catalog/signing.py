"""Signed catalogue updates: what central publishes retained on `kiosk/v1/catalog/{region}`.

The message carries the catalogue file's exact bytes and an Ed25519 signature over them, made with
the publisher's private key; a device accepts it only if the signature checks with the public key in
its config (`catalog.public_key`). Anyone who can publish on the broker cannot, without that key,
change what the booths tell citizens.

    {"format": "kiosk-catalog/1", "version": "2026.11-1", "catalog": "<base64>", "signature": "<base64>",
     "search": "<base64>", "search_signature": "<base64>"}

`search` is the search index built with the catalogue (search_data.py), signed on its own so that a booth
whose software predates it still checks the catalogue's signature over the same bytes and ignores it; a
booth that reads it refuses the whole message if its signature does not check. Its signature covers a
prefix naming it as an index (`SEARCH_CONTEXT`), so neither signature stands for the other kind of
document. It may be absent: a booth then builds its own.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from appliance.catalog.model import CatalogError

FORMAT = "kiosk-catalog/1"
SEARCH_CONTEXT = b"kiosk-search-index\0"  # what the index's signature covers before its bytes


class CatalogRejected(CatalogError):
    """A catalogue message that is not to be trusted; `reason` is `unsigned`, `bad_signature`, … ."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def generate_key() -> tuple[bytes, str]:
    """A new signing key: its private PEM (keep it with the publisher) and the public key as base64
    (put it into every device's `catalog.public_key`)."""
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return pem, public_key_text(private.public_key())


def write_new_key(path: Path) -> str:
    """Make a signing key, write its private half to `path` (0600, never over an existing file) and
    return the public half as text (catalogues and releases each have their own)."""
    if path.exists():
        raise CatalogError(f"{path} exists; refusing to overwrite a signing key")
    pem, public = generate_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        out.write(pem)
    return public


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be the base64 of a 32-byte Ed25519 public key (kiosk catalog keygen prints one)") \
            from exc


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CatalogError("the signing key is not an Ed25519 key")
    return key


class Opened(NamedTuple):
    catalog: bytes
    search: bytes | None  # the search index sent with it, if any


def sign(catalog_bytes: bytes, version: str, key: Ed25519PrivateKey, search: bytes | None = None) -> bytes:
    message = {"format": FORMAT, "version": version, "catalog": _b64(catalog_bytes),
               "signature": _b64(key.sign(catalog_bytes))}
    if search is not None:
        message |= {"search": _b64(search), "search_signature": _b64(key.sign(SEARCH_CONTEXT + search))}
    return json.dumps(message).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def open_message(payload: bytes, public_key: Ed25519PublicKey | None) -> Opened:
    """The catalogue bytes (and search index) of a message whose signatures check; `CatalogRejected`
    otherwise."""
    try:
        message = json.loads(payload)
        if not isinstance(message, dict) or message.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} message")
        catalog = base64.b64decode(message["catalog"], validate=True)
        search = base64.b64decode(message["search"], validate=True) if "search" in message else None
        signature, search_signature = message.get("signature"), message.get("search_signature")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise CatalogRejected("malformed", f"catalogue message unreadable: {exc}") from None
    if not signature or (search is not None and not search_signature):
        raise CatalogRejected("unsigned", "catalogue message carries no signature"
                              if not signature else "the search index in the catalogue message carries no signature")
    if public_key is None:
        raise CatalogRejected("no_key", "no catalog.public_key configured: signed catalogues cannot be checked")
    _verify(public_key, signature, catalog, "catalogue signature does not match the configured key")
    if search is not None:
        _verify(public_key, search_signature, SEARCH_CONTEXT + search,
                "search index signature does not match the configured key")
    return Opened(catalog, search)


def _verify(public_key: Ed25519PublicKey, signature: str, data: bytes, refusal: str) -> None:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), data)
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        raise CatalogRejected("bad_signature", refusal) from None
