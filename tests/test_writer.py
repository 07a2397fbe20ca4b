"""db.writer.Database: the thread hop, SQLite's single writer and batching, and their failure paths."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import text

from watcher.db.engine import make_engine, sessions, upgrade
from watcher.db.writer import Database


@pytest.fixture
def maker(db_url):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE scratch (n INTEGER PRIMARY KEY)"))
    yield sessions(engine)
    engine.dispose()


def insert(session, n: int) -> int:  # type: ignore[no-untyped-def]
    session.execute(text("INSERT INTO scratch (n) VALUES (:n)"), {"n": n})
    return n


def fail_after_insert(session, n: int) -> int:  # type: ignore[no-untyped-def]
    insert(session, n)
    raise RuntimeError(f"write {n} failed")


def count(session) -> int:  # type: ignore[no-untyped-def]
    return int(session.execute(text("SELECT count(*) FROM scratch")).scalar_one())


@pytest.mark.parametrize("batch", [1, 32])
def test_a_failed_write_rolls_back_alone_and_raises_in_its_caller_the_others_stand(maker, batch):
    db = Database(maker, writers=1, batch=batch)

    async def main() -> list[object]:
        jobs = [db.write(insert, 1), db.write(fail_after_insert, 2), db.write(insert, 3)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    one, two, three = asyncio.run(main())
    assert (one, three) == (1, 3)
    assert isinstance(two, RuntimeError) and str(two) == "write 2 failed"
    assert asyncio.run(db.read(count)) == 2  # write 2 left nothing behind


def test_writes_queued_while_a_batch_runs_go_to_the_thread_together_and_in_order(maker):
    db = Database(maker, writers=1, batch=32)
    threads: list[str] = []

    def recording(session, n: int) -> int:  # type: ignore[no-untyped-def]
        threads.append(threading.current_thread().name)
        return insert(session, n)

    async def main() -> list[int]:
        return await asyncio.gather(*(db.write(recording, n) for n in range(10)))

    assert asyncio.run(main()) == list(range(10))
    assert len(set(threads)) == 1  # one trip to one thread for the ten writes
    assert asyncio.run(db.read(count)) == 10


def test_a_cancelled_caller_does_not_stop_the_others_of_its_batch(maker):
    db = Database(maker, writers=1, batch=32)

    async def main() -> list[object]:
        first = asyncio.ensure_future(db.write(insert, 1))
        second = asyncio.ensure_future(db.write(insert, 2))
        await asyncio.sleep(0)
        first.cancel()
        return await asyncio.gather(first, second, return_exceptions=True)

    first, second = asyncio.run(main())
    assert isinstance(first, asyncio.CancelledError) and second == 2
