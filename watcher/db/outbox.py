"""The outbox: alerts (one message per item version and channel) and their deliveries (one per
target URL of the channel). Functions take a Session whose transaction the caller owns.

A delivery is claimed with a lease before its send and recorded after it, so a retry (automatic
or `watcher alerts retry`) sends only the deliveries that have not succeeded, and a delivery whose
holder died mid-send is sent again when its lease runs out (never lost; `reclaims` counts how
often that happened, each a possible duplicate at that one target).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from watcher.db.tables import AlertRow, DeliveryAttempt, DeliveryRow
from watcher.models import Alert, Change, RuleHit, Status
from watcher.text import zone_name

# A channel's targets as the outbox needs them: (stable key, redacted label) per URL.
Targets = Mapping[str, Sequence[tuple[str, str]]]
LEGACY = ""  # the target of a delivery carried over from before per-target deliveries
_A, _D = AlertRow.__table__, DeliveryRow.__table__


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    id: int
    alert_id: int
    target: str
    label: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    sent_at: dt.datetime | None
    reclaims: int = 0


@dataclass(frozen=True, slots=True)
class StoredAlert:
    id: int
    alert: Alert
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    created_at: dt.datetime
    sent_at: dt.datetime | None
    deliveries: tuple[StoredDelivery, ...] = ()


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery leased for sending, with its alert."""

    delivery: StoredDelivery
    alert: Alert
    alert_id: int
    dedup_key: str

    def stable_id(self) -> str:
        """The delivery's id for the receiver: the same for every attempt, and for the same
        notice, channel and target even in another database, so a receiver can drop a repeat."""
        raw = f"{self.dedup_key}\x00{self.alert.channel}\x00{self.delivery.target}"
        return "watcher-" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


# ---------------------------------------------------------------- enqueue


def enqueue(
    session: Session, alerts: Sequence[tuple[Alert, int | None]], targets: Targets, now: dt.datetime
) -> int:
    """Insert alerts (with their item id) and one delivery per target of each one's channel; an
    existing (dedup_key, channel) is left alone. Returns how many alerts were new.

    Two statements whatever the number of alerts: one multi-row INSERT … ON CONFLICT DO NOTHING
    RETURNING (only the new rows come back, mapped by their unique key: rowcount of an ON CONFLICT
    insert is not portable, psycopg gives -1) and one for all their deliveries."""
    if not alerts:
        return 0
    dialect = session.get_bind().dialect.name
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = AlertRow.__table__
    stmt = make(table).on_conflict_do_nothing(index_elements=["dedup_key", "channel"])
    stmt = stmt.returning(table.c.id, table.c.dedup_key, table.c.channel)
    values = [_alert_values(alert, item_id, now) for alert, item_id in alerts]
    ids = {(key, channel): alert_id for alert_id, key, channel in session.connection().execute(stmt, values)}
    deliveries: list[dict[str, object]] = []
    new = 0
    for alert, _ in alerts:  # in order: a key repeated in the batch was inserted once
        alert_id = ids.pop((alert.dedup_key, alert.channel), None)
        if alert_id is None:
            continue
        new += 1
        for key, label in targets.get(alert.channel) or ((LEGACY, ""),):
            deliveries.append(dict(alert_id=alert_id, target=key, label=label, status=Status.pending, attempts=0,
                                   next_attempt_at=now, reclaims=0, created_at=now))  # fmt: skip
    if deliveries:
        session.connection().execute(insert(DeliveryRow.__table__), deliveries)
    return new


def _alert_values(a: Alert, item_id: int | None, now: dt.datetime) -> dict[str, object]:
    return dict(
        dedup_key=a.dedup_key, channel=a.channel, kind=str(a.kind), rule=a.rule[:200], source=a.source,
        item_id=item_id, title=a.title, link=a.link, payload=payload(a), status=Status.pending, attempts=0,
        next_attempt_at=now, created_at=now,
    )  # fmt: skip


