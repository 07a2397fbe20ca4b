"""Every query watcher makes. Functions take a Session whose transaction the caller owns
(`with session.begin():`) and return plain values or `models` types, never ORM objects.

Work is claimed with conditional updates (`UPDATE … WHERE lease is free`) so that several
replicas on one PostgreSQL never take the same source or alert twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from watcher.db.tables import AlertRow, DeliveryAttempt, ItemRow, SourceState
from watcher.models import Alert, FetchResult, Item

# ---------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True)
class SourceHealth:
    name: str
    url: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    last_polled_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_error: str | None
    last_error_reason: str | None
    consecutive_failures: int
    next_due_at: dt.datetime
    items_total: int
    cursor: str | None = None
    failing_since: dt.datetime | None = None
    last_new_at: dt.datetime | None = None
    health_alert: str | None = None  # dedup key of the ops alert still open for this source


def _health(row: SourceState) -> SourceHealth:
    return SourceHealth(
        row.name, row.url, row.etag, row.last_modified, row.body_hash, row.last_polled_at,
        row.last_success_at, row.last_error, row.last_error_reason, row.consecutive_failures,
        row.next_due_at, row.items_total, row.cursor, row.failing_since, row.last_new_at, row.health_alert,
    )  # fmt: skip


def sync_sources(session: Session, sources: dict[str, str], now: dt.datetime) -> None:
    """Make sure every configured source (name → url) has a state row; a changed URL resets its
    validators so the new address is fetched in full. Rows of removed sources are kept (history)."""
    existing = {r.name: r for r in session.scalars(select(SourceState))}
    for name, url in sources.items():
        row = existing.get(name)
        if row is None:
            session.add(
                SourceState(
                    name=name, url=url, next_due_at=now, consecutive_failures=0, items_total=0
                )
            )
        elif row.url != url:
            row.url, row.etag, row.last_modified, row.body_hash, row.next_due_at = (
                url,
                None,
                None,
                None,
                now,
            )


def source_health(session: Session, names: Iterable[str] | None = None) -> dict[str, SourceHealth]:
    query = select(SourceState)
    if names is not None:
        query = query.where(SourceState.name.in_(list(names)))
    return {r.name: _health(r) for r in session.scalars(query)}


def claim_sources(
    session: Session,
    names: Sequence[str],
    owner: str,
    now: dt.datetime,
    lease: float,
    due_only: bool = True,
) -> list[str]:
    """Take a lease on each named source that is free (and due, unless `due_only` is False)."""
    claimed = []
    until = now + dt.timedelta(seconds=lease)
    conn, stmt = session.connection(), _claim_stmt(due_only)
    for name in names:
        res = conn.execute(stmt, {"_name": name, "_now": now, "_owner": owner, "_until": until})
        if res.rowcount == 1:
            claimed.append(name)
    return claimed


# The statements of the hot path (one per source and cycle) are built once: a Core statement
# built once keeps its cache key, and Core skips the ORM's per-execution bookkeeping.
_SOURCES = SourceState.__table__
_ITEMS = ItemRow.__table__
_STATEMENTS: dict[object, object] = {}


def _claim_stmt(due_only: bool):  # type: ignore[no-untyped-def]
    key = ("claim", due_only)
    if key not in _STATEMENTS:
        t, now = _SOURCES.c, bindparam("_now")
        cond = [t.name == bindparam("_name"), or_(t.lease_expires_at.is_(None), t.lease_expires_at <= now)]
        if due_only:
            cond.append(t.next_due_at <= now)
        _STATEMENTS[key] = (
            update(_SOURCES).where(*cond).values(lease_owner=bindparam("_owner"), lease_expires_at=bindparam("_until"))
        )
    return _STATEMENTS[key]


def due_source_names(
    session: Session, now: dt.datetime, names: Sequence[str], limit: int
) -> list[str]:
    query = (
        select(SourceState.name)
        .where(SourceState.name.in_(list(names)), SourceState.next_due_at <= now)
        .where(or_(SourceState.lease_expires_at.is_(None), SourceState.lease_expires_at <= now))
        .order_by(SourceState.next_due_at)
        .limit(limit)
        # PostgreSQL: rows another replica is claiming right now are skipped, not waited for
        # (claim_sources' conditional UPDATE stays the guard; SQLite renders no FOR UPDATE).
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def record_fetch_success(
    session: Session, name: str, owner: str, result: FetchResult | None, now: dt.datetime,
    next_due: dt.datetime, new_items: int = 0, cursor: str | None = None,
) -> None:  # fmt: skip
    """Reset the error counter, keep the validators (and the kind's `cursor`), release the lease."""
    values: dict[str, object] = dict(
        last_polled_at=now, last_success_at=now, consecutive_failures=0, last_error=None,
        last_error_reason=None, next_due_at=next_due, lease_owner=None, lease_expires_at=None,
        failing_since=None,
    )  # fmt: skip
    if new_items:
        values["last_new_at"] = now
    if cursor is not None:
        values["cursor"] = cursor
    if result is not None:
        values.update(etag=result.etag, last_modified=result.last_modified)
        if not result.not_modified:
            values["body_hash"] = result.body_hash
    key = ("success", *values)
    if key not in _STATEMENTS:
        t = _SOURCES.c
        owned = or_(t.lease_owner == bindparam("_owner"), t.lease_owner.is_(None))
        _STATEMENTS[key] = (
            update(_SOURCES).where(t.name == bindparam("_name"), owned)
            .values(items_total=t.items_total + bindparam("_new"), **{k: bindparam(k) for k in values})
        )  # fmt: skip
    session.connection().execute(_STATEMENTS[key], {**values, "_name": name, "_owner": owner, "_new": new_items})  # type: ignore[call-overload]


def record_fetch_failure(
    session: Session,
    name: str,
    owner: str,
    error: str,
    reason: str,
    now: dt.datetime,
    next_due: dt.datetime,
) -> None:
    session.execute(
        update(SourceState)
        .where(SourceState.name == name, _owned(owner))
        .values(
            last_polled_at=now,
            last_error=error,
            last_error_reason=reason,
            last_error_at=now,
            consecutive_failures=SourceState.consecutive_failures + 1,
            next_due_at=next_due,
            lease_owner=None,
            lease_expires_at=None,
        )  # fmt: skip
    )
    session.execute(  # the streak's first failure
        update(SourceState)
        .where(SourceState.name == name, SourceState.failing_since.is_(None))
        .values(failing_since=now)
    )


def set_health_alert(session: Session, name: str, dedup_key: str | None) -> None:
    """Remember (or clear) the ops alert open for a source, so that its recovery is told once."""
    session.execute(update(SourceState).where(SourceState.name == name).values(health_alert=dedup_key))


def _owned(owner: str):  # type: ignore[no-untyped-def]
    # A lease that expired and was taken by another replica is not ours to write any more.
    return or_(SourceState.lease_owner == owner, SourceState.lease_owner.is_(None))


def renew_leases(session: Session, owner: str, now: dt.datetime, lease: float) -> tuple[int, int]:
    """Push out the expiry of every source and alert `owner` holds (work still in progress).
    Returns how many sources and alerts."""
    until = now + dt.timedelta(seconds=lease)
    sources = session.execute(
        update(SourceState).where(SourceState.lease_owner == owner).values(lease_expires_at=until)
    )
    alerts = session.execute(
        update(AlertRow).where(AlertRow.claimed_by == owner, AlertRow.status == "pending").values(claimed_until=until)
    )
    return sources.rowcount or 0, alerts.rowcount or 0


def release_sources(session: Session, owner: str) -> None:
    session.execute(
        update(SourceState)
        .where(SourceState.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


# ---------------------------------------------------------------- items


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ItemChange:
    """An item that is new (`kind="new"`) or whose content changed (`kind="update"`)."""

    item: Item
    item_id: int
    kind: str
    previous_text: str | None = None  # an update's text before the change


def store_items(session: Session, items: Sequence[Item], now: dt.datetime) -> list[ItemChange]:
    """Insert new items, update changed ones, skip unchanged ones; return what changed (in the
    items' order). One SELECT of the stored hashes and one multi-row INSERT … RETURNING for the
    new ones: a cold feed of 30 entries costs two statements, not thirty round trips."""
    if not items:
        return []
    by_hash = {key_hash(i.key): i for i in items}  # a feed repeating a key: the last entry wins
    source = items[0].source
    stored = {
        kh: (item_id, content_hash)
        for item_id, kh, content_hash in session.connection().execute(
            _stored_stmt(), {"_source": source, "_keys": list(by_hash)}
        )
    }
    fresh = [kh for kh in by_hash if kh not in stored]
    ids = _insert_items(session, [(kh, by_hash[kh]) for kh in fresh], now) if fresh else {}
    changed = [kh for kh, (_, h) in stored.items() if h != by_hash[kh].content_hash]
    previous = _update_items(session, [(stored[kh][0], by_hash[kh]) for kh in changed], now) if changed else {}
    changes: list[ItemChange] = []
    for kh, item in by_hash.items():
        if kh in ids:
            changes.append(ItemChange(item, ids[kh], "new"))
        elif kh in previous:
            changes.append(ItemChange(item, stored[kh][0], "update", previous[kh]))
    return changes


def _insert_items(session: Session, rows: Sequence[tuple[str, Item]], now: dt.datetime) -> dict[str, int]:
    """key hash → id of the inserted rows (SQLAlchemy batches these into multi-row INSERTs)."""
    values = [
        dict(source=item.source, key=item.key, key_hash=kh, title=item.title, link=item.link,
             published_at=item.published, summary=item.summary, text=item.text,
             content_hash=item.content_hash, version=1, first_seen_at=now, updated_at=now)
        for kh, item in rows
    ]  # fmt: skip
    if "insert_items" not in _STATEMENTS:
        _STATEMENTS["insert_items"] = insert(_ITEMS).returning(_ITEMS.c.id, _ITEMS.c.key_hash)
    return {kh: item_id for item_id, kh in session.connection().execute(_STATEMENTS["insert_items"], values)}  # type: ignore[call-overload]


def _stored_stmt():  # type: ignore[no-untyped-def]
    """(id, key hash, content hash) of a source's items among the given key hashes."""
    if "stored" not in _STATEMENTS:
        t = _ITEMS.c
        _STATEMENTS["stored"] = select(t.id, t.key_hash, t.content_hash).where(
            t.source == bindparam("_source"), t.key_hash.in_(bindparam("_keys", expanding=True))
        )
    return _STATEMENTS["stored"]


def _update_items(session: Session, rows: Sequence[tuple[int, Item]], now: dt.datetime) -> dict[str, str]:
    """Amend changed items; key hash → the text each had before (to quote what is new)."""
    previous, by_id = {}, dict(rows)
    for row in session.scalars(select(ItemRow).where(ItemRow.id.in_(list(by_id)))):
        item = by_id[row.id]
        previous[row.key_hash] = f"{row.title}\n{row.summary}\n{row.text}"
        row.title, row.link, row.summary, row.text = item.title, item.link, item.summary, item.text
        row.published_at, row.content_hash, row.updated_at = item.published, item.content_hash, now
        row.version += 1
    session.flush()
    return previous


def known_item_keys(session: Session, source: str, keys: Sequence[str]) -> dict[str, str]:
    """Which of these item keys `source` has stored, with their content hash (key → hash)."""
    by_hash = {key_hash(k): k for k in keys}
    if not by_hash:
        return {}
    rows = session.connection().execute(_stored_stmt(), {"_source": source, "_keys": list(by_hash)})
    return {by_hash[kh]: content_hash for _, kh, content_hash in rows}


def count_items(session: Session, source: str | None = None) -> int:
    query = select(func.count()).select_from(ItemRow)
    if source:
        query = query.where(ItemRow.source == source)
    return int(session.scalar(query) or 0)


def delete_old_items(session: Session, before: dt.datetime) -> int:
    """Retention: items not updated since `before` and with no alert still waiting."""
    waiting = select(AlertRow.item_id).where(
        AlertRow.status == "pending", AlertRow.item_id.is_not(None)
    )
    res = session.execute(
        delete(ItemRow).where(ItemRow.updated_at < before, ItemRow.id.not_in(waiting))
    )
    return res.rowcount or 0


# ---------------------------------------------------------------- alerts (the outbox)


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


def enqueue(session: Session, alerts: Sequence[tuple[Alert, int | None]], now: dt.datetime) -> int:
    """Insert alerts (with their item id); an existing (dedup_key, channel) is left alone.
    Returns how many were new."""
    if not alerts:
        return 0
    rows = [
        dict(
            dedup_key=a.dedup_key,
            channel=a.channel,
            kind=a.kind,
            rule=a.rule,
            source=a.source,
            item_id=item_id,
            title=a.title,
            link=a.link,
            payload=_payload(a),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )  # fmt: skip
        for a, item_id in alerts
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(AlertRow).on_conflict_do_nothing(index_elements=["dedup_key", "channel"]).returning(AlertRow.id)
    # One by one with RETURNING: rowcount of an ON CONFLICT insert is not portable (psycopg gives -1).
    return sum(1 for row in rows if session.execute(stmt.values(**row)).first() is not None)


def _payload(a: Alert) -> dict[str, object]:
    return {
        "phrases": list(a.phrases),
        "sentence": a.sentence,
        "published": a.published.isoformat() if a.published else None,
        "extra": dict(a.extra),
    }


def _alert(row: AlertRow) -> StoredAlert:
    p = row.payload or {}
    published = dt.datetime.fromisoformat(p["published"]) if p.get("published") else None
    alert = Alert(
        dedup_key=row.dedup_key, channel=row.channel, kind=row.kind, rule=row.rule, source=row.source,
        title=row.title, link=row.link, phrases=tuple(p.get("phrases", ())), sentence=p.get("sentence", ""),
        published=published, extra=dict(p.get("extra") or {}),
    )  # fmt: skip
    return StoredAlert(
        row.id,
        alert,
        row.status,
        row.attempts,
        row.next_attempt_at,
        row.last_error,
        row.created_at,
        row.sent_at,
    )


def claim_alerts(
    session: Session, owner: str, now: dt.datetime, lease: float, limit: int = 100,
    ids: Sequence[int] | None = None, ignore_backoff: bool = False,
) -> list[StoredAlert]:  # fmt: skip
    """Lease pending alerts that are due (or all pending ones, or the given ids) for sending."""
    free = or_(AlertRow.claimed_until.is_(None), AlertRow.claimed_until <= now)
    query = select(AlertRow.id).where(free, AlertRow.status == "pending")
    if ids is not None:
        query = query.where(AlertRow.id.in_(list(ids)))
    elif not ignore_backoff:
        query = query.where(AlertRow.next_attempt_at <= now)
    query = query.order_by(AlertRow.next_attempt_at, AlertRow.id).limit(limit)
    candidates = list(session.scalars(query.with_for_update(skip_locked=True)))  # as due_source_names
    until = now + dt.timedelta(seconds=lease)
    claimed = []
    for alert_id in candidates:
        res = session.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id, free)
            .values(claimed_by=owner, claimed_until=until)
        )
        if res.rowcount == 1:
            claimed.append(alert_id)
    rows = session.scalars(select(AlertRow).where(AlertRow.id.in_(claimed)).order_by(AlertRow.id))
    return [_alert(r) for r in rows]


def record_attempt(
    session: Session, alert_id: int, owner: str, now: dt.datetime, error: str | None, duration: float,
    next_attempt_at: dt.datetime | None, dead: bool,
) -> None:  # fmt: skip
    """Record one send attempt and move the alert to sent, back to pending (retry) or dead."""
    session.add(DeliveryAttempt(alert_id=alert_id, attempted_at=now, ok=error is None, error=error,
                                duration=duration, worker=owner))  # fmt: skip
    values: dict[str, object] = dict(
        attempts=AlertRow.attempts + 1, claimed_by=None, claimed_until=None
    )
    if error is None:
        values.update(status="sent", sent_at=now, last_error=None)
    elif dead:
        values.update(status="dead", last_error=error)
    else:
        values.update(status="pending", last_error=error, next_attempt_at=next_attempt_at or now)
    session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**values))


