"""The pipeline, top to bottom:

sources → fetch → parse → items → match rules → extract → findings → route → outbox → deliver

`run_source()` takes one claimed source through every stage up to the outbox and reads in data
order, one line per stage. The stages between the reads and the one write are pure (no I/O);
parsing and extraction run in the worker pool, off the event loop; the write (`commit.commit`)
stores the items, findings, messages, their deliveries and the source's state in ONE
transaction. `deliver.deliver_due()` drains the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import structlog

from watcher import health, sources
from watcher.commit import FailurePlan, PollPlan, commit, commit_failure
from watcher.db import repo
from watcher.errors import FetchError, ParseError, Reason, WatcherError
from watcher.fetch import backoff_delay
from watcher.models import Changed, Item, Match, SourceOutcome
from watcher.registry import findings
from watcher.registry.events import items_events
from watcher.route import route
from watcher.runtime import Context
from watcher.settings import SourceBase

log = structlog.get_logger("watcher.pipeline")
UNREAD: Any = object()  # run_source reads the source's state itself


async def run_source(ctx: Context, source: SourceBase, state: repo.SourceHealth | None = UNREAD) -> SourceOutcome:
    """Fetch one source (already claimed by `ctx.owner`) and carry what it yields to the outbox.
    `state`: the source's stored state, when the caller read it (one query for a whole cycle)."""
    ctx.polling.add(source.name)
    try:
        async with ctx.inflight:
            return await _run_source(ctx, source, state)
    finally:
        ctx.polling.discard(source.name)


async def _run_source(ctx: Context, source: SourceBase, state: repo.SourceHealth | None) -> SourceOutcome:
    started = asyncio.get_running_loop().time()
    state = await ctx.db.read(repo.source_state, source.name) if state is UNREAD else state
    poll = poll_for(ctx, source, state)                                     # validators, cursor, backfill
    try:
        collected = await sources.collect(poll, source)                     # fetch + parse (+ matches)
    except Exception as exc:
        outcome = await write(ctx, source, state, commit_failure, failure_plan(ctx, source, state, exc))
    else:
        changes = await ctx.db.read(repo.changed_items, source.name, collected.items)   # new / updated
        matches = collected.matches or match_all(ctx, changes)             # rules
        measures = await ctx.measures()                                     # one snapshot
        events = await extract(ctx, findings.wanted([c.item for c in changes], matches, measures))
        proposed = findings.propose([c.item for c in changes], events, measures, matches)  # pure
        messages = route(changes, matches, proposed, measures, ctx.rules,
                         ctx.settings.default_channels(), poll.quiet_before)  # pure  # fmt: skip
        plan = PollPlan(source, ctx.owner, ctx.clock(), next_due(ctx, source), collected.result,
                        collected.items, collected.cursor, state, health.policy(ctx.settings, source),
                        ctx.targets, proposed, messages)  # fmt: skip
        outcome = await write(ctx, source, state, commit, plan)             # the one write
    if outcome.alerts:
        ctx.alerts_enqueued.set()
    return _timed(outcome, started)


async def write(ctx: Context, source: SourceBase, state: repo.SourceHealth | None, fn: Any, plan: Any) -> SourceOutcome:
    """The poll's one write. When the database refuses it, the failure is recorded instead
    (reason `database`, backing off, visible in `watcher sources`); when that fails too, the
    lease is released or, failing that, left to run out: the source is polled again either way."""
    try:
        return await ctx.db.write(fn, plan)
    except Exception as exc:
        log.error("source.store_failed", source=source.name, reason="database", error=f"{exc.__class__.__name__}: {exc}"[:300])
        error = WatcherError(f"database error while storing the poll: {exc.__class__.__name__}", Reason.database)
    if fn is not commit_failure:
        try:
            return await ctx.db.write(commit_failure, failure_plan(ctx, source, state, error))
        except Exception as exc:
            log.error("source.failure_not_recorded", source=source.name, error=exc.__class__.__name__)
    with contextlib.suppress(Exception):
        await ctx.db.write(repo.release_sources, ctx.owner, (source.name,))
    return SourceOutcome(source.name, "failed", error=error.message, reason=error.reason.value)


