"""Dashboard sessions kept in central's database (a starsessions store), so every central instance on
one database knows every session and a restart logs nobody out.

The row's key is a SHA-256 of the cookie's session id: the table alone opens no session. Expired rows
are deleted now and then by the writes themselves.
"""

from __future__ import annotations

import hashlib
import time

from anyio import to_thread
from sqlalchemy import delete, select
from starsessions.stores import SessionStore

from central.database import Database
from central.tables import web_sessions

PRUNE_EVERY_S = 300.0


class DatabaseSessionStore(SessionStore):
    def __init__(self, db: Database) -> None:
        self._db = db
        self._next_prune = 0.0

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
        expires = now + (ttl if ttl > 0 else 12 * 3600)  # a session-only cookie still ends on the server
        with self._db.transaction() as conn:
            if conn.execute(web_sessions.update().where(web_sessions.c.key == key)
                            .values(data=data, expires_at=expires)).rowcount == 0:
                conn.execute(web_sessions.insert().values(key=key, data=data, expires_at=expires))
            if now >= self._next_prune:
                self._next_prune = now + PRUNE_EVERY_S
                conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= now))

    def _remove(self, key: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.key == key))


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()
