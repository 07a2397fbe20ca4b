"""Drain the outbox: claim due deliveries (one alert to one target), send each, record the attempt,
back off.

An alert fans out to one delivery per apprise URL of its channel, each with its own attempts,
back-off and state: a target that is down is retried alone, and a target that got the message
never gets it again. Sends run concurrently (a thread each, apprise is blocking), so a slow or
failing target never holds up another. A delivery is `sent`, or back to `pending` with its next
attempt pushed out exponentially, or `dead` after `delivery.max_attempts` (or at once on a
permanent error).

The crash window: a delivery is claimed (leased) before its send and recorded right after it.
A process killed between the two leaves the lease to run out; the delivery is then sent again
(never lost) and `reclaims` counts it: the one case where a target may get a message twice.
Each send carries a stable id (`Claimed.stable_id`) so that a receiver can drop such a repeat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field

import structlog

from watcher import metrics
from watcher.db import outbox
from watcher.errors import DeliveryError
from watcher.fetch import backoff_delay
from watcher.runtime import Context

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
    """Send every delivery that is due now (or those of the given alert ids, or all pending ones
    ignoring backoff)."""
    lease = ctx.settings.lease  # renewed while we send (runtime.keep_leases)
    report = DeliveryReport()
    await record_unrecorded(ctx)
    while True:
        now = ctx.clock()
        batch = await ctx.db.write(outbox.claim_deliveries, ctx.owner, now, lease, limit, ids, ignore_backoff)
        if not batch:
            return report
        ctx.holding.update(c.delivery.id for c in batch)
        gate, recorder = asyncio.Semaphore(MAX_PARALLEL_SENDS), _Recorder(ctx)
        await asyncio.gather(*(_deliver_one(ctx, claimed, gate, recorder, report) for claimed in batch))
        if ids is not None or ignore_backoff or len(batch) < limit:
            return report


async def record_unrecorded(ctx: Context) -> int:
    """Write the records of sends the database refused before (their deliveries stay held, so
    nobody sends them again meanwhile). Returns how many are still unrecorded."""
    if ctx.unrecorded:
        records, ctx.unrecorded = ctx.unrecorded, []
        try:
            await ctx.db.write(outbox.record_deliveries, records, ctx.owner)
        except Exception as exc:
            ctx.unrecorded = records + ctx.unrecorded
            log.error("alert.record_failed", deliveries=len(records), reason="database", error=exc.__class__.__name__)
        else:
            ctx.holding.difference_update(r.claimed.delivery.id for r in records)
            log.info("alert.recorded_late", deliveries=len(records))
    return len(ctx.unrecorded)


async def _deliver_one(
    ctx: Context, claimed: outbox.Claimed, gate: asyncio.Semaphore, recorder: _Recorder, report: DeliveryReport
) -> None:  # fmt: skip
    loop = asyncio.get_running_loop()
    async with gate:
        started = loop.time()
        error = await _send(ctx, claimed)
        duration = loop.time() - started
    await _record(ctx, recorder, claimed, error, duration, report)


class _Recorder:
    """Records sends as they finish: the first at once, and those that finish while a write is
    under way together in the next one (one transaction, instead of one each). A send waits for
    its record at most one write longer than alone, so the crash window barely grows. When a
    grouped write fails, each of its records is tried again alone, as if never grouped."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._queue: list[tuple[outbox.Record, asyncio.Future[str]]] = []
        self._writing: asyncio.Future[None] | None = None

    async def record(self, record: outbox.Record) -> str:
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append((record, done))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._write())
        return await done

    async def _write(self) -> None:
        batch: list[tuple[outbox.Record, asyncio.Future[str]]] = []
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    states = await self._write_records([r for r, _ in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], error=exc)
                        continue
                    for record, done in batch:  # alone, as if never grouped
                        try:
                            _settle(done, (await self._write_records([record]))[0])
                        except Exception as error:
                            _settle(done, error=error)
                    continue
                for (_, done), state in zip(batch, states, strict=True):
                    _settle(done, state)
        except BaseException:  # cancelled (shutdown): so are the records waiting
            for _, done in batch + self._queue:
                done.cancel()
            raise

    async def _write_records(self, records: list[outbox.Record]) -> list[str]:
        return await self._ctx.db.write(outbox.record_deliveries, records, self._ctx.owner)