def poll_for(ctx: Context, source: SourceBase, state: repo.SourceHealth | None) -> sources.Poll:
    """What the source's kind gets to fetch with: validators, cursor, which items are stored,
    the worker pool (matching rules where it parses, when it holds them) and the backfill cutoff."""

    async def known(keys: list[str]) -> dict[str, str]:
        return await ctx.db.read(repo.known_item_keys, source.name, keys)

    async def offload(fn: Any, *args: Any) -> tuple[Any, list[list[Match]] | None]:
        out, matches = await ctx.cpu.run_matched(fn, *args)
        return out, None if matches is None else [[Match(*m) for m in found] for found in matches]

    now = ctx.clock()
    first_poll = state is None or state.last_success_at is None
    return sources.Poll(
        fetcher=ctx.fetcher, timeout=ctx.settings.source_timeout(source), now=now,
        etag=state.etag if state else None, last_modified=state.last_modified if state else None,
        previous_hash=state.body_hash if state else None, cursor=state.cursor if state else None,
        quiet_before=backfill_cutoff(ctx, now, first_poll), known=known, offload=offload,
    )  # fmt: skip


def match_all(ctx: Context, changes: list[Changed]) -> dict[str, list[Match]]:
    return {c.item.key: ctx.rules.match(c.item) for c in changes}


async def extract(ctx: Context, items: list[Item]) -> dict[str, list[Any]]:
    """Each item's deadline events, by item key, extracted in the worker pool (one trip)."""
    if not items:
        return {}
    events = await ctx.cpu.run(items_events, items)
    return {i.key: e for i, e in zip(items, events, strict=True)}


def backfill_cutoff(ctx: Context, now: dt.datetime, first_poll: bool) -> dt.datetime | None:
    """On a source's first poll, entries published more than `defaults.backfill` ago are history:
    stored without alerting. `backfill: 0s` turns this off: a first poll alerts on every entry."""
    backfill = ctx.settings.defaults.backfill
    if not first_poll or not backfill:
        return None
    return now - dt.timedelta(seconds=backfill)


def next_due(ctx: Context, source: SourceBase) -> dt.datetime:
    return ctx.clock() + dt.timedelta(seconds=ctx.settings.source_interval(source))


def failure_plan(ctx: Context, source: SourceBase, state: repo.SourceHealth | None, exc: Exception) -> FailurePlan:
    """A failed poll's write: the error (a parser's bug becomes `internal error`), its back-off."""
    if not isinstance(exc, (FetchError, ParseError, WatcherError)):
        log.error("source.crashed", source=source.name, error=f"{exc.__class__.__name__}: {exc}")
        exc = WatcherError(f"internal error: {exc.__class__.__name__}: {exc}", Reason.unknown)
    failures = (state.consecutive_failures if state else 0) + 1
    interval = ctx.settings.source_interval(source)
    delay = backoff_delay(failures, base=min(interval, 60.0), cap=max(ctx.settings.fetch.max_backoff, interval),
                          retry_after=getattr(exc, "retry_after", None))  # fmt: skip
    log.warning("source.failed", source=source.name, reason=exc.reason.value, error=exc.message,
                failures=failures, retry_in=round(delay))  # fmt: skip
    now = ctx.clock()
    return FailurePlan(source, ctx.owner, now, now + dt.timedelta(seconds=delay), exc, state,
                       health.policy(ctx.settings, source), ctx.targets)  # fmt: skip


def _timed(outcome: SourceOutcome, started: float) -> SourceOutcome:
    from dataclasses import replace

    return replace(outcome, elapsed=asyncio.get_running_loop().time() - started)