def payload(a: Alert) -> dict[str, object]:
    """The parts of an alert that have no column of their own, as JSON."""
    return {
        "rules": [{"rule": r.rule, "matched": list(r.matched), "sentence": r.sentence} for r in a.rules],
        "changes": [_change_json(c) for c in a.changes],
        "sentence": a.sentence,
        "published": a.published.isoformat() if a.published else None,
        "published_tz": zone_name(a.published),  # the offset alone would lose the zone's name
        "extra": dict(a.extra),
        "origin": a.origin,
    }


def _change_json(c: Change) -> dict[str, object]:
    return {
        "finding_id": c.finding_id, "kind": c.kind, "measure_id": c.measure_id, "measure": c.measure,
        "new_kind": c.new_kind, "new_date": c.new_date.isoformat(), "old_kind": c.old_kind,
        "old_date": c.old_date.isoformat() if c.old_date else None, "evidence": c.evidence, "applied": c.applied, "note": c.note,
    }  # fmt: skip


def _change(d: Mapping[str, object]) -> Change:
    old = d.get("old_date")
    return Change(
        finding_id=int(d["finding_id"]), kind=str(d["kind"]), measure_id=d.get("measure_id"),  # type: ignore[arg-type]
        measure=str(d.get("measure") or ""), new_kind=str(d["new_kind"]),
        new_date=dt.date.fromisoformat(str(d["new_date"])), old_kind=d.get("old_kind"),  # type: ignore[arg-type]
        old_date=dt.date.fromisoformat(str(old)) if old else None, evidence=str(d.get("evidence") or ""),
        applied=bool(d.get("applied")), note=str(d.get("note") or ""),
    )  # fmt: skip


def _alert(row: AlertRow) -> Alert:
    p = row.payload or {}
    published = dt.datetime.fromisoformat(p["published"]) if p.get("published") else None
    if published is not None and p.get("published_tz"):
        try:
            published = published.astimezone(ZoneInfo(p["published_tz"]))
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a zone this machine does not know: the stored offset stands
    rules = tuple(RuleHit(r["rule"], tuple(r.get("matched") or ()), r.get("sentence", "")) for r in p.get("rules", ()))
    if not rules and p.get("phrases") and row.rule:  # an alert of before revision 0004: one rule
        rules = (RuleHit(row.rule, tuple(p["phrases"]), p.get("sentence", "")),)
    return Alert(
        dedup_key=row.dedup_key, channel=row.channel, kind=row.kind, source=row.source, title=row.title,
        link=row.link, rules=rules, changes=tuple(_change(c) for c in p.get("changes", ())),
        sentence=p.get("sentence", ""), published=published, extra=dict(p.get("extra") or {}),
        origin=p.get("origin") or ("" if rules else row.rule),
    )  # fmt: skip


def _delivery(row: DeliveryRow) -> StoredDelivery:
    return StoredDelivery(row.id, row.alert_id, row.target, row.label, row.status, row.attempts,
                          row.next_attempt_at, row.last_error, row.sent_at, row.reclaims)  # fmt: skip


def retarget(session: Session, claimed: Claimed, current: Sequence[tuple[str, str]]) -> str | None:
    """A delivery whose target is no longer among its channel's (the URL was replaced in the
    config, e.g. a rotated webhook): move it to a target of the channel that this alert has no
    delivery for yet (and add one for each further such target). Returns the key to send to
    now, or None when every current target has its delivery already (the URL was removed)."""
    have = set(session.scalars(select(DeliveryRow.target).where(DeliveryRow.alert_id == claimed.alert_id)))
    missing = [(key, label) for key, label in current if key not in have]
    if not missing:
        return None
    (key, label), *more = missing
    session.execute(update(DeliveryRow).where(DeliveryRow.id == claimed.delivery.id).values(target=key, label=label))
    now = claimed.delivery.next_attempt_at
    for extra_key, extra_label in more:
        session.add(DeliveryRow(alert_id=claimed.alert_id, target=extra_key, label=extra_label, status=Status.pending,
                                attempts=0, next_attempt_at=now, reclaims=0, created_at=now))  # fmt: skip
    return key


