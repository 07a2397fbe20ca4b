"""Every query watcher makes. Functions take a Session whose transaction the caller owns
(`with session.begin():`) and return plain values or `models` types, never ORM objects.

Work is claimed with conditional updates (`UPDATE … WHERE lease is free`) so that several
replicas on one PostgreSQL never take the same source or alert twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from watcher.db import outbox
from watcher.db.tables import AlertRow, ItemRow, SourceState
from watcher.models import Changed, FetchResult, Item

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
    validators so the new address is fetched in full. Rows of removed sources are kept (history).
    Replicas starting together may insert the same rows: an existing one is left alone."""
    existing = {r.name: r for r in session.scalars(select(SourceState))}
    fresh = [dict(name=name, url=url, next_due_at=now, consecutive_failures=0, items_total=0)
             for name, url in sources.items() if name not in existing]  # fmt: skip
    if fresh:
        make = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(make(SourceState).on_conflict_do_nothing(index_elements=["name"]), fresh)
    for name, url in sources.items():
        row = existing.get(name)
        if row is not None and row.url != url:
            row.url, row.etag, row.last_modified, row.body_hash, row.next_due_at = url, None, None, None, now


def source_state(session: Session, name: str) -> SourceHealth | None:
    return source_health(session, [name]).get(name)


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


def claim_due_sources(session: Session, names: Sequence[str], owner: str, now: dt.datetime, lease: float) -> list[str]:
    """The service's tick: lease the due sources among `names` (at most 500 at a time)."""
    return claim_sources(session, due_source_names(session, now, names, limit=500), owner, now, lease)


def claim_for_poll(
    session: Session, names: Sequence[str], owner: str, now: dt.datetime, lease: float
) -> dict[str, SourceHealth | None]:
    """`poll --once`: lease the named sources that are free, due or not, with their state (one query)."""
    claimed = claim_sources(session, names, owner, now, lease, due_only=False)
    states = source_health(session, claimed)
    return {name: states.get(name) for name in claimed}


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


def renew_leases(
    session: Session, owner: str, now: dt.datetime, lease: float, sources: Collection[str] | None = None,
    deliveries: Collection[int] | None = None,
) -> tuple[int, int]:  # fmt: skip
    """Push out the expiry of the sources and deliveries `owner` holds (all, or those named: the
    ones still being polled or sent), work still in progress. A lease left behind by a poll that could not
    record its end is not renewed: it runs out and the source is polled again.
    Returns how many sources and deliveries."""
    until = now + dt.timedelta(seconds=lease)
    query = update(SourceState).where(SourceState.lease_owner == owner)
    if sources is not None:
        query = query.where(SourceState.name.in_(list(sources)))
    renewed = session.execute(query.values(lease_expires_at=until)).rowcount or 0
    return renewed, outbox.renew_claims(session, owner, until, deliveries)


def release_sources(session: Session, owner: str, names: Collection[str] | None = None) -> None:
    query = update(SourceState).where(SourceState.lease_owner == owner)
    if names is not None:
        query = query.where(SourceState.name.in_(list(names)))
    session.execute(query.values(lease_owner=None, lease_expires_at=None))


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


def changed_items(session: Session, source: str, items: Sequence[Item]) -> list[Changed]:
    """Which of a poll's items are new or changed, in their order (a key repeated in a feed: the
    last entry), with an update's previous text to quote what changed. One SELECT of the stored
    hashes, one more of the previous texts only when something was amended."""
    by_hash = {key_hash(i.key): i for i in items}
    if not by_hash:
        return []
    rows = session.connection().execute(_stored_stmt(), {"_source": source, "_keys": list(by_hash)})
    stored = {kh: (item_id, content_hash) for item_id, kh, content_hash in rows}
    amended = {stored[kh][0]: kh for kh, i in by_hash.items() if kh in stored and stored[kh][1] != i.content_hash}
    previous: dict[str, str] = {}
    if amended:
        texts = select(ItemRow.id, ItemRow.title, ItemRow.summary, ItemRow.text).where(ItemRow.id.in_(list(amended)))
        previous = {amended[r[0]]: f"{r[1]}\n{r[2]}\n{r[3]}" for r in session.execute(texts)}
    out = []
    for kh, item in by_hash.items():
        if kh not in stored:
            out.append(Changed(item, "new"))
        elif kh in previous:
            out.append(Changed(item, "update", previous[kh]))
    return out


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
