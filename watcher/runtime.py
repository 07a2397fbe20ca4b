"""What the stages share for one configuration (`Context`: database, HTTP client, compiled rules,
worker pool, channel targets), and how it is built and torn down."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import structlog
from sqlalchemy.orm import Session, sessionmaker

from watcher.db import outbox, repo
from watcher.db import registry as registry_db
from watcher.db.engine import make_engine, sessions, upgrade
from watcher.db.writer import Database
from watcher.fetch import Fetcher
from watcher.models import Measure
from watcher.rules import RuleIndex
from watcher.settings import Settings
from watcher.workers import CpuPool

log = structlog.get_logger("watcher.runtime")
_keepers: dict[int, asyncio.Task[None]] = {}  # id(ctx) -> its lease renewal


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def worker_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is someone new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def channel_targets(settings: Settings) -> dict[str, list[tuple[str, str]]]:
    """Each channel's targets as the outbox stores them: (stable key, redacted URL) per URL."""
    from watcher import channels

    return {c.name: [(t.key, t.label) for t in channels.targets(c)] for c in settings.channels}


@dataclass
class Context:
    """Everything the stages share for one configuration; rebuilt on reload."""

    settings: Settings
    db: Database
    fetcher: Fetcher
    rules: RuleIndex
    owner: str = field(default_factory=worker_id)
    clock: Callable[[], dt.datetime] = utcnow
    alerts_enqueued: asyncio.Event = field(default_factory=asyncio.Event)
    # Parsing and extraction run here, off the event loop (sized to the cores by build_context).
    cpu: CpuPool = field(default_factory=lambda: CpuPool(0))
    # Sources between their fetch and their write: bounds the bodies and items held in memory
    # when fetching outruns the database (build_context sets it to `fetch.max_connections`).
    inflight: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))
    # The sources this context is polling now and the deliveries it holds (claimed, not yet
    # recorded): only their leases are renewed (`keep_leases`).
    polling: set[str] = field(default_factory=set)
    holding: set[int] = field(default_factory=set)
    # Sends that happened but whose record the database refused: written at the next drain.
    unrecorded: list[outbox.Record] = field(default_factory=list)
    _targets: LazyTargets | None = None
    _measures: tuple[float, asyncio.Future[list[Measure]]] | None = None

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.db.sessions

    async def measures(self, max_age: float = 5.0) -> list[Measure]:
        """The registry's measures as one snapshot, read at most every `max_age` seconds (and
        afresh after `measures_changed`). Findings are proposed against it; applying a trusted
        one reads its measure again inside the write transaction."""
        now = asyncio.get_running_loop().time()
        if self._measures is None or now - self._measures[0] > max_age:
            self._measures = (now, asyncio.ensure_future(self.db.read(registry_db.get_measures)))
        try:
            return list(await asyncio.shield(self._measures[1]))
        except Exception:
            self._measures = None
            raise

    def measures_changed(self) -> None:
        self._measures = None

    @property
    def targets(self) -> Mapping[str, list[tuple[str, str]]]:
        """Each channel's delivery targets (`channel_targets`), made when first read: loading
        apprise would cost a poll that enqueues nothing."""
        if self._targets is None:
            self._targets = LazyTargets(self.settings)
        return self._targets


class LazyTargets(Mapping[str, list[tuple[str, str]]]):
    """`channel_targets(settings)`, computed on first use."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._data: dict[str, list[tuple[str, str]]] | None = None

    def _load(self) -> dict[str, list[tuple[str, str]]]:
        if self._data is None:
            self._data = channel_targets(self._settings)
        return self._data

    def __getitem__(self, key: str) -> list[tuple[str, str]]:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


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
            if outbox.has_legacy_deliveries(session):
                expanded = outbox.expand_legacy_deliveries(session, channel_targets(settings))
                log.info("outbox.expanded", alerts=expanded)
        return maker

    workers = parse_workers if parse_workers is not None else settings.fetch.parse_workers
    # Started by the first body to parse (a cycle of 304s needs none); the workers match the rules
    # on what they parse, so the event loop's process doesn't.
    cpu = CpuPool(workers or 0, rules=(settings.rules, settings.default_channels()))
    maker = await asyncio.to_thread(prepare)
    ctx = Context(
        settings=settings,
        db=Database.for_engine(maker),
        fetcher=Fetcher(settings.fetch, allow_private=settings.allow_private_networks),
        rules=RuleIndex.from_settings(settings),
        owner=owner or worker_id(),
        cpu=cpu,
        inflight=asyncio.Semaphore(settings.fetch.max_connections),
    )
    _keepers[id(ctx)] = asyncio.create_task(keep_leases(ctx), name="keep-leases")
    return ctx


async def keep_leases(ctx: Context) -> None:
    """While the context lives, renew every third of `settings.lease` the leases its owner holds:
    long work keeps its claim, and a replica that dies loses it within one lease period."""
    lease = ctx.settings.lease

    while True:
        await asyncio.sleep(lease / 3)
        try:
            await ctx.db.write(repo.renew_leases, ctx.owner, ctx.clock(), lease, tuple(ctx.polling), tuple(ctx.holding))
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