def has_legacy_deliveries(session: Session) -> bool:
    return session.scalar(select(DeliveryRow.id).where(DeliveryRow.target == LEGACY).limit(1)) is not None


def expand_legacy_deliveries(session: Session, targets: Targets) -> int:
    """Turn each delivery carried over from before revision 0004 (target '') into one per
    target of its channel, keeping state, attempts, back-off and error. A channel no longer
    configured keeps its legacy delivery (sending it then fails with that reason)."""
    rows = session.execute(
        select(DeliveryRow, AlertRow.channel).join(AlertRow, AlertRow.id == DeliveryRow.alert_id)
        .where(DeliveryRow.target == LEGACY)
    ).all()  # fmt: skip
    expanded = 0
    for row, channel in rows:
        if not targets.get(channel):
            continue
        for key, label in targets[channel]:
            session.add(DeliveryRow(alert_id=row.alert_id, target=key, label=label, status=row.status,
                                    attempts=row.attempts, next_attempt_at=row.next_attempt_at,
                                    last_error=row.last_error, reclaims=0, created_at=row.created_at))  # fmt: skip
        session.delete(row)
        expanded += 1
    session.flush()
    return expanded


# ---------------------------------------------------------------- claim, send, record


def claim_deliveries(
    session: Session, owner: str, now: dt.datetime, lease: float, limit: int = 100,
    alert_ids: Sequence[int] | None = None, ignore_backoff: bool = False,
) -> list[Claimed]:  # fmt: skip
    """Lease pending deliveries that are due (or all pending ones, or those of the given alerts),
    oldest first. A lease that ran out without a record (its holder died mid-send) is taken
    over and counted in `reclaims`."""
    free = or_(DeliveryRow.claimed_until.is_(None), DeliveryRow.claimed_until <= now)
    query = select(DeliveryRow.id, DeliveryRow.claimed_by).where(free, DeliveryRow.status == Status.pending)
    if alert_ids is not None:
        query = query.where(DeliveryRow.alert_id.in_(list(alert_ids)))
    elif not ignore_backoff:
        query = query.where(DeliveryRow.next_attempt_at <= now)
    query = query.order_by(DeliveryRow.next_attempt_at, DeliveryRow.id).limit(limit)
    candidates = session.execute(query.with_for_update(skip_locked=True)).all()  # as due_source_names
    if not candidates:
        return []
    # One UPDATE for all of them; `free` again, in case another claimer took one meanwhile
    # (SQLite has no row locks). A lease that ran out without a record counts as a reclaim.
    until = now + dt.timedelta(seconds=lease)
    reclaim = case((DeliveryRow.claimed_by.is_not(None), DeliveryRow.reclaims + 1), else_=DeliveryRow.reclaims)
    taken = session.execute(
        update(DeliveryRow).where(DeliveryRow.id.in_([c[0] for c in candidates]), free)
        .values(claimed_by=owner, claimed_until=until, reclaims=reclaim)
        .returning(DeliveryRow.id).execution_options(synchronize_session=False)
    ).all()  # fmt: skip
    claimed = [row[0] for row in taken]
    if not claimed:
        return []
    rows = session.execute(
        select(DeliveryRow, AlertRow).join(AlertRow, AlertRow.id == DeliveryRow.alert_id)
        .where(DeliveryRow.id.in_(claimed)).order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
        .execution_options(populate_existing=True)  # rows of this session may predate a Core update
    ).all()  # fmt: skip
    return [Claimed(_delivery(d), _alert(a), a.id, a.dedup_key) for d, a in rows]


@dataclass(frozen=True, slots=True)
class Record:
    """The outcome of one send attempt of a claimed delivery, as `record_deliveries` stores it."""

    claimed: Claimed
    now: dt.datetime
    error: str | None
    duration: float
    next_attempt_at: dt.datetime | None
    dead: bool


