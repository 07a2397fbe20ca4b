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
PRELOAD = ["watcher.sources.feed", "watcher.registry.events"]


def default_workers() -> int:
    """One worker per core, none on one core (a pool there only adds pickling)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if cores >= 2 else 0


class CpuPool:
    """`await pool.run(fn, *args)`: in a worker process, or in a thread when the pool has none."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = default_workers() if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the workers now (they take a few hundred ms to import the parsers)."""
        if self.workers and self._pool is None:
            mp = multiprocessing.get_context("forkserver")
            mp.set_forkserver_preload(PRELOAD)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp)
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

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=False, cancel_futures=True)
