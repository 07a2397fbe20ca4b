"""The pipeline, top to bottom:

sources → fetch → parse → items → match rules → route → outbox → deliver

`run_source()` takes one claimed source through every stage up to the outbox, writing the items,
their alerts and the source's new state in ONE transaction (a transactional outbox): a crash
leaves either all of it or none. `deliver.deliver_due()` drains the outbox.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from sqlalchemy.orm import Session, sessionmaker

from watcher import health, metrics
from watcher.db import registry as registry_db
from watcher.db import repo
from watcher.errors import FetchError, ParseError, Reason, WatcherError
from watcher.extract.sentences import split as split_sentences
from watcher.fetch import Fetcher, backoff_delay
from watcher.models import Alert, Event, FetchResult, Item, Match, Measure
from watcher.registry import stage as registry_stage
from watcher.registry.events import items_events
from watcher.rules import RuleIndex
from watcher.settings import Settings, SourceBase
from watcher.sources import Poll, collect
from watcher.workers import CpuPool

log = structlog.get_logger("watcher.pipeline")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def worker_id() -> str:
    """Who holds a lease: host, process and a random part (a restarted process is someone new)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Context:
    """Everything the stages share for one configuration; rebuilt on reload."""

    settings: Settings
    sessions: sessionmaker[Session]
    fetcher: Fetcher
    rules: RuleIndex
    owner: str = field(default_factory=worker_id)
    clock: Callable[[], dt.datetime] = utcnow
    alerts_enqueued: asyncio.Event = field(default_factory=asyncio.Event)
    # Parsing and extraction run here, off the event loop (runtime sizes it to the cores).
    cpu: CpuPool = field(default_factory=lambda: CpuPool(0))
    # Sources' write transactions waiting their turn: SQLite has one writer, and threads queueing
    # on its lock sleep in its busy handler (runtime allows more at a time on PostgreSQL).
    writers: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))
    # Sources between their fetch and their write: bounds the bodies and items held in memory
    # when fetching outruns the database (runtime sets it to `fetch.max_connections`).
    inflight: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(64))
    # The measures as read lately (loop time, reading): only to pick the items worth extracting
    # before the write transaction, which reads them afresh (see `_prepare`).
    measures_read: tuple[float, asyncio.Future[list[Measure]]] | None = None
    # Write transactions waiting for the writer thread, and how many it takes per trip (`_write`).
    write_batch: int = 1
    write_queue: list[tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = field(default_factory=list)
    write_drain: asyncio.Future[None] | None = None


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    name: str
    status: str  # "fetched", "not_modified", "unchanged", "failed", "busy"
    items: int = 0
    new: int = 0
    updated: int = 0
    alerts: int = 0
    error: str | None = None
    reason: str | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status not in ("failed",)


UNREAD: Any = object()  # run_source reads the source's state itself


async def run_source(ctx: Context, source: SourceBase, state: repo.SourceHealth | None = UNREAD) -> SourceOutcome:
    """Fetch one source (already claimed by `ctx.owner`) and carry what it yields to the outbox.
    `state`: the source's stored state, when the caller read it (one query for a whole cycle)."""
    async with ctx.inflight:
        return await _run_source(ctx, source, state)


async def _run_source(ctx: Context, source: SourceBase, state: repo.SourceHealth | None) -> SourceOutcome:
    loop = asyncio.get_running_loop()
    started = loop.time()
    if state is UNREAD:
        state = await asyncio.to_thread(_read_state, ctx, source.name)
    first_poll = state is None or state.last_success_at is None
    try:
        premade: dict[int, tuple[Item, list[Match]]] = {}
        poll = source_poll(ctx, source, state, first_poll, premade)
        collected = await collect(poll, source)
        result, items = collected.result, collected.items
        prepared = await _prepare(ctx, source, items, premade)
    except (FetchError, ParseError) as exc:
        failures = (state.consecutive_failures if state else 0) + 1
        outcome = await _write(ctx, _record_failure, ctx, source, exc, failures, state)
        return replace(outcome, elapsed=loop.time() - started)
    except Exception as exc:  # a bug in a parser must not stop the other sources
        log.exception("source.crashed", source=source.name)
        failures = (state.consecutive_failures if state else 0) + 1
        err = WatcherError(f"internal error: {exc.__class__.__name__}: {exc}", Reason.unknown)
        outcome = await _write(ctx, _record_failure, ctx, source, err, failures, state)
        return replace(outcome, elapsed=loop.time() - started)
    outcome = await _write(ctx, _store, ctx, source, result, items, first_poll, collected.cursor, state, prepared)
    if outcome.alerts:
        ctx.alerts_enqueued.set()
    return replace(outcome, elapsed=loop.time() - started)


async def _write(ctx: Context, fn: Callable[..., SourceOutcome], *args: Any) -> SourceOutcome:
    """Run a source's write transaction, `fn(*args)`, in a thread when `ctx.writers` lets it.
    With `ctx.write_batch` > 1 (SQLite: one writer at a time anyway), the transactions queued
    while one batch runs go to the thread together, one after the other: one thread hop per
    batch instead of one per source, each source still in its own transaction."""
    if ctx.write_batch <= 1:
        async with ctx.writers:
            return await asyncio.to_thread(fn, *args)
    job: asyncio.Future[SourceOutcome] = asyncio.get_running_loop().create_future()
    ctx.write_queue.append((fn, args, job))
    if ctx.write_drain is None or ctx.write_drain.done():
        ctx.write_drain = asyncio.ensure_future(_drain_writes(ctx))
    return await job


async def _drain_writes(ctx: Context) -> None:
    while ctx.write_queue:
        batch = ctx.write_queue[: ctx.write_batch]
        del ctx.write_queue[: len(batch)]
        try:
            async with ctx.writers:
                done = await asyncio.to_thread(_run_writes, batch)
        except BaseException as exc:  # cancelled (shutdown): so are the sources waiting
            for *_, job in batch + ctx.write_queue:
                if not job.done():
                    job.set_exception(exc) if isinstance(exc, Exception) else job.cancel()
            ctx.write_queue.clear()
            raise
        for (*_, job), (outcome, error) in zip(batch, done, strict=True):
            if job.done():  # its source was cancelled meanwhile
                continue
            if error is not None:
                job.set_exception(error)
            else:
                job.set_result(outcome)


def _run_writes(batch: list[tuple[Callable[..., SourceOutcome], tuple[Any, ...], Any]]) -> list[tuple[Any, Exception | None]]:
    out: list[tuple[Any, Exception | None]] = []
    for fn, args, _job in batch:
        try:
            out.append((fn(*args), None))
        except Exception as exc:  # that source's transaction rolled back; the others stand
            out.append((None, exc))
    return out


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the items that are new or changed need before storing, computed outside the write
    transaction: their deadline events (in a worker process) and rule matches, by item key."""

    events: dict[str, list[Event]] = field(default_factory=dict)
    matches: dict[str, list[Match]] = field(default_factory=dict)


async def _prepare(
    ctx: Context, source: SourceBase, items: list[Item], premade: dict[int, tuple[Item, list[Match]]] | None = None
) -> Prepared:
    """`premade`: rule matches made where the items were parsed (a worker), by id of the item."""
    if not items:
        return Prepared()
    made = [(premade or {}).get(id(i)) for i in items]
    # Only for the very objects the worker matched: a collector may have completed an item since.
    if all(m is not None and m[0] is i for i, m in zip(items, made, strict=True)):
        return await _prepare_matched(ctx, source, items, {i.key: m[1] for i, m in zip(items, made, strict=True) if m})
    stored, measures = await asyncio.to_thread(_stored_and_measures, ctx, source.name, [i.key for i in items])
    todo = [i for i in items if stored.get(i.key) != i.content_hash]
    matches = {i.key: ctx.rules.match(i) for i in todo}
    # Only items a rule matched or that name a measure can make a finding: extract those only.
    wanted = [i for i in todo if registry_stage.needs_events(i, bool(matches[i.key]), measures)]
    events = await ctx.cpu.run(items_events, wanted) if wanted else []
    return Prepared(events={i.key: e for i, e in zip(wanted, events, strict=True)}, matches=matches)


async def _prepare_matched(ctx: Context, source: SourceBase, items: list[Item], matches: dict[str, list[Match]]) -> Prepared:
    """`_prepare` when the workers matched every item: the store only needs asking about the
    few items whose deadlines could make a finding (rule-matched, or naming a measure). Stored
    unchanged items' matches are never used (`_store` routes only what changed)."""
    measures = await _recent_measures(ctx)
    candidates = [i for i in items if registry_stage.needs_events(i, bool(matches[i.key]), measures)]
    if not candidates:
        return Prepared(matches=matches)

    def stored() -> dict[str, str]:
        with ctx.sessions() as session:
            return repo.known_item_keys(session, source.name, [i.key for i in candidates])

    known = await asyncio.to_thread(stored)
    wanted = [i for i in candidates if known.get(i.key) != i.content_hash]
    events = await ctx.cpu.run(items_events, wanted) if wanted else []
    return Prepared(events={i.key: e for i, e in zip(wanted, events, strict=True)}, matches=matches)


async def _recent_measures(ctx: Context, max_age: float = 5.0) -> list[Measure]:
    """The measures, read at most every `max_age` seconds. Stale measures only make the choice
    of items to extract ahead less exact: `reconcile_changes` reads them again in the
    transaction and extracts there what was not extracted ahead."""
    now = asyncio.get_running_loop().time()
    if ctx.measures_read is None or now - ctx.measures_read[0] > max_age:

        def read() -> list[Measure]:
            with ctx.sessions() as session:
                return registry_db.get_measures(session)

        ctx.measures_read = (now, asyncio.ensure_future(asyncio.to_thread(read)))
    try:
        return list(await asyncio.shield(ctx.measures_read[1]))
    except Exception:
        ctx.measures_read = None
        raise


def _stored_and_measures(ctx: Context, source: str, keys: list[str]) -> tuple[dict[str, str], list[Measure]]:
    with ctx.sessions() as session:
        return repo.known_item_keys(session, source, keys), registry_db.get_measures(session)


def _read_state(ctx: Context, name: str) -> repo.SourceHealth | None:
    with ctx.sessions() as session:
        return repo.source_health(session, [name]).get(name)


def source_poll(
    ctx: Context, source: SourceBase, state: repo.SourceHealth | None, first_poll: bool,
    premade: dict[int, tuple[Item, list[Match]]] | None = None,
) -> Poll:  # fmt: skip
    """What the source's kind gets to fetch with: validators, cursor, which items are stored.
    `premade` collects the rule matches of what the parse workers parsed, when they hold the rules."""

    async def known(keys: list[str]) -> dict[str, str]:
        def query() -> dict[str, str]:
            with ctx.sessions() as session:
                return repo.known_item_keys(session, source.name, keys)

        return await asyncio.to_thread(query)

    async def offload(fn: Callable[..., Any], *args: Any) -> Any:
        out, matches = await ctx.cpu.run_matched(fn, *args)
        if matches is not None and premade is not None:
            for item, found in zip(out, matches, strict=True):
                premade[id(item)] = (item, [Match(*m) for m in found])
        return out

    now = ctx.clock()
    return Poll(
        fetcher=ctx.fetcher, timeout=ctx.settings.source_timeout(source), now=now,
        etag=state.etag if state else None, last_modified=state.last_modified if state else None,
        previous_hash=state.body_hash if state else None, cursor=state.cursor if state else None,
        quiet_before=_backfill_cutoff(ctx, now, first_poll), known=known, offload=offload,
    )  # fmt: skip


def _health_check(
    ctx: Context, session: Session, source: SourceBase, state: repo.SourceHealth | None, now: dt.datetime,
    error: WatcherError | None = None, new_items: int = 0,
) -> int:  # fmt: skip
    """Tell ops once when a source goes blind and once when it is back (same transaction)."""
    rules = health.policy(ctx.settings, source)
    if error is not None:
        verdict = health.after_failure(source, state, now, error.reason.value, error.message, rules)
    else:
        verdict = health.after_success(source, state, now, new_items, rules)
    if verdict.open_alert != (state.health_alert if state else None):
        repo.set_health_alert(session, source.name, verdict.open_alert)
    return repo.enqueue(session, [(a, None) for a in verdict.alerts], now)


def _store(
    ctx: Context, source: SourceBase, result: FetchResult, items: list[Item], first_poll: bool,
    cursor: str | None = None, state: repo.SourceHealth | None = None, prepared: Prepared | None = None,
) -> SourceOutcome:  # fmt: skip
    """One transaction: items, their alerts (the outbox) and the source's state."""
    pre = prepared or Prepared()
    now = ctx.clock()
    next_due = now + dt.timedelta(seconds=ctx.settings.source_interval(source))
    with ctx.sessions() as session, session.begin():
        changes = repo.store_items(session, items, now)
        matches = {c.item_id: pre.matches[c.item.key] if c.item.key in pre.matches else ctx.rules.match(c.item)
                   for c in changes}  # fmt: skip
        findings = registry_stage.reconcile_changes(session, source, changes, matches, now, pre.events)
        quiet_before = _backfill_cutoff(ctx, now, first_poll)
        alerts = route(changes, matches, findings, ctx.rules, ctx.settings, quiet_before)
        enqueued = repo.enqueue(session, alerts, now)
        new = sum(1 for c in changes if c.kind == "new")
        repo.record_fetch_success(session, source.name, ctx.owner, result, now, next_due, new_items=new, cursor=cursor)
        if _health_check(ctx, session, source, state, now, new_items=new):
            ctx.alerts_enqueued.set()
    status = "not_modified" if result.not_modified else "unchanged" if result.unchanged else "fetched"
    metrics.observe_routed(alerts, enqueued)
    log.info("source.polled", source=source.name, status=status, items=len(items), new=new,
             updated=len(changes) - new, alerts=enqueued)  # fmt: skip
    return SourceOutcome(source.name, status, len(items), new, len(changes) - new, enqueued)


def _backfill_cutoff(ctx: Context, now: dt.datetime, first_poll: bool) -> dt.datetime | None:
    # On a source's first poll, old entries are history, not news: store them without alerting.
    if not first_poll or not ctx.settings.defaults.backfill:
        return None
    return now - dt.timedelta(seconds=ctx.settings.defaults.backfill)


def _record_failure(
    ctx: Context, source: SourceBase, exc: WatcherError, failures: int, state: repo.SourceHealth | None = None
) -> SourceOutcome:
    now = ctx.clock()
    interval = ctx.settings.source_interval(source)
    delay = backoff_delay(
        failures,
        base=min(interval, 60.0),
        cap=max(ctx.settings.fetch.max_backoff, interval),
        retry_after=getattr(exc, "retry_after", None),
    )
    with ctx.sessions() as session, session.begin():
        repo.record_fetch_failure(
            session, source.name, ctx.owner, exc.message, exc.reason.value, now, now + dt.timedelta(seconds=delay)
        )
        told = _health_check(ctx, session, source, state, now, error=exc)
    if told:
        ctx.alerts_enqueued.set()
    log.warning("source.failed", source=source.name, reason=exc.reason.value, error=exc.message,
                failures=failures, retry_in=round(delay))  # fmt: skip
    return SourceOutcome(source.name, "failed", error=exc.message, reason=exc.reason.value)


def route(
    changes: Sequence[repo.ItemChange],
    matches: Mapping[int, Sequence[Match]],
    findings: Mapping[int, Sequence[registry_stage.NewFinding]],
    rules: RuleIndex,
    settings: Settings,
    quiet_before: dt.datetime | None = None,
) -> list[tuple[Alert, int | None]]:
    """Each new or updated item gets one alert per channel: a finding alert when it changes the
    registry (naming the measure and the change), else a rule alert for each matching rule."""
    out: list[tuple[Alert, int | None]] = []
    for change in changes:
        item = change.item
        if quiet_before and item.published and item.published < quiet_before:
            continue
        item_findings = findings.get(change.item_id, ())
        covered = set()
        for alert in registry_stage.finding_alerts(item, item_findings, matches.get(change.item_id, ()), settings):
            out.append((alert, change.item_id))
            covered.add(alert.channel)
        if change.kind == "update" and item.extra.get("quiet_update"):
            continue  # the source says this update is the same notice again (findings still alert)
        deadlines = registry_stage.unlinked_deadlines(item_findings)
        for match in matches.get(change.item_id, ()):
            if change.previous_text is not None:
                match = _quote_what_changed(rules, change, match)
            for channel in match.channels:
                if channel not in covered:
                    out.append((make_alert(item, change.kind, match, channel, deadlines), change.item_id))
    return out


def _quote_what_changed(rules: RuleIndex, change: repo.ItemChange, match: Match) -> Match:
    """For an amended notice, quote a matching sentence that is new rather than one that was there."""
    previous = change.previous_text or ""
    if match.sentence and match.sentence not in previous:
        return match
    text = change.item.text
    fresh = [text[a:b] for a, b in split_sentences(text) if text[a:b] not in previous]
    if not fresh:
        return match
    probe = replace(change.item, title="", summary="", text="\n".join(fresh))
    for again in rules.match(probe):
        if again.rule == match.rule and again.sentence:
            return replace(match, sentence=again.sentence)
    return match


def make_alert(item: Item, change: str, match: Match, channel: str, deadlines: str = "") -> Alert:
    kind = "new" if change == "new" else f"update:{item.content_hash[:12]}"
    dedup_key = f"{match.rule}|{item.source}|{repo.key_hash(item.key)[:20]}|{kind}"
    return Alert(
        dedup_key=dedup_key,
        channel=channel,
        kind="new" if change == "new" else "update",
        rule=match.rule,
        source=item.source,
        title=item.title or item.link or item.key,
        link=item.link,
        phrases=match.phrases,
        sentence=match.sentence,
        published=item.published,
        extra={"deadlines": deadlines} if deadlines else {},
    )
