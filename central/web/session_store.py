"""Dashboard sessions kept in central's database (a starsessions store), so every central instance on
one database knows every session and a restart logs nobody out.

The row's key is a SHA-256 of the cookie's session id: the table alone opens no session. Expired rows
are deleted now and then by the writes themselves.

Sessions roll (every request extends the idle timeout), but a request that changes nothing else writes
at most once a minute per session: the dashboard polls every few seconds, and a write per poll would
queue behind the intake's batches. A write that fails (the database locked or down) is logged once and
skipped: the session stays as it was, and the page the operator asked for is still answered.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time

from anyio import to_thread
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from starsessions.stores import SessionStore

from central.database import Database, describe
from central.tables import web_sessions

log = logging.getLogger("central.web")

PRUNE_EVERY_S = 300.0
ROLL_EVERY_S = 60.0  # an unchanged session's idle timeout is pushed on at most this often


class DatabaseSessionStore(SessionStore):
    def __init__(self, db: Database) -> None:
        self._db = db
        self._next_prune = 0.0
        self._written: dict[str, tuple[str, float]] = {}  # key -> (content fingerprint, when written)
        self._failing = False

    async def read(self, session_id: str, lifetime: int) -> bytes:
        return await to_thread.run_sync(self._read, _key(session_id))

    async def write(self, session_id: str, data: bytes, lifetime: int, ttl: int) -> str:
        await to_thread.run_sync(self._write, _key(session_id), data, ttl)
        return session_id

    async def remove(self, session_id: str) -> None:
        await to_thread.run_sync(self._remove, _key(session_id))

    def _read(self, key: str) -> bytes:
        with self._db.read() as conn:
            row = conn.execute(select(web_sessions.c.data).where(
                web_sessions.c.key == key, web_sessions.c.expires_at > time.time())).first()
        return row[0] if row else b""

    def _write(self, key: str, data: bytes, ttl: int) -> None:
        now = time.time()
        fingerprint = _content(data)
        last = self._written.get(key)
        if last is not None and last[0] == fingerprint and now - last[1] < ROLL_EVERY_S:
            return
        expires = now + (ttl if ttl > 0 else 12 * 3600)  # a session-only cookie still ends on the server
        try:
            with self._db.transaction() as conn:
                if conn.execute(web_sessions.update().where(web_sessions.c.key == key)
                                .values(data=data, expires_at=expires)).rowcount == 0:
                    conn.execute(web_sessions.insert().values(key=key, data=data, expires_at=expires))
                if now >= self._next_prune:
                    self._next_prune = now + PRUNE_EVERY_S
                    conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))
        except SQLAlchemyError as exc:
            if not self._failing:
                log.warning("dashboard sessions cannot be saved (%s); pages are answered, sessions not "
                            "extended until it works again", describe(exc))
            self._failing = True
            return
        if self._failing:
            log.info("dashboard sessions are saved again")
        self._failing = False
        if len(self._written) > 10_000:
            self._written.clear()
        self._written[key] = (fingerprint, now)

    def _remove(self, key: str) -> None:
        self._written.pop(key, None)
        with self._db.transaction() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.key == key))


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _content(data: bytes) -> str:
    """What the session holds, without its last-access time (which changes on every request)."""
    try:
        body = json.loads(data)
        body.get("__metadata__", {}).pop("last_access", None)
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    except (ValueError, AttributeError):
        return hashlib.sha256(data).hexdigest()
