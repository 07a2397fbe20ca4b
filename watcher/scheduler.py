"""APScheduler wiring only: what runs when. The work itself is claimed through the database
(due sources, due alerts), so several replicas can share one PostgreSQL.

Jobs: `poll` claims due sources and starts them; `deliver` drains the outbox (also woken at once
when a poll enqueued alerts); `housekeeping` applies retention, on the leader replica only
(a PostgreSQL advisory lock, `db.locks.Leader`); `reminders` enqueues the milestone reminders
that are due (on every replica: the outbox dedups them). SIGHUP reloads the config,
SIGTERM/SIGINT finish in-flight work and exit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.orm import Session

from watcher import metrics
from watcher import settings as settings_mod
from watcher.db import outbox, repo
from watcher.db.engine import normalise_url
from watcher.db.locks import Leader
from watcher.errors import ConfigError
from watcher.pipeline import run_source
from watcher.runtime import Context, build_context, close_context

if TYPE_CHECKING:
    from watcher.web import HttpServer

log = structlog.get_logger("watcher.scheduler")
POLL_TICK = 1.0  # seconds between looks for due sources
SHUTDOWN_GRACE = 8.0
REMINDER_TICK = 15 * 60.0  # reminders are due at a minute of the day; a quarter hour late is fine


class Service:
    """The long-running process behind `watcher run`."""

    def __init__(self, config_path: str | None, load: Callable[..., settings_mod.Settings] = settings_mod.load):
        self.config_path = config_path
        self._load = load
        self.ctx: Context | None = None
        self.inflight: set[asyncio.Task[object]] = set()
        self.stopping = asyncio.Event()
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)
        self._deliver_lock = asyncio.Lock()  # one drain at a time; stop() waits for it
        self.http: HttpServer | None = None
        self.leader: Leader | None = None  # housekeeping runs on one replica only
        self.abandoned = 0  # deliveries still being sent when stop() gave up waiting

    @property
    def running(self) -> bool:
        """Taking work: started and not stopping (`/readyz`)."""
        return self.scheduler.running and not self.stopping.is_set()

    async def start(self) -> None:
        settings = self._load(self.config_path)
        self._serve_http(settings)  # first: /healthz answers while migrations run
        self.ctx = await build_context(settings)
        self.leader = Leader(normalise_url(settings.database))
        metrics.set_replica(self.ctx.owner)
        opts = dict(max_instances=1, coalesce=True, misfire_grace_time=None)
        # jitter: replicas started together would otherwise tick in step, and the first would
        # claim every due source each time (correct, but one replica doing all the work)
        self.scheduler.add_job(self.poll_due, "interval", seconds=POLL_TICK, jitter=POLL_TICK / 2, id="poll", **opts)
        interval = self.ctx.settings.delivery.interval
        self.scheduler.add_job(self.deliver, "interval", seconds=interval, id="deliver",
                               next_run_time=dt.datetime.now(dt.UTC), **opts)  # fmt: skip
        hk = self.ctx.settings.housekeeping.interval
        self.scheduler.add_job(self.housekeeping, "interval", seconds=hk, id="housekeeping", **opts)
        self.scheduler.add_job(self.remind, "interval", seconds=REMINDER_TICK, id="reminders",
                               next_run_time=dt.datetime.now(dt.UTC), **opts)  # fmt: skip
        self.scheduler.start()
        metrics.SCHEDULER_RUNNING.set(1)
        self._wake_task = asyncio.create_task(self._deliver_when_enqueued())
        log.info("service.started", sources=len(self.ctx.settings.sources), owner=self.ctx.owner)

    def _serve_http(self, settings: settings_mod.Settings) -> None:
        from watcher.web import HttpServer, create_app

        try:
            self.http = HttpServer(create_app(self), settings.http.host, settings.http.port)
        except OSError as exc:
            log.error("http.bind_failed", host=settings.http.host, port=settings.http.port, error=str(exc))
            raise SystemExit(1) from None
        self.http.start()

    async def poll_due(self) -> None:
        """Claim the sources that are due and start each in its own task."""
        ctx = self.ctx
        if ctx is None or self.stopping.is_set():
            return
        enabled = {s.name: s for s in ctx.settings.sources if s.enabled}
        if not enabled:
            return
        claimed = await ctx.db.write(repo.claim_due_sources, list(enabled), ctx.owner, ctx.clock(), ctx.settings.lease)
        for name in claimed:
            task = asyncio.create_task(self._poll(ctx, enabled[name]), name=f"source:{name}")
            self.inflight.add(task)
            task.add_done_callback(self.inflight.discard)

    @staticmethod
    async def _poll(ctx: Context, source: settings_mod.SourceBase) -> None:
        metrics.observe_poll(await run_source(ctx, source))

    async def deliver(self) -> None:
        from watcher.deliver import deliver_due

        async with self._deliver_lock:
            if self.ctx is not None and not self.stopping.is_set():
                await deliver_due(self.ctx)

    async def _deliver_when_enqueued(self) -> None:
        while not self.stopping.is_set():
            ctx = self.ctx
            assert ctx is not None
            await ctx.alerts_enqueued.wait()
            ctx.alerts_enqueued.clear()
            if not self.stopping.is_set():
                # A task of its own: cancelling this loop (stop, reload) must not cancel a drain
                # between its sends and their records (stop() waits for it instead).
                drain = asyncio.ensure_future(self.deliver())
                self.inflight.add(drain)
                drain.add_done_callback(self.inflight.discard)
                await asyncio.shield(drain)

    async def housekeeping(self) -> None:
        ctx = self.ctx
        if ctx is None or self.leader is None or not await asyncio.to_thread(self.leader.acquire):
            return
        hk = ctx.settings.housekeeping
        now = ctx.clock()

        items, attempts = await ctx.db.write(
            _retention, now - dt.timedelta(seconds=hk.item_retention), now - dt.timedelta(seconds=hk.attempt_retention)
        )
        log.info("housekeeping.done", items_deleted=items, attempts_deleted=attempts)

    async def remind(self) -> None:
        """Enqueue the milestone reminders that are due. Every replica may run it: the outbox's
        unique (dedup key, channel) keeps each reminder to one message."""
        from watcher.registry.reminders import send_reminders, tell_passed

        ctx = self.ctx
        if ctx is None or self.stopping.is_set() or not ctx.settings.reminders.enabled:
            return

        try:
            enqueued = await ctx.db.write(send_reminders, ctx.settings, ctx.clock(), ctx.targets)
            enqueued += len(await ctx.db.write(tell_passed, ctx.settings, ctx.clock(), ctx.targets))
        except Exception as exc:  # a database hiccup: the next tick tries again
            log.error("reminders.failed", error=str(exc), reason=exc.__class__.__name__)
            return
        if enqueued:
            log.info("reminders.enqueued", alerts=enqueued)
            ctx.alerts_enqueued.set()

    async def reload(self) -> None:
        """SIGHUP: build a new context from the file; on any error keep running on the old one."""
        try:
            new_settings = self._load(self.config_path)
        except ConfigError as exc:
            log.error("config.reload_failed", error=str(exc))
            return
        old = self.ctx
        self.ctx = await build_context(new_settings, owner=old.owner if old else None, migrate=False)
        self._wake_task.cancel()
        self._wake_task = asyncio.create_task(self._deliver_when_enqueued())
        log.info("config.reloaded", sources=len(new_settings.sources), rules=len(new_settings.rules))
        if old is not None:
            asyncio.get_running_loop().call_later(SHUTDOWN_GRACE * 4, lambda: asyncio.ensure_future(close_context(old)))

    async def stop(self) -> None:
        """Stop taking work, let in-flight polls finish (bounded), release leases, close."""
        self.stopping.set()
        self.scheduler.shutdown(wait=False)
        metrics.SCHEDULER_RUNNING.set(0)
        self._wake_task.cancel()
        deadline = asyncio.get_running_loop().time() + SHUTDOWN_GRACE
        if self.inflight:
            await asyncio.wait(list(self.inflight), timeout=SHUTDOWN_GRACE)
        try:  # let a drain in progress record its attempts, so nothing is sent twice
            left = max(0.1, deadline - asyncio.get_running_loop().time())
            await asyncio.wait_for(self._deliver_lock.acquire(), timeout=left)
        except TimeoutError:
            log.warning("service.stop_timeout", waiting="deliveries")
        ctx = self.ctx
        if ctx is not None:
            from watcher.deliver import record_unrecorded

            await record_unrecorded(ctx)
            # Deliveries still being sent (a target that hangs) keep their claim: it runs out
            # and their taker counts a reclaim, rather than a silent second send.
            await ctx.db.write(_release, ctx.owner, tuple(ctx.holding))
            self.abandoned = len(ctx.holding)
        if self.leader is not None:
            await asyncio.to_thread(self.leader.dispose)
        if self.http is not None:
            await self.http.stop()
        if ctx is not None:
            await close_context(ctx)
        log.info("service.stopped")

    async def serve_forever(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        loop.add_signal_handler(signal.SIGINT, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
        await self.start()
        await self.poll_due()
        await self.stopping.wait()
        await self.stop()
        if self.abandoned:
            # A send blocked in a socket (a target that hangs) runs in a thread that cannot be
            # cancelled, and interpreter exit would wait for it: exit now. Its claim runs out
            # and the replica that takes it over counts a reclaim.
            log.warning("service.exit_abandoning_sends", deliveries=self.abandoned)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


def _retention(session: Session, items_before: dt.datetime, attempts_before: dt.datetime) -> tuple[int, int]:
    return repo.delete_old_items(session, items_before), outbox.delete_old_attempts(session, attempts_before)


def _release(session: Session, owner: str, keep: tuple[int, ...] = ()) -> None:
    """Give back what this replica holds (shutdown): its sources, and its deliveries not yet sent
    (`keep`: those whose send is under way or unrecorded)."""
    repo.release_sources(session, owner)
    outbox.release_claims(session, owner, keep)
