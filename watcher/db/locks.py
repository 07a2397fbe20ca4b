"""PostgreSQL advisory locks: one replica migrates at a time, one replica (the leader) keeps house.

SQLite serves a single replica, so there every lock is granted at once. Locks are session-level,
held by a connection of their own: a replica that dies (even by SIGKILL) loses its connection and
with it the lock, and another replica takes over at its next try.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import structlog
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

log = structlog.get_logger("watcher.locks")
# Keys of pg_advisory_lock (any 64-bit number; these spell "watcher" and a purpose).
MIGRATIONS_KEY = 0x7761746368_0001
LEADER_KEY = 0x7761746368_0002


@contextlib.contextmanager
def migration_lock(engine: Engine) -> Iterator[None]:
    """Hold the migrations lock: replicas starting together upgrade one after the other (the
    later ones find the schema at head and do nothing)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATIONS_KEY})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATIONS_KEY})


class Leader:
    """Leadership among the replicas sharing one database: `acquire()` is True for exactly one of
    them at a time (blocking calls: run them in a thread)."""

    def __init__(self, url: str):
        self._engine: Engine | None = None
        if not url.startswith("sqlite"):
            self._engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._conn: Connection | None = None
        self.held = self._engine is None

    def acquire(self) -> bool:
        """Are we the leader? Takes the lock if it is free; checks that a lock we hold still is."""
        if self._engine is None:
            return True
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            if self.held:
                self._conn.execute(text("SELECT 1"))  # the lock lives as long as this connection
            else:
                got = self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_KEY}).scalar()
                self.held = bool(got)
                if self.held:
                    log.info("leader.acquired")
        except Exception as exc:  # the connection is gone, and the lock with it
            log.warning("leader.lost", error=exc.__class__.__name__)
            self.close()
        return self.held

    def close(self) -> None:
        if self._engine is None:
            return
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()  # closing the session releases the lock
        self._conn, self.held = None, False

    def dispose(self) -> None:
        self.close()
        if self._engine is not None:
            self._engine.dispose()
