"""Drain the outbox: claim due alerts, send each through its channel, record the attempt, back off.

Sends run concurrently (one thread each, apprise is blocking), so a slow or failing channel never
holds up another. An alert is `sent`, or back to `pending` with its next attempt pushed out
exponentially, or `dead` after `delivery.max_attempts` (or at once on a permanent error).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

import structlog

from watcher import channels, metrics
from watcher.db import repo
from watcher.errors import DeliveryError
from watcher.fetch import backoff_delay
from watcher.pipeline import Context

log = structlog.get_logger("watcher.deliver")
MAX_PARALLEL_SENDS = 8


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


async def deliver_due(
    ctx: Context, *, ids: list[int] | None = None, ignore_backoff: bool = False, limit: int = 200
) -> DeliveryReport:
    """Send every alert that is due now (or the given ids, or all pending ones ignoring backoff)."""
    lease = ctx.settings.lease  # renewed while we send (runtime.keep_leases)
    report = DeliveryReport()
    while True:
        batch = await asyncio.to_thread(_claim, ctx, ids, ignore_backoff, limit, lease)
        if not batch:
            return report
        gate = asyncio.Semaphore(MAX_PARALLEL_SENDS)
        await asyncio.gather(*(_deliver_one(ctx, stored, gate, report) for stored in batch))
        if ids is not None or ignore_backoff or len(batch) < limit:
            return report


def _claim(
    ctx: Context, ids: list[int] | None, ignore_backoff: bool, limit: int, lease: float
) -> list[repo.StoredAlert]:
    with ctx.sessions() as session, session.begin():
        return repo.claim_alerts(session, ctx.owner, ctx.clock(), lease, limit, ids=ids, ignore_backoff=ignore_backoff)


async def _deliver_one(ctx: Context, stored: repo.StoredAlert, gate: asyncio.Semaphore, report: DeliveryReport) -> None:
    alert = stored.alert
    loop = asyncio.get_running_loop()
    async with gate:
        started = loop.time()
        error: DeliveryError | None = None
        try:
            channel = ctx.settings.channel(alert.channel)
        except KeyError:
            error = DeliveryError(f"channel {alert.channel!r} is no longer configured", permanent=True)
        else:
            try:
                await asyncio.to_thread(
                    channels.send, channel, alert,
                    allow_private=ctx.settings.allow_private_networks, timeout=ctx.settings.delivery.timeout,
                )  # fmt: skip
            except DeliveryError as exc:
                error = exc
            except Exception as exc:  # a bug in a plugin must not lose the alert
                error = DeliveryError(f"internal error: {exc.__class__.__name__}: {exc}")
        duration = loop.time() - started
    await asyncio.to_thread(_record, ctx, stored, error, duration, report)


def _record(
    ctx: Context, stored: repo.StoredAlert, error: DeliveryError | None, duration: float, report: DeliveryReport
) -> None:
    now = ctx.clock()
    attempts = stored.attempts + 1
    settings = ctx.settings.delivery
    dead = error is not None and (error.permanent or attempts >= settings.max_attempts)
    next_at = None
    if error is not None and not dead:
        delay = backoff_delay(attempts, base=settings.backoff, cap=settings.max_backoff)
        next_at = now + dt.timedelta(seconds=delay)
    with ctx.sessions() as session, session.begin():
        repo.record_attempt(session, stored.id, ctx.owner, now, error.message if error else None, duration, next_at, dead)
    fields = dict(alert=stored.id, channel=stored.alert.channel, rule=stored.alert.rule, attempt=attempts)
    metrics.observe_delivery(stored.alert.channel, "sent" if error is None else "dead" if dead else "retry", duration)
    if error is None:
        report.sent += 1
        log.info("alert.sent", **fields)
    elif dead:
        report.dead += 1
        report.errors.append(f"alert {stored.id} ({stored.alert.channel}): {error.message}")
        log.error("alert.dead", reason=error.message, **fields)
    else:
        report.retrying += 1
        report.errors.append(f"alert {stored.id} ({stored.alert.channel}): {error.message}")
        log.warning("alert.retry", reason=error.message, next_attempt=next_at.isoformat() if next_at else None, **fields)
