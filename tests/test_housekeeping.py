"""Retention: old items and old delivery attempts go; what an alert still needs stays."""

from __future__ import annotations

import datetime as dt

from watcher.db import repo
from watcher.db.engine import make_engine, sessions, upgrade
from watcher.models import Alert, Item

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def item(n: int) -> Item:
    return Item(source="s", key=f"k{n}", title=f"t{n}", link="", published=None, summary="", text="",
                content_hash=f"h{n}")  # fmt: skip


def alert(n: int) -> Alert:
    return Alert(dedup_key=f"d{n}", channel="c", kind="new", rule="r", source="s", title="t", link="")


def test_retention_deletes_old_items_but_keeps_those_with_a_pending_alert(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    maker = sessions(engine)
    with maker() as session, session.begin():
        changes = repo.store_items(session, [item(1), item(2)], T0)
        repo.store_items(session, [item(3)], T0 + dt.timedelta(days=200))
        assert repo.enqueue(session, [(alert(2), changes[1].item_id)], T0) == 1
        assert repo.enqueue(session, [(alert(2), changes[1].item_id)], T0) == 0  # idempotent
    with maker() as session, session.begin():
        deleted = repo.delete_old_items(session, T0 + dt.timedelta(days=100))
    with maker() as session:
        assert deleted == 1  # item 1; item 2 waits for its alert, item 3 is recent
        assert repo.count_items(session) == 2
    engine.dispose()


def test_old_attempts_of_sent_alerts_are_deleted_and_the_rest_kept(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    maker = sessions(engine)
    with maker() as session, session.begin():
        repo.enqueue(session, [(alert(1), None), (alert(2), None)], T0)
        [a1, a2] = sorted(repo.claim_alerts(session, "w", T0, 60), key=lambda a: a.id)
        repo.record_attempt(session, a1.id, "w", T0, None, 0.1, None, dead=False)
        repo.record_attempt(session, a2.id, "w", T0, "down", 0.1, T0 + dt.timedelta(minutes=1), dead=False)
    with maker() as session, session.begin():
        assert repo.delete_old_attempts(session, T0 + dt.timedelta(days=1)) == 1
    with maker() as session:
        assert repo.alert_attempts(session, a1.id) == []
        assert len(repo.alert_attempts(session, a2.id)) == 1
    engine.dispose()


def test_a_claimed_alert_is_not_claimed_again_until_its_lease_expires(db_url):
    engine = make_engine(db_url)
    upgrade(engine)
    maker = sessions(engine)
    with maker() as session, session.begin():
        repo.enqueue(session, [(alert(1), None)], T0)
        assert len(repo.claim_alerts(session, "a", T0, 60)) == 1
    with maker() as session, session.begin():
        assert repo.claim_alerts(session, "b", T0 + dt.timedelta(seconds=30), 60) == []
    with maker() as session, session.begin():
        assert [a.alert.dedup_key for a in repo.claim_alerts(session, "b", T0 + dt.timedelta(seconds=61), 60)] == ["d1"]
    engine.dispose()