def record_delivery(
    session: Session, claimed: Claimed, owner: str, now: dt.datetime, error: str | None, duration: float,
    next_attempt_at: dt.datetime | None, dead: bool,
) -> str:  # fmt: skip
    """Record one send attempt of a delivery: sent, back to pending (retry) or dead; then sum
    up its alert's state. Returns the alert's state."""
    return record_deliveries(session, [Record(claimed, now, error, duration, next_attempt_at, dead)], owner)[0]


def record_deliveries(session: Session, records: Sequence[Record], owner: str) -> list[str]:
    """`record_delivery` for each record, in order, in the caller's one transaction (Core
    statements: the ORM's unit of work cost more than the statements). Returns each record's
    alert state after it."""
    if not records:
        return []
    conn = session.connection()
    conn.execute(insert(DeliveryAttempt.__table__), [
        dict(alert_id=r.claimed.delivery.alert_id, delivery_id=r.claimed.delivery.id, attempted_at=r.now,
             ok=r.error is None, error=r.error, duration=r.duration, worker=owner) for r in records
    ])  # fmt: skip
    states = []
    for r in records:
        outcome = Status.sent if r.error is None else Status.dead if r.dead else "retry"
        conn.execute(_record_stmt(outcome), dict(b_id=r.claimed.delivery.id, b_now=r.now, b_error=r.error,
                                                 b_next=r.next_attempt_at or r.now))  # fmt: skip
        states.append(_sum_up(conn, r.claimed.delivery.alert_id, r.now, r.error))
    return states


# Statements of the record path, built once (building and caching-keying one per record cost
# more than running it); `b_*` are their parameters.
_STATEMENTS: dict[object, Any] = {}


def _record_stmt(outcome: str) -> Any:
    if outcome not in _STATEMENTS:
        values: dict[str, object] = dict(attempts=_D.c.attempts + 1, claimed_by=None, claimed_until=None)
        if outcome == Status.sent:
            values.update(status=Status.sent, sent_at=bindparam("b_now"), last_error=None)
        elif outcome == Status.dead:
            values.update(status=Status.dead, last_error=bindparam("b_error"))
        else:
            values.update(status=Status.pending, last_error=bindparam("b_error"), next_attempt_at=bindparam("b_next"))
        _STATEMENTS[outcome] = update(_D).where(_D.c.id == bindparam("b_id")).values(**values)
    return _STATEMENTS[outcome]


def _sum_up(conn: Connection, alert_id: int, now: dt.datetime, error: str | None) -> str:
    if "states" not in _STATEMENTS:
        _STATEMENTS["states"] = select(_D.c.status, _D.c.next_attempt_at).where(_D.c.alert_id == bindparam("b_alert"))
    rows = conn.execute(_STATEMENTS["states"], {"b_alert": alert_id}).all()
    states = {s for s, _ in rows}
    status = Status.pending if Status.pending in states else Status.dead if Status.dead in states else Status.sent
    pending_next = [n for s, n in rows if s == Status.pending]
    shape = (bool(pending_next), "error" if error is not None else Status.sent if status == Status.sent else "")
    if shape not in _STATEMENTS:
        values: dict[str, object] = dict(status=bindparam("b_status"), attempts=_A.c.attempts + 1)
        if shape[0]:
            values["next_attempt_at"] = bindparam("b_next")
        if shape[1] == "error":
            values["last_error"] = bindparam("b_error")
        elif shape[1] == Status.sent:
            values.update(sent_at=bindparam("b_now"), last_error=None)
        _STATEMENTS[shape] = update(_A).where(_A.c.id == bindparam("b_alert")).values(**values)
    conn.execute(_STATEMENTS[shape], dict(b_alert=alert_id, b_status=status, b_next=min(pending_next, default=now),
                                          b_error=error, b_now=now))  # fmt: skip
    return status


