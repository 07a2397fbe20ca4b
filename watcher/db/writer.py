"""The one way async code reaches the database: `await db.read(fn, *args)` and
`await db.write(fn, *args)` run `fn(session, *args)` in a thread, a write in its own transaction.

This component owns the thread hop, the single-writer rule of SQLite and batching: SQLite has one
writer, and threads queueing on its lock sleep in its busy handler, so writes wait their turn
here (`writers` at a time, 1 on SQLite) and the writes queued while one batch runs go to the
thread together, one after the other, each still in its own transaction: one thread hop per batch
instead of one per write. A write that fails rolls back alone and raises in its caller; the
others of its batch stand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


class Database:
    """Sessions for the event loop's code. `writers`: writes at a time; `batch`: writes per trip."""

    def __init__(self, sessions: sessionmaker[Session], writers: int = 1, batch: int = 1) -> None:
        self.sessions = sessions
        self.batch = batch
        self._writers = asyncio.Semaphore(writers)
        self._queue: list[_Job] = []
        self._drain: asyncio.Future[None] | None = None

    @classmethod
    def for_engine(cls, sessions: sessionmaker[Session]) -> Database:
        """One writer and batches of 32 on SQLite; 8 writers, no batching, on PostgreSQL."""
        sqlite = sessions.kw["bind"].dialect.name == "sqlite"
        return cls(sessions, writers=1 if sqlite else 8, batch=32 if sqlite else 1)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(session, *args)` in a thread, outside any explicit transaction."""
        return await asyncio.to_thread(self._read, fn, args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(session, *args)` in a thread, in one transaction, when it is this write's turn."""
        if self.batch <= 1:
            async with self._writers:
                return await asyncio.to_thread(self._write, fn, args)
        job: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((fn, args, job))
        if self._drain is None or self._drain.done():
            self._drain = asyncio.ensure_future(self._drain_queue())
        return await job

    def _read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self.sessions() as session:
            return fn(session, *args)

    def _write(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self.sessions() as session, session.begin():
            return fn(session, *args)

    async def _drain_queue(self) -> None:
        while self._queue:
            batch = self._queue[: self.batch]
            del self._queue[: len(batch)]
            try:
                async with self._writers:
                    done = await asyncio.to_thread(self._run_batch, batch)
            except BaseException as exc:  # cancelled (shutdown): so are the writes waiting
                for *_, job in batch + self._queue:
                    if not job.done():
                        job.set_exception(exc) if isinstance(exc, Exception) else job.cancel()
                self._queue.clear()
                raise
            for (*_, job), (result, error) in zip(batch, done, strict=True):
                if job.done():  # its caller was cancelled meanwhile
                    continue
                if error is not None:
                    job.set_exception(error)
                else:
                    job.set_result(result)

    def _run_batch(self, batch: list[_Job]) -> list[tuple[Any, Exception | None]]:
        out: list[tuple[Any, Exception | None]] = []
        for fn, args, _job in batch:
            try:
                out.append((self._write(fn, args), None))
            except Exception as exc:  # that write rolled back; the others stand
                out.append((None, exc))
        return out
