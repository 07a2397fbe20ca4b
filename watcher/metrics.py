"""Prometheus metrics, all named `watcher_…`.

Counters and histograms are module-level and counted by the stages as work happens (in this
replica). What lives in the database (outbox depth, the oldest pending alert, each source's last
success) is read at scrape time by `DatabaseCollector`, so every replica reports the same, current
figures for the shared state (aggregate those with `max`, not `sum`).

Labels are names from the configuration (source, rule, channel) and closed sets (outcome, reason,
status): never a URL, an error message or anything else that could carry a secret.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from watcher import __version__

if TYPE_CHECKING:
    from watcher.models import Alert, SourceOutcome
    from watcher.runtime import Context

log = structlog.get_logger("watcher.metrics")

# This process's own metrics; `exposition()` adds the database collector of a running service.
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

POLLS = Counter(
    "watcher_polls", "Source polls by outcome (fetched, not_modified, unchanged, failed).",
    ["source", "outcome"], registry=REGISTRY,
)  # fmt: skip
POLL_FAILURES = Counter(
    "watcher_poll_failures", "Failed polls by reason (timeout, http_5xx, …).", ["reason"], registry=REGISTRY
)
FETCH_SECONDS = Histogram(
    "watcher_fetch_duration_seconds", "Time to fetch, parse and store one source.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=REGISTRY,
)  # fmt: skip
ITEMS = Counter("watcher_items", "Items stored, by source and change (new, updated).", ["source", "change"], registry=REGISTRY)
MATCHES = Counter("watcher_matches", "Items (new or updated) that matched a rule.", ["rule"], registry=REGISTRY)
FINDINGS = Counter("watcher_findings", "Findings proposed to the deadline registry.", ["kind"], registry=REGISTRY)
ALERTS = Counter(
    "watcher_alerts", "Alerts routed to the outbox: enqueued, or duplicate (already there).",
    ["outcome"], registry=REGISTRY,
)  # fmt: skip
DELIVERIES = Counter(
    "watcher_deliveries", "Delivery attempts by channel and outcome (sent, retry, dead).",
    ["channel", "outcome"], registry=REGISTRY,
)  # fmt: skip
DELIVERY_SECONDS = Histogram(
    "watcher_delivery_duration_seconds", "Time to send one alert.", ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY,
)  # fmt: skip
SCHEDULER_RUNNING = Gauge("watcher_scheduler_running", "1 while this replica takes work.", registry=REGISTRY)
REPLICA = Info("watcher_replica", "Who this replica is (its lease owner id).", registry=REGISTRY)


def set_replica(owner: str) -> None:
    REPLICA.info({"owner": owner, "host": platform.node(), "version": __version__})


def observe_poll(outcome: SourceOutcome) -> None:
    """Count one `pipeline.run_source` outcome."""
    POLLS.labels(outcome.name, outcome.status).inc()
    FETCH_SECONDS.observe(outcome.elapsed)
    if outcome.status == "failed":
        POLL_FAILURES.labels(outcome.reason or "unknown").inc()
    if outcome.new:
        ITEMS.labels(outcome.name, "new").inc(outcome.new)
    if outcome.updated:
        ITEMS.labels(outcome.name, "updated").inc(outcome.updated)


def observe_routed(alerts: Sequence[Alert], enqueued: int) -> None:
    """Count one poll's matches (one per item and rule) and alerts (one per item version and
    channel; those whose (dedup key, channel) was already in the outbox are duplicates)."""
    for rule, _key in {(r.rule, a.dedup_key) for a in alerts for r in a.rules}:
        MATCHES.labels(rule).inc()
    if enqueued:
        ALERTS.labels("enqueued").inc(enqueued)
    if len(alerts) > enqueued:
        ALERTS.labels("duplicate").inc(len(alerts) - enqueued)


def observe_delivery(channel: str, outcome: str, seconds: float) -> None:
    DELIVERIES.labels(channel, outcome).inc()
    DELIVERY_SECONDS.labels(channel).observe(seconds)


class DatabaseCollector:
    """The shared state, read from the database at each scrape. A failed read is reported as
    `watcher_database_up 0`, never as a failed scrape."""

    def __init__(self, context: Callable[[], Context | None]):
        self._context = context

    def collect(self) -> Iterator[Metric]:
        from watcher.db import outbox, repo

        up = GaugeMetricFamily("watcher_database_up", "1 when the last scrape could read the database.")
        ctx = self._context()
        if ctx is None:
            up.add_metric([], 0)
            yield up
            return
        try:
            with ctx.sessions() as session:
                now = ctx.clock()
                counts = outbox.count_alerts(session)
                oldest = outbox.oldest_pending_alert(session)
                reclaims = outbox.count_reclaims(session)
                health = repo.source_health(session, [s.name for s in ctx.settings.sources])
        except Exception as exc:  # the scrape must answer even when the database does not
            log.warning("metrics.database_unavailable", error=exc.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        depth = GaugeMetricFamily("watcher_outbox_alerts", "Alerts in the outbox by status.", labels=["status"])
        for status in ("pending", "sent", "dead"):
            depth.add_metric([status], counts.get(status, 0))
        yield depth
        age = GaugeMetricFamily(
            "watcher_outbox_oldest_pending_age_seconds", "Age of the oldest alert not yet sent (0: none)."
        )
        age.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield age
        taken = GaugeMetricFamily(
            "watcher_outbox_reclaimed_deliveries",
            "Deliveries taken over from a holder that died before recording its send: each may have reached its target twice.",
        )  # fmt: skip
        taken.add_metric([], reclaims)
        yield taken
        last = GaugeMetricFamily(
            "watcher_source_last_success_timestamp_seconds", "When each source was last polled successfully.",
            labels=["source"],
        )  # fmt: skip
        failures = GaugeMetricFamily(
            "watcher_source_consecutive_failures", "Failed polls of each source since its last success.",
            labels=["source"],
        )  # fmt: skip
        for name, h in sorted(health.items()):
            if h.last_success_at is not None:
                last.add_metric([name], h.last_success_at.timestamp())
            failures.add_metric([name], h.consecutive_failures)
        yield last
        yield failures


class _Proxy:
    """Expose a registry through another one (no describe(): nothing is registered twice)."""

    def __init__(self, registry: CollectorRegistry):
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        yield from self._registry.collect()


def exposition(context: Callable[[], Context | None] | None = None) -> bytes:
    """The text format of this process's metrics plus, given a context, the database's."""
    if context is None:
        return generate_latest(REGISTRY)
    scrape = CollectorRegistry()
    scrape.register(_Proxy(REGISTRY))
    scrape.register(DatabaseCollector(context))
    return generate_latest(scrape)
