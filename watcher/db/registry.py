"""Queries of the deadline registry: measures, milestones, their history, and findings.

Every change to a measure goes through `save_measure()`, which writes the history row (who or
which item, before, after, evidence) in the caller's transaction: no change without history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from watcher.db.tables import (
    FindingEvidenceRow,
    FindingRow,
    HistoryRow,
    ItemRow,
    MeasureRow,
    MilestoneRow,
)
from watcher.models import Event, Finding, Measure, Milestone
from watcher.registry_file import digest, measure_to_dict

# ---------------------------------------------------------------- measures


def _measure(row: MeasureRow, milestones: Sequence[MilestoneRow]) -> Measure:
    return Measure(
        id=row.id, title=row.title, jurisdiction=row.jurisdiction, authority=row.authority,
        reference=row.reference, aliases=tuple(row.aliases or ()), tags=tuple(row.tags or ()),
        status=row.status, channels=tuple(row.channels) if row.channels is not None else None,
        source=row.source,
        milestones=tuple(
            Milestone(m.kind, m.date, m.time, m.tz, m.note, m.source, m.uid, m.sequence, m.state, m.id)
            for m in sorted(milestones, key=lambda m: (m.date, m.id))
        ),
    )  # fmt: skip


# Whether there is any measure at all: read for every source polled, where most installations
# keep no registry; a Core statement built once costs a fraction of the ORM query below.
_ANY_MEASURE = select(MeasureRow.__table__.c.id).limit(1)


def get_measures(session: Session, ids: Sequence[str] | None = None) -> list[Measure]:
    if session.execute(_ANY_MEASURE).first() is None:  # (autoflushes, as the query below would)
        return []
    query = select(MeasureRow).order_by(MeasureRow.id)
    if ids is not None:
        query = query.where(MeasureRow.id.in_(list(ids)))
    rows = list(session.scalars(query))
    by_measure: dict[str, list[MilestoneRow]] = {r.id: [] for r in rows}
    for m in session.scalars(select(MilestoneRow).where(MilestoneRow.measure_id.in_(list(by_measure)))):
        by_measure[m.measure_id].append(m)
    return [_measure(r, by_measure[r.id]) for r in rows]


def get_measure(session: Session, measure_id: str) -> Measure | None:
    found = get_measures(session, [measure_id])
    return found[0] if found else None


def save_measure(
    session: Session, measure: Measure, *, actor: str, action: str, now: dt.datetime,
    evidence: str = "", link: str = "", finding_id: int | None = None, file_digest: str | None = None,
) -> bool:  # fmt: skip
    """Create or update a measure and its milestones; write one history row. Returns False when
    nothing changed. A milestone whose date, time, zone, kind or state changes gets its calendar
    SEQUENCE raised; milestones are matched by uid."""
    row = session.get(MeasureRow, measure.id)
    before = get_measure(session, measure.id) if row is not None else None
    if before is not None and _same(before, measure):
        if file_digest is not None:
            row.file_digest = file_digest  # type: ignore[union-attr]
        return False
    if row is None:
        row = MeasureRow(id=measure.id, created_at=now)
        session.add(row)
    row.title, row.jurisdiction, row.authority = measure.title, measure.jurisdiction, measure.authority
    row.reference, row.aliases, row.tags = measure.reference, list(measure.aliases), list(measure.tags)
    row.status, row.source, row.updated_at = measure.status, measure.source, now
    row.channels = list(measure.channels) if measure.channels is not None else None
    if file_digest is not None:
        row.file_digest = file_digest
    session.flush()
    _save_milestones(session, measure, now)
    after = get_measure(session, measure.id)
    session.add(HistoryRow(
        measure_id=measure.id, at=now, actor=actor, action=action if before else "created",
        before=_jsonable(measure_to_dict(before)) if before else None,
        after=_jsonable(measure_to_dict(after)) if after else None,
        evidence=evidence, link=link, finding_id=finding_id,
    ))  # fmt: skip
    return True


def _same(a: Measure, b: Measure) -> bool:
    strip = lambda m: replace(m, milestones=tuple(sorted((_ms_key(x) for x in m.milestones), key=str)))  # noqa: E731
    return strip(a) == strip(b)


def _ms_key(m: Milestone) -> tuple[Any, ...]:
    return (m.uid, m.kind, m.date, m.time, m.tz, m.note, m.source, m.state)


def _save_milestones(session: Session, measure: Measure, now: dt.datetime) -> None:
    existing = {m.uid: m for m in session.scalars(select(MilestoneRow).where(MilestoneRow.measure_id == measure.id))}
    wanted = {m.uid: m for m in measure.milestones}
    for uid, m in wanted.items():
        row = existing.get(uid)
        if row is None:
            session.add(MilestoneRow(measure_id=measure.id, uid=uid, kind=m.kind, date=m.date, time=m.time, tz=m.tz,
                                     note=m.note, source=m.source, state=m.state, sequence=m.sequence,
                                     created_at=now, updated_at=now))  # fmt: skip
            continue
        moved = (row.kind, row.date, row.time, row.tz, row.state) != (m.kind, m.date, m.time, m.tz, m.state)
        if moved or (row.note, row.source) != (m.note, m.source):
            row.kind, row.date, row.time, row.tz, row.state = m.kind, m.date, m.time, m.tz, m.state
            row.note, row.source, row.updated_at = m.note, m.source, now
            row.sequence += 1
        # an imported file's sequence (an export's) never lowers the calendar's: subscribers would ignore it
        row.sequence = max(row.sequence, m.sequence)
    for uid, row in existing.items():
        if uid not in wanted and row.state != "cancelled":
            row.state, row.sequence, row.updated_at = "cancelled", row.sequence + 1, now  # kept for the calendar
    session.flush()


def _jsonable(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _jsonable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_jsonable(v) for v in data]
    if isinstance(data, dt.date):
        return data.isoformat()
    return data


def import_measures(session: Session, measures: Sequence[Measure], actor: str, now: dt.datetime) -> dict[str, int]:
    """Apply the registry file: an entry changed since its last import is applied (history
    records it); an unchanged entry is skipped, so accepted findings are not undone."""
    stored = {r.id: r.file_digest for r in session.scalars(select(MeasureRow))}
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for m in measures:
        d = digest(m)
        if m.id in stored and stored[m.id] == d:
            counts["unchanged"] += 1
            continue
        current = get_measure(session, m.id)
        if current is not None:
            m = _keep_db_only_milestones(current, m)
        changed = save_measure(session, m, actor=actor, action="imported", now=now, file_digest=d)
        counts["created" if m.id not in stored else "updated" if changed else "unchanged"] += 1
    return counts


def _keep_db_only_milestones(current: Measure, incoming: Measure) -> Measure:
    # Milestones added by accepted findings are not in an older file: keep them.
    file_uids = {m.uid for m in incoming.milestones}
    extra = tuple(m for m in current.milestones if m.uid not in file_uids and "/finding-" in m.uid)
    return replace(incoming, milestones=incoming.milestones + extra)


def measure_history(session: Session, measure_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(select(HistoryRow).where(HistoryRow.measure_id == measure_id).order_by(HistoryRow.id))
    return [
        {"at": r.at, "actor": r.actor, "action": r.action, "before": r.before, "after": r.after,
         "evidence": r.evidence, "link": r.link, "finding": r.finding_id}
        for r in rows
    ]  # fmt: skip


# ---------------------------------------------------------------- findings


@dataclass(frozen=True, slots=True)
class StoredFinding:
    id: int
    finding: Finding
    status: str
    confidence: float
    created_at: dt.datetime
    decided_by: str | None
    evidence: tuple[dict[str, Any], ...]


def record_finding(
    session: Session, f: Finding, *, item_id: int | None, trusted: bool, now: dt.datetime
) -> tuple[int, bool]:
    """Store a finding, or add this notice as corroborating evidence of the same claim.
    Returns (finding id, True when the claim is new)."""
    return record_findings(session, [(f, item_id)], trusted=trusted, now=now)[0]


def record_findings(
    session: Session, entries: Sequence[tuple[Finding, int | None]], *, trusted: bool, now: dt.datetime
) -> list[tuple[int, bool]]:
    """`record_finding` for each (finding, item id), in order, in four statements whatever their
    number: the stored ids of their keys, one multi-row INSERT … RETURNING of the new ones, the
    evidence links already stored, one INSERT of the new evidence. A key repeated among them is
    new only the first time; a (finding, link) is evidence once."""
    if not entries:
        return []
    conn = session.connection()
    f_t, e_t = FindingRow.__table__, FindingEvidenceRow.__table__
    keys = list(dict.fromkeys(f.dedup_key for f, _ in entries))
    ids: dict[str, int] = {k: i for k, i in conn.execute(select(f_t.c.dedup_key, f_t.c.id).where(f_t.c.dedup_key.in_(keys)))}
    stored = set(ids)
    fresh: dict[str, dict[str, object]] = {}
    for f, item_id in entries:
        if f.dedup_key not in ids and f.dedup_key not in fresh:
            fresh[f.dedup_key] = dict(
                dedup_key=f.dedup_key, kind=f.kind, measure_id=f.measure_id, milestone_uid=f.milestone_uid,
                event_kind=f.event.kind, event_date=f.event.date, event_time=f.event.time, event_tz=f.event.tz,
                old_kind=f.old_kind, old_date=f.old_date, evidence=f.event.evidence, confidence=f.event.confidence,
                link=f.link, source=f.source, item_id=item_id, item_title=f.item_title, status="proposed",
                created_at=now,
            )  # fmt: skip
    if fresh:
        returning = insert(f_t).returning(f_t.c.id, f_t.c.dedup_key)
        ids.update({key: fid for fid, key in conn.execute(returning, list(fresh.values()))})
    seen: set[tuple[int, str]] = set()
    if stored:
        links = list({f.link[:1000] for f, _ in entries if f.dedup_key in stored})
        query = select(e_t.c.finding_id, e_t.c.link).where(
            e_t.c.finding_id.in_([ids[k] for k in stored]), e_t.c.link.in_(links)
        )
        seen = {(fid, link) for fid, link in conn.execute(query)}
    out, evidence, announced = [], [], set()
    for f, item_id in entries:
        fid, link = ids[f.dedup_key], f.link[:1000]
        out.append((fid, f.dedup_key in fresh and f.dedup_key not in announced))
        announced.add(f.dedup_key)
        if (fid, link) not in seen:
            seen.add((fid, link))
            evidence.append(dict(finding_id=fid, item_id=item_id, source=f.source, link=link,
                                 evidence=f.event.evidence, trusted=trusted, at=now))  # fmt: skip
    if evidence:
        conn.execute(insert(e_t), evidence)
    return out


def _finding(row: FindingRow, evidence: Sequence[FindingEvidenceRow]) -> StoredFinding:
    event = Event(row.event_date, row.event_kind, row.evidence, row.confidence, row.event_time, row.event_tz)
    f = Finding(kind=row.kind, dedup_key=row.dedup_key, measure_id=row.measure_id, event=event,
                old_kind=row.old_kind, old_date=row.old_date, milestone_uid=row.milestone_uid,
                item_title=row.item_title, link=row.link, source=row.source)  # fmt: skip
    ev = tuple({"source": e.source, "link": e.link, "evidence": e.evidence, "trusted": e.trusted, "at": e.at}
               for e in evidence)  # fmt: skip
    return StoredFinding(row.id, f, row.status, row.confidence, row.created_at, row.decided_by, ev)


def list_findings(session: Session, status: str | None = None, ids: Sequence[int] | None = None) -> list[StoredFinding]:
    query = select(FindingRow).order_by(FindingRow.id)
    if status:
        query = query.where(FindingRow.status == status)
    if ids is not None:
        query = query.where(FindingRow.id.in_(list(ids)))
    rows = list(session.scalars(query))
    evidence: dict[int, list[FindingEvidenceRow]] = {r.id: [] for r in rows}
    for e in session.scalars(select(FindingEvidenceRow).where(FindingEvidenceRow.finding_id.in_(list(evidence)))
                             .order_by(FindingEvidenceRow.id)):  # fmt: skip
        evidence[e.finding_id].append(e)
    return [_finding(r, evidence[r.id]) for r in rows]


# Two sources that disagree on a milestone's date within this time are a conflict to resolve; a
# claim made later than that supersedes the earlier one (the later notice moved the date again).
CONFLICT_WINDOW = dt.timedelta(days=3)


def same_milestone(session: Session, finding_id: int, statuses: Sequence[str]) -> list[tuple[int, str, dt.datetime]]:
    """Other findings about the same milestone of the same measure (same measure and kind,
    another date) in these statuses: (id, source, when its notice was published, else seen)."""
    row = session.get(FindingRow, finding_id)
    if row is None or row.measure_id is None:
        return []
    query = (
        select(FindingRow.id, FindingRow.source, func.coalesce(ItemRow.published_at, FindingRow.created_at))
        .outerjoin(ItemRow, ItemRow.id == FindingRow.item_id)
        .where(FindingRow.measure_id == row.measure_id, FindingRow.event_kind == row.event_kind,
               FindingRow.event_date != row.event_date, FindingRow.id != row.id, FindingRow.status.in_(list(statuses)))
    )  # fmt: skip
    return [(i, src, _aware(when)) for i, src, when in session.execute(query)]


def finding_time(session: Session, finding_id: int) -> dt.datetime:
    """When the notice behind a finding was published (else when the finding was made)."""
    row = session.execute(
        select(func.coalesce(ItemRow.published_at, FindingRow.created_at))
        .select_from(FindingRow).outerjoin(ItemRow, ItemRow.id == FindingRow.item_id).where(FindingRow.id == finding_id)
    ).scalar_one()  # fmt: skip
    return _aware(row)


def _aware(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when


def settle_milestone(session: Session, finding_id: int, now: dt.datetime) -> list[tuple[int, str]]:
    """A new claim about a milestone against the proposals made before about it: an older one
    is superseded; one from another source within `CONFLICT_WINDOW` is a conflict (both then
    wait for a person: neither is applied automatically). Returns (id, status) changed."""
    row = session.get(FindingRow, finding_id)
    assert row is not None
    # One settlement per measure at a time (PostgreSQL: concurrent polls must see each other's
    # claims; the row lock makes the second wait for the first to commit).
    session.execute(select(MeasureRow.id).where(MeasureRow.id == row.measure_id).with_for_update())
    mine = finding_time(session, finding_id)
    changed: list[tuple[int, str]] = []
    newer = [other for other, _, when in same_milestone(session, finding_id, ("accepted", "applied")) if when > mine]
    if newer:  # a later notice about this milestone was applied already: this claim is outdated
        row.status, row.decided_by, row.decided_at = "superseded", f"finding:#{newer[0]}", now
        return [(finding_id, "superseded")]
    for other, source, when in same_milestone(session, finding_id, ("proposed", "conflict")):
        if source != row.source and abs(mine - when) <= CONFLICT_WINDOW:
            set_finding_status(session, other, "conflict", f"finding:#{finding_id}", now)
            row.status, row.decided_by = "conflict", f"finding:#{other}"
            changed += [(other, "conflict"), (finding_id, "conflict")]
        elif when <= mine:
            set_finding_status(session, other, "superseded", f"finding:#{finding_id}", now)
            changed.append((other, "superseded"))
        else:  # the other notice is the newer one: this claim is outdated on arrival
            row.status, row.decided_by, row.decided_at = "superseded", f"finding:#{other}", now
            changed.append((finding_id, "superseded"))
    return changed


def milestones_known_since(session: Session) -> dict[str, dt.date]:
    """Milestone uid → the day it entered the registry."""
    return {uid: _aware(when).date() for uid, when in session.execute(select(MilestoneRow.uid, MilestoneRow.created_at))}


def latest_findings_by_milestone(session: Session) -> dict[str, dt.date]:
    """Milestone uid → the date of the latest finding about it (any status but rejected)."""
    rows = session.execute(
        select(FindingRow.milestone_uid, func.max(FindingRow.created_at))
        .where(FindingRow.milestone_uid.is_not(None), FindingRow.status != "rejected")
        .group_by(FindingRow.milestone_uid)
    )  # fmt: skip
    return {uid: _aware(when).date() for uid, when in rows if uid}


def set_finding_status(session: Session, finding_id: int, status: str, actor: str, now: dt.datetime) -> None:
    row = session.get(FindingRow, finding_id)
    if row is None:
        raise KeyError(finding_id)
    row.status, row.decided_by, row.decided_at = status, actor, now


def upcoming_milestones(session: Session, start: dt.date, end: dt.date) -> list[tuple[Measure, Milestone]]:
    """Active milestones dated in [start, end] of measures not revoked or expired. Milestones held
    by a suspension (state `suspended`), moved or cancelled ones are not active."""
    rows = session.scalars(
        select(MilestoneRow).where(MilestoneRow.state == "active", MilestoneRow.date >= start, MilestoneRow.date <= end)
    )
    ids = sorted({r.measure_id for r in rows})
    out = []
    for measure in get_measures(session, ids):
        if measure.status in ("revoked", "expired"):
            continue
        out.extend((measure, m) for m in measure.milestones if m.state == "active" and start <= m.date <= end)
    return out
