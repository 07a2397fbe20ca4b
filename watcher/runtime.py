"""Build and tear down what the stages share (database, HTTP client, compiled rules)."""

from __future__ import annotations

import asyncio

import structlog

from watcher.db import registry as registry_db
from watcher.db import repo
from watcher.db.engine import make_engine, sessions, upgrade
from watcher.fetch import Fetcher
from watcher.pipeline import Context, utcnow, worker_id
from watcher.rules import RuleIndex
from watcher.settings import Settings
from watcher.workers import CpuPool

log = structlog.get_logger("watcher.runtime")
_keepers: dict[int, asyncio.Task[None]] = {}  # id(ctx) -> its lease renewal


async def build_context(
    settings: Settings, owner: str | None = None, migrate: bool = True, parse_workers: int | None = None
) -> Context:
    """Open the database (migrating it to head unless told not to), sync the source rows, compile rules.
    `parse_workers`: processes that parse (else `fetch.parse_workers`, else none: the service parses
    in threads, keeping its memory small; `poll --once` over many sources asks for a process per core)."""

    def prepare():  # type: ignore[no-untyped-def]
        engine = make_engine(settings.database)
        if migrate:
            upgrade(engine)
        maker = sessions(engine)
        with maker() as session, session.begin():
            repo.sync_sources(session, {s.name: s.url for s in settings.sources}, utcnow())
            if settings.registry:
                counts = registry_db.import_measures(session, settings.measures, f"file:{settings.registry}", utcnow())
                log.info("registry.imported", file=settings.registry, **counts)
        return maker

    workers = parse_workers if parse_workers is not None else settings.fetch.parse_workers
    # Started by the first body to parse (a cycle of 304s needs none); the workers match the rules
    # on what they parse, so the event loop's process doesn't.
    cpu = CpuPool(workers or 0, rules=(settings.rules, settings.default_channels()))
    maker = await asyncio.to_thread(prepare)
    sqlite = maker.kw["bind"].dialect.name == "sqlite"
    ctx = Context(
        settings=settings,
        sessions=maker,
        fetcher=Fetcher(settings.fetch, allow_private=settings.allow_private_networks),
        rules=RuleIndex.from_settings(settings),
        owner=owner or worker_id(),
        cpu=cpu,
        writers=asyncio.Semaphore(1 if sqlite else 8),
        write_batch=32 if sqlite else 1,
        inflight=asyncio.Semaphore(settings.fetch.max_connections),
    )
    _keepers[id(ctx)] = asyncio.create_task(keep_leases(ctx), name="keep-leases")
    return ctx


async def keep_leases(ctx: Context) -> None:
    """While the context lives, renew every third of `settings.lease` the leases its owner holds:
    long work keeps its claim, and a replica that dies loses it within one lease period."""
    lease = ctx.settings.lease

    def renew() -> tuple[int, int]:
        with ctx.sessions() as session, session.begin():
            return repo.renew_leases(session, ctx.owner, ctx.clock(), lease)

    while True:
        await asyncio.sleep(lease / 3)
        try:
            await asyncio.to_thread(renew)
        except Exception as exc:  # the database may be back at the next turn
            log.warning("lease.renew_failed", error=exc.__class__.__name__)


async def close_context(ctx: Context) -> None:
    keeper = _keepers.pop(id(ctx), None)
    if keeper is not None:
        keeper.cancel()
    await ctx.fetcher.aclose()
    ctx.cpu.close()
    bind = ctx.sessions.kw.get("bind")
    if bind is not None:
        bind.dispose()