def requeue_alerts(session: Session, ids: Sequence[int] | None, now: dt.datetime) -> int:
    """Make the unsent deliveries of dead and pending alerts due now (`watcher alerts retry`).
    Deliveries that succeeded are never sent again. Returns how many alerts."""
    alerts = update(AlertRow).where(AlertRow.status.in_([Status.pending, Status.dead]))
    deliveries = update(DeliveryRow).where(DeliveryRow.status.in_([Status.pending, Status.dead]))
    if ids is not None:
        alerts = alerts.where(AlertRow.id.in_(list(ids)))
        deliveries = deliveries.where(DeliveryRow.alert_id.in_(list(ids)))
    session.execute(deliveries.values(status=Status.pending, next_attempt_at=now))
    return session.execute(alerts.values(status=Status.pending, next_attempt_at=now)).rowcount or 0


# ---------------------------------------------------------------- reading, leases, retention


def list_alerts(session: Session, status: str | None = None, limit: int = 200) -> list[StoredAlert]:
    """Newest first, each with its deliveries."""
    query = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
    if status:
        query = query.where(AlertRow.status == status)
    rows = list(session.scalars(query.execution_options(populate_existing=True)))
    by_alert: dict[int, list[StoredDelivery]] = {r.id: [] for r in rows}
    if rows:
        deliveries = select(DeliveryRow).where(DeliveryRow.alert_id.in_(list(by_alert))).order_by(DeliveryRow.id)
        for d in session.scalars(deliveries.execution_options(populate_existing=True)):
            by_alert[d.alert_id].append(_delivery(d))
    return [
        StoredAlert(r.id, _alert(r), r.status, r.attempts, r.next_attempt_at, r.last_error, r.created_at,
                    r.sent_at, tuple(by_alert[r.id]))  # fmt: skip
        for r in rows
    ]


def alert_attempts(session: Session, alert_id: int) -> list[tuple[dt.datetime, bool, str | None]]:
    rows = session.execute(
        select(DeliveryAttempt.attempted_at, DeliveryAttempt.ok, DeliveryAttempt.error)
        .where(DeliveryAttempt.alert_id == alert_id)
        .order_by(DeliveryAttempt.id)
    )
    return [(r[0], r[1], r[2]) for r in rows]


def count_alerts(session: Session) -> dict[str, int]:
    rows = session.execute(select(AlertRow.status, func.count()).group_by(AlertRow.status))
    return {status: int(n) for status, n in rows}


def count_reclaims(session: Session) -> int:
    """Sends taken over from a holder that died before recording them: possible duplicates."""
    return int(session.scalar(select(func.coalesce(func.sum(DeliveryRow.reclaims), 0))) or 0)


def renew_claims(session: Session, owner: str, until: dt.datetime, ids: Collection[int] | None = None) -> int:
    """Push out the leases of `owner`'s claims (all, or the given deliveries: those still held)."""
    query = update(DeliveryRow).where(DeliveryRow.claimed_by == owner, DeliveryRow.status == Status.pending)
    if ids is not None:
        query = query.where(DeliveryRow.id.in_(list(ids)))
    return session.execute(query.values(claimed_until=until)).rowcount or 0


def release_claims(session: Session, owner: str, keep: Collection[int] = ()) -> None:
    """Give back unsent claims (shutdown): nothing was sent for them, so no reclaim is counted.
    `keep`: deliveries whose send is under way or unrecorded; their leases run out instead, and
    whoever takes them over counts a reclaim (the target may have the message already)."""
    query = update(DeliveryRow).where(DeliveryRow.claimed_by == owner)
    if keep:
        query = query.where(DeliveryRow.id.not_in(list(keep)))
    session.execute(query.values(claimed_by=None, claimed_until=None))


def delete_old_attempts(session: Session, before: dt.datetime) -> int:
    sent = select(AlertRow.id).where(AlertRow.status == Status.sent)
    res = session.execute(
        delete(DeliveryAttempt).where(
            and_(DeliveryAttempt.attempted_at < before, DeliveryAttempt.alert_id.in_(sent))
        )
    )
    return res.rowcount or 0


def oldest_pending_alert(session: Session) -> dt.datetime | None:
    """When the oldest alert still waiting to be sent was enqueued (metrics: outbox age)."""
    return session.scalar(select(func.min(AlertRow.created_at)).where(AlertRow.status == Status.pending))
