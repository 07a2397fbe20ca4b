"""CPU-bound stages off the event loop: parsing fetched bodies and extracting deadlines run in a
small process pool, one worker per core.

feedparser and the extractor are pure Python: on the event loop they stall every fetch in flight,
in threads they hold the GIL. The functions sent here must be pure, module-level (they pickle by
name) and take and return picklable values (`FetchResult`, source configs, `Item`s, `Event`s).
Workers are forked from a fork server that has imported only the parsing modules, not the service
(no database, web or scheduler code), so they stay small.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import structlog

log = structlog.get_logger("watcher.workers")
T = TypeVar("T")
PRELOAD = ["watcher.sources.feed", "watcher.registry.events", "watcher.rules"]
_RULES: Any = None  # in a worker: the RuleIndex of the pool's rules (`CpuPool(rules=…)`)


def default_workers() -> int:
    """One worker per core, none on one core (a pool there only adds pickling)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if cores >= 2 else 0


class CpuPool:
    """`await pool.run(fn, *args)`: in a worker process, or in a thread when the pool has none."""

    def __init__(self, workers: int | None = None, rules: tuple[Any, ...] | None = None) -> None:
        """`rules`: (rules, default channels) for a `RuleIndex` built in each worker, so that
        `run_matched` matches what it parsed there (see `matched`)."""
        self.workers = default_workers() if workers is None else workers
        self.rules = rules
        self._pool: ProcessPoolExecutor | None = None

    @property
    def matches(self) -> bool:
        """Whether `run_matched` matches the rules in the workers (else the caller matches)."""
        return bool(self.workers and self.rules is not None)

    def start(self) -> None:
        """Start the workers now (they take a few hundred ms to import the parsers)."""
        if self.workers and self._pool is None:
            mp = multiprocessing.get_context("forkserver")
            mp.set_forkserver_preload(PRELOAD)
            init: tuple[Any, ...] = (_load_rules, (self.rules,)) if self.rules is not None else (None, ())
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp, initializer=init[0], initargs=init[1])
            for _ in range(self.workers):
                self._pool.submit(int)  # spawn them all before the first real job

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if not self.workers:
            return await asyncio.to_thread(fn, *args)
        self.start()
        assert self._pool is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        except BrokenProcessPool:  # a worker was killed (OOM?): start afresh, this job inline
            log.warning("workers.broken", workers=self.workers)
            self.close()
            return await asyncio.to_thread(fn, *args)

    async def run_matched(self, fn: Callable[..., Any], *args: Any) -> tuple[Any, list[list[tuple[Any, ...]]] | None]:
        """`fn(*args)` in a worker and, when it returned Items and the workers hold the rules,
        each item's rule matches as compact tuples (see `matched`); else (result, None)."""
        if not self.matches:
            return await self.run(fn, *args), None
        return await self.run(matched, fn, *args)

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=False, cancel_futures=True)


def _load_rules(spec: tuple[Any, ...] | None) -> None:
    global _RULES
    if spec is not None:
        from watcher.rules import RuleIndex

        _RULES = RuleIndex(*spec)


def matched(fn: Callable[..., Any], *args: Any) -> tuple[Any, list[list[tuple[Any, ...]]] | None]:
    """In a worker: `fn(*args)` (a parser) and, for a list of Items, each one's rule matches as
    tuples of `Match`'s fields (small to pickle: most items match nothing)."""
    from watcher.models import Item

    out = fn(*args)
    if _RULES is None or not isinstance(out, list) or not all(isinstance(i, Item) for i in out):
        return out, None
    return out, [[(m.rule, m.matched, m.sentence, m.channels) for m in _RULES.match(i)] for i in out]
