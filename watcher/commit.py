"""The one write of a poll, in one transaction (a transactional outbox): a crash leaves all of it
or none. Everything CPU-heavy (parsing, matching, extraction, message building) happened before;
here are only the statements, in data order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy.orm import Session

from watcher import health, metrics
from watcher.db import outbox, repo
from watcher.db import registry as registry_db
from watcher.errors import WatcherError
from watcher.models import FetchResult, Finding, Item, SourceOutcome
from watcher.registry.reconcile import apply
from watcher.route import Outgoing, finalise

log = structlog.get_logger("watcher.pipeline")


@dataclass(frozen=True)
class PollPlan:
    """What one successful poll of a source writes."""

    source: object  # the source's config (settings.SourceBase)
    owner: str
    now: dt.datetime
    next_due: dt.datetime
    result: FetchResult
    items: Sequence[Item]
    cursor: str | None
    state: repo.SourceHealth | None
    policy: health.HealthPolicy
    targets: outbox.Targets
    proposed: Mapping[str, Sequence[Finding]] = field(default_factory=dict)
    messages: Sequence[Outgoing] = ()


@dataclass(frozen=True)
class FailurePlan:
    """What one failed poll of a source writes."""

    source: object
    owner: str
    now: dt.datetime
    next_due: dt.datetime
    error: WatcherError
    state: repo.SourceHealth | None
    policy: health.HealthPolicy
    targets: outbox.Targets


def commit(session: Session, plan: PollPlan) -> SourceOutcome:
    """Store items → record findings (applying a trusted source's) → enqueue the messages and
    their deliveries → record the source's success and health."""
    name = plan.source.name  # type: ignore[attr-defined]
    stored = repo.store_items(session, plan.items, plan.now)
    ids = {c.item.key: c.item_id for c in stored}
    recorded = record_findings(session, plan, ids)
    alerts = [(a, ids[m.item_key]) for m in plan.messages if m.item_key in ids and (a := finalise(m, recorded))]
    enqueued = outbox.enqueue(session, alerts, plan.targets, plan.now)
    new = sum(1 for c in stored if c.kind == "new")
    repo.record_fetch_success(session, name, plan.owner, plan.result, plan.now, plan.next_due, new_items=new,
                              cursor=plan.cursor)  # fmt: skip
    verdict = health.after_success(plan.source, plan.state, plan.now, new, plan.policy)
    told = _tell_health(session, name, plan.state, verdict, plan.targets, plan.now)
    metrics.observe_routed([a for a, _ in alerts], enqueued)
    result = plan.result
    status = "not_modified" if result.not_modified else "unchanged" if result.unchanged else "fetched"
    log.info("source.polled", source=name, status=status, items=len(plan.items), new=new,
             updated=len(stored) - new, alerts=enqueued)  # fmt: skip
    return SourceOutcome(name, status, len(plan.items), new, len(stored) - new, enqueued + told)


def commit_failure(session: Session, plan: FailurePlan) -> SourceOutcome:
    """Record the failure and its back-off; tell ops once when the source goes blind."""
    name, exc = plan.source.name, plan.error  # type: ignore[attr-defined]
    repo.record_fetch_failure(session, name, plan.owner, exc.message, exc.reason.value, plan.now, plan.next_due)
    verdict = health.after_failure(plan.source, plan.state, plan.now, exc.reason.value, exc.message, plan.policy)
    told = _tell_health(session, name, plan.state, verdict, plan.targets, plan.now)
    return SourceOutcome(name, "failed", alerts=told, error=exc.message, reason=exc.reason.value)


def _tell_health(
    session: Session, name: str, state: repo.SourceHealth | None, verdict: health.Verdict, targets: outbox.Targets,
    now: dt.datetime,
) -> int:  # fmt: skip
    if verdict.open_alert != (state.health_alert if state else None):
        repo.set_health_alert(session, name, verdict.open_alert)
    return outbox.enqueue(session, [(a, None) for a in verdict.alerts], targets, now)


def record_findings(
    session: Session, plan: PollPlan, ids: Mapping[str, int]
) -> dict[tuple[str, str], tuple[int, bool, bool]]:
    """Record each stored item's findings (a claim seen before gets this notice as evidence) and
    apply a trusted source's at once. (Item key, finding key) → (id, new, applied): a claim two
    items of one poll make is new for the first of them only."""
    source = plan.source
    trusted = bool(getattr(source, "trusted", False))
    keyed = [(key, f, ids[key]) for key, findings in plan.proposed.items() if key in ids for f in findings]
    recorded = registry_db.record_findings(session, [(f, i) for _, f, i in keyed], trusted=trusted, now=plan.now)
    out: dict[tuple[str, str], tuple[int, bool, bool]] = {}
    for (item_key, f, _), (fid, is_new) in zip(keyed, recorded, strict=True):
        if is_new and f.measure_id is not None and f.kind != "confirmed":
            for other, status in registry_db.settle_milestone(session, fid, plan.now):
                log.info("finding.settled", finding=other, status=status, by=fid)
                is_new = is_new and not (other == fid and status == "superseded")  # outdated on arrival: not news
        applied = trusted and f.measure_id is not None and f.kind != "confirmed" and _apply(session, f, fid, plan)
        out[(item_key, f.dedup_key)] = (fid, is_new, applied)
        if is_new and f.kind != "confirmed":
            log.info("finding.new", finding=fid, kind=f.kind, measure=f.measure_id, source=source.name)  # type: ignore[attr-defined]
            metrics.FINDINGS.labels(f.kind).inc()
    return out


def _apply(session: Session, f: Finding, fid: int, plan: PollPlan) -> bool:
    """Apply a trusted source's finding to its measure as stored now (not the poll's snapshot)."""
    measure = registry_db.get_measure(session, f.measure_id or "")
    stored = registry_db.list_findings(session, ids=[fid])[0]
    if measure is None or stored.status != "proposed":
        return False
    actor = f"source:{plan.source.name}"  # type: ignore[attr-defined]
    registry_db.save_measure(session, apply(measure, f, fid), actor=actor, action=f"finding:{f.kind}", now=plan.now,
                             evidence=f.event.evidence, link=f.link, finding_id=fid)  # fmt: skip
    registry_db.set_finding_status(session, fid, "applied", actor, plan.now)
    return True

