"""The pipeline's registry stage: extract each changed item's deadlines, reconcile them with
the measures, record findings (new claims, or corroboration of known ones), apply them at once
for trusted sources, and build the finding alerts. Called inside `pipeline._store`'s transaction."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session

from watcher import metrics
from watcher.db import registry as registry_db
from watcher.db.repo import ItemChange
from watcher.models import Alert, Event, Finding, Item, Match, Measure, describe_milestone
from watcher.registry.events import item_events
from watcher.registry.reconcile import apply, link_measures, reconcile
from watcher.settings import Settings, SourceBase

log = structlog.get_logger("watcher.registry")


@dataclass(frozen=True, slots=True)
class NewFinding:
    """A claim recorded for the first time by this item (corroborations are not listed)."""

    id: int
    finding: Finding
    measure: Measure | None
    applied: bool


def reconcile_changes(
    session: Session, source: SourceBase, changes: Sequence[ItemChange],
    matches: Mapping[int, Sequence[Match]], now: dt.datetime, events: Mapping[str, Sequence[Event]] | None = None,
) -> dict[int, list[NewFinding]]:  # fmt: skip
    """Findings per item id. Measures are read once; a trusted source's findings are applied.
    `events`: each item's deadline events by item key, when already extracted (off the loop)."""
    if not changes:
        return {}
    measures = {m.id: m for m in registry_db.get_measures(session)}
    out: dict[int, list[NewFinding]] = defaultdict(list)
    for change in changes:
        matched = bool(matches.get(change.item_id))
        if change.item.key in (events or {}):
            found = list((events or {})[change.item.key])
        elif needs_events(change.item, matched, list(measures.values())):
            found = item_events(change.item)
        else:
            continue
        if not found:
            continue
        for f in reconcile(change.item, found, list(measures.values()), matched):
            fid, is_new = registry_db.record_finding(session, f, item_id=change.item_id, trusted=source.trusted, now=now)
            applied = False
            if source.trusted and f.measure_id and f.kind != "confirmed":
                applied = _apply_trusted(session, measures, f, fid, source, now)
            if is_new and f.kind != "confirmed":
                out[change.item_id].append(NewFinding(fid, f, measures.get(f.measure_id or ""), applied))
                log.info("finding.new", finding=fid, kind=f.kind, measure=f.measure_id, source=source.name)
                metrics.FINDINGS.labels(f.kind).inc()
    return out


def needs_events(item: Item, rule_matched: bool, measures: Sequence[Measure]) -> bool:
    """Whether the item's deadlines can make a finding: only when a rule matched it or it names a
    measure (see `reconcile`), so the extractor skips the rest of a feed."""
    return rule_matched or bool(getattr(item, "events", ())) or bool(link_measures(item, measures))


def _apply_trusted(
    session: Session, measures: dict[str, Measure], f: Finding, fid: int, source: SourceBase, now: dt.datetime
) -> bool:
    stored = registry_db.list_findings(session, ids=[fid])[0]
    if stored.status != "proposed":
        return False
    updated = apply(measures[f.measure_id], f, fid)  # type: ignore[index]
    registry_db.save_measure(session, updated, actor=f"source:{source.name}", action=f"finding:{f.kind}", now=now,
                             evidence=f.event.evidence, link=f.link, finding_id=fid)  # fmt: skip
    registry_db.set_finding_status(session, fid, "applied", f"source:{source.name}", now)
    measures[updated.id] = registry_db.get_measure(session, updated.id) or updated
    return True


def finding_alerts(
    item: Item, findings: Sequence[NewFinding], matches: Sequence[Match], settings: Settings
) -> list[Alert]:
    """One alert per measure (per channel) for the new findings an item made about it."""
    by_measure: dict[str, list[NewFinding]] = defaultdict(list)
    for nf in findings:
        if nf.measure is not None:
            by_measure[nf.measure.id].append(nf)
    phrases = tuple(dict.fromkeys(p for m in matches for p in m.phrases))
    rule = matches[0].rule if matches else "registry"
    alerts = []
    for group in by_measure.values():
        measure = group[0].measure
        assert measure is not None
        changes = "; ".join(nf.finding.change_text() for nf in group)
        ids = ", ".join(f"#{nf.id}" for nf in group)
        applied = all(nf.applied for nf in group)
        extra = {
            "measure": f"{measure.title} ({measure.id})",
            "change": changes,
            "notice": item.title,
            "finding": f"{ids} applied to the registry (trusted source)" if applied
            else f"{ids} proposed: watcher findings accept {group[0].id}",
        }  # fmt: skip
        channels = list(measure.channels) if measure.channels else settings.default_channels()
        for channel in channels:
            alerts.append(Alert(
                dedup_key="finding|" + "+".join(str(nf.id) for nf in group), channel=channel, kind="finding",
                rule=rule, source=item.source, title=f"{measure.title}: {changes}", link=item.link,
                phrases=phrases, sentence=group[0].finding.event.evidence, published=item.published, extra=extra,
            ))  # fmt: skip
    return alerts


def unlinked_deadlines(findings: Sequence[NewFinding]) -> str:
    """Deadlines in a rule-matched item that no measure has, for the rule alert's body."""
    return "; ".join(
        describe_milestone(nf.finding.event.kind, nf.finding.event.date) + f" (finding #{nf.id})"
        for nf in findings if nf.measure is None
    )  # fmt: skip