def _settle(done: asyncio.Future[str], state: str = "", error: Exception | None = None) -> None:
    if done.done():  # its caller was cancelled meanwhile
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(state)


async def _send(ctx: Context, claimed: outbox.Claimed) -> DeliveryError | None:
    # apprise: ~0.25 s to import, which a poll that sends nothing skips
    from watcher import channels

    alert = claimed.alert
    try:
        channel = ctx.settings.channel(alert.channel)
    except KeyError:
        return DeliveryError(f"channel {alert.channel!r} is no longer configured", permanent=True)
    options = dict(allow_private=ctx.settings.allow_private_networks, timeout=ctx.settings.delivery.timeout)
    target = claimed.delivery.target
    try:
        if target not in (outbox.LEGACY, *(k for k, _ in ctx.targets.get(alert.channel, ()))):
            target = await ctx.db.write(outbox.retarget, claimed, ctx.targets.get(alert.channel, ()))
            if target is None:
                return DeliveryError(f"target {claimed.delivery.label or claimed.delivery.target} was removed from "
                                     f"channel {alert.channel!r}", permanent=True)  # fmt: skip
            log.info("delivery.retargeted", delivery=claimed.delivery.id, channel=alert.channel, target_key=target)
        if target == outbox.LEGACY:  # queued without its targets known: all of them
            await asyncio.to_thread(channels.send, channel, alert, delivery_id=claimed.stable_id(), **options)
        else:
            await asyncio.to_thread(channels.send_to, channel, target, alert, claimed.stable_id(), **options)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # a bug in a plugin must not lose the alert
        return DeliveryError(f"internal error: {exc.__class__.__name__}: {exc}")
    return None


async def _record(
    ctx: Context, recorder: _Recorder, claimed: outbox.Claimed, error: DeliveryError | None, duration: float,
    report: DeliveryReport,
) -> None:  # fmt: skip
    now = ctx.clock()
    attempts = claimed.delivery.attempts + 1
    settings = ctx.settings.delivery
    dead = error is not None and (error.permanent or attempts >= settings.max_attempts)
    next_at = None
    if error is not None and not dead:
        delay = backoff_delay(attempts, base=settings.backoff, cap=settings.max_backoff)
        next_at = now + dt.timedelta(seconds=delay)
    message = error.message if error else None
    record = outbox.Record(claimed, now, message, duration, next_at, dead)
    try:
        await recorder.record(record)
    except Exception as exc:  # sent (or tried) but not recorded: kept, held, written at the next drain
        ctx.unrecorded.append(record)
        log.error("alert.record_failed", delivery=claimed.delivery.id, reason="database", error=exc.__class__.__name__)
    else:
        ctx.holding.discard(claimed.delivery.id)
    alert, d = claimed.alert, claimed.delivery
    fields = dict(alert=claimed.alert_id, delivery=d.id, channel=alert.channel, target=d.label, target_key=d.target,
                  rule=alert.rule, attempt=attempts)  # fmt: skip
    metrics.observe_delivery(alert.channel, "sent" if error is None else "dead" if dead else "retry", duration)
    if error is None:
        report.sent += 1
        log.info("alert.sent", **fields)
        return
    report.errors.append(f"alert {claimed.alert_id} ({alert.channel}, {d.label or 'console'}): {error.message}")
    if dead:
        report.dead += 1
        log.error("alert.dead", reason=error.message, **fields)
    else:
        report.retrying += 1
        log.warning("alert.retry", reason=error.message, next_attempt=next_at.isoformat() if next_at else None, **fields)