def requeue_alerts(session: Session, ids: Sequence[int] | None, now: dt.datetime) -> int:
    """Make dead (and pending) alerts due now: `watcher alerts retry`. Sent ones are left alone."""
    query = update(AlertRow).where(AlertRow.status.in_(["pending", "dead"]))
    if ids is not None:
        query = query.where(AlertRow.id.in_(list(ids)))
    return session.execute(query.values(status="pending", next_attempt_at=now)).rowcount or 0


def list_alerts(session: Session, status: str | None = None, limit: int = 200) -> list[StoredAlert]:
    query = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
    if status:
        query = query.where(AlertRow.status == status)
    return [_alert(r) for r in session.scalars(query)]


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


def release_alerts(session: Session, owner: str) -> None:
    session.execute(
        update(AlertRow)
        .where(AlertRow.claimed_by == owner)
        .values(claimed_by=None, claimed_until=None)
    )


def delete_old_attempts(session: Session, before: dt.datetime) -> int:
    sent = select(AlertRow.id).where(AlertRow.status == "sent")
    res = session.execute(
        delete(DeliveryAttempt).where(
            and_(DeliveryAttempt.attempted_at < before, DeliveryAttempt.alert_id.in_(sent))
        )
    )
    return res.rowcount or 0


def oldest_pending_alert(session: Session) -> dt.datetime | None:
    """When the oldest alert still waiting to be sent was enqueued (metrics: outbox age)."""
    return session.scalar(select(func.min(AlertRow.created_at)).where(AlertRow.status == "pending"))
