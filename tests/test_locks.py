"""Advisory locks on PostgreSQL: replicas starting together migrate once; one leader at a time."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from watcher.db.engine import current_revision, head_revision, make_engine, upgrade
from watcher.db.locks import Leader


def test_replicas_starting_together_migrate_one_at_a_time(pg_url):
    engines = [make_engine(pg_url) for _ in range(4)]
    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(upgrade, engines))  # without the lock, CREATE TABLE races and fails
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()


def test_one_leader_at_a_time_and_another_when_it_goes(pg_url):
    first, second = Leader(pg_url), Leader(pg_url)
    try:
        assert first.acquire() and not second.acquire()
        assert first.acquire()  # still ours
        first.close()  # a replica that exits (or dies: its connection closes) lets go
        assert second.acquire() and not first.acquire()
    finally:
        first.dispose()
        second.dispose()


def test_on_sqlite_the_single_replica_always_leads(tmp_path):
    assert Leader(f"sqlite:///{tmp_path / 'w.db'}").acquire()
