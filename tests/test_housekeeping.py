"""The outbox on both databases: per-target deliveries, leases, retries, retention."""

from __future__ import annotations

import datetime as dt

from watcher.db import outbox, repo
from watcher.db.engine import make_engine, sessions, upgrade
from watcher.models import Alert, Item

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TWO = {"c": [("mail", "mailto://example.com"), ("hook", "json://example.org/…")]}


def item(n: int) -> Item:
    return Item(source="s", key=f"k{n}", title=f"t{n}", link="", published=None, summary="", text="",
                content_hash=f"h{n}")  # fmt: skip


def alert(n: int) -> Alert:
    return Alert(dedup_key=f"d{n}", channel="c", kind="new", source="s", title="t", link="", origin="r")


def maker_for(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    upgrade(engine)
    return engine, sessions(engine)


def test_retention_deletes_old_items_but_keeps_those_with_a_pending_alert(db_url):
    engine, maker = maker_for(db_url)
    with maker() as session, session.begin():
        changes = repo.store_items(session, [item(1), item(2)], T0)
        repo.store_items(session, [item(3)], T0 + dt.timedelta(days=200))
        assert outbox.enqueue(session, [(alert(2), changes[1].item_id)], TWO, T0) == 1
        assert outbox.enqueue(session, [(alert(2), changes[1].item_id)], TWO, T0) == 0  # idempotent
    with maker() as session, session.begin():
        deleted = repo.delete_old_items(session, T0 + dt.timedelta(days=100))
    with maker() as session:
        assert deleted == 1  # item 1; item 2 waits for its alert, item 3 is recent
        assert repo.count_items(session) == 2
    engine.dispose()


def test_an_alert_fans_out_to_one_delivery_per_target_and_a_retry_sends_only_the_failed_one(db_url):
    engine, maker = maker_for(db_url)
    with maker() as session, session.begin():
        outbox.enqueue(session, [(alert(1), None)], TWO, T0)
        claimed = outbox.claim_deliveries(session, "w", T0, 60)
        assert sorted(c.delivery.target for c in claimed) == ["hook", "mail"]
        mail, hook = sorted(claimed, key=lambda c: c.delivery.target != "mail")
        assert outbox.record_delivery(session, mail, "w", T0, None, 0.1, None, dead=False) == "pending"
        later = T0 + dt.timedelta(minutes=1)
        assert outbox.record_delivery(session, hook, "w", T0, "500", 0.1, later, dead=False) == "pending"
    with maker() as session, session.begin():
        assert outbox.claim_deliveries(session, "w", T0 + dt.timedelta(seconds=30), 60) == []  # backing off
        again = outbox.claim_deliveries(session, "w", later, 60)
        assert [c.delivery.target for c in again] == ["hook"]  # never the one that got it
        assert outbox.record_delivery(session, again[0], "w", later, None, 0.1, None, dead=False) == "sent"
    with maker() as session, session.begin():
        assert outbox.requeue_alerts(session, None, later) == 0  # sent: `alerts retry --all` leaves it
        assert outbox.claim_deliveries(session, "w", later, 60, ignore_backoff=True) == []
        [stored] = outbox.list_alerts(session)
    assert stored.status == "sent" and [d.status for d in stored.deliveries] == ["sent", "sent"]
    assert [d.attempts for d in stored.deliveries] == [1, 2]
    engine.dispose()


def test_a_dead_delivery_is_retried_alone_and_the_alert_is_dead_until_then(db_url):
    engine, maker = maker_for(db_url)
    with maker() as session, session.begin():
        outbox.enqueue(session, [(alert(1), None)], TWO, T0)
        for c in outbox.claim_deliveries(session, "w", T0, 60):
            error = None if c.delivery.target == "mail" else "gone"
            outbox.record_delivery(session, c, "w", T0, error, 0.1, None, dead=error is not None)
        [stored] = outbox.list_alerts(session)
        assert stored.status == "dead"
        assert outbox.requeue_alerts(session, [stored.id], T0) == 1
        assert [c.delivery.target for c in outbox.claim_deliveries(session, "w", T0, 60)] == ["hook"]
    engine.dispose()


def test_old_attempts_of_sent_alerts_are_deleted_and_the_rest_kept(db_url):
    engine, maker = maker_for(db_url)
    one = {"c": [("t", "t")]}
    with maker() as session, session.begin():
        outbox.enqueue(session, [(alert(1), None), (alert(2), None)], one, T0)
        c1, c2 = sorted(outbox.claim_deliveries(session, "w", T0, 60), key=lambda c: c.alert_id)
        outbox.record_delivery(session, c1, "w", T0, None, 0.1, None, dead=False)
        outbox.record_delivery(session, c2, "w", T0, "down", 0.1, T0 + dt.timedelta(minutes=1), dead=False)
    with maker() as session, session.begin():
        assert outbox.delete_old_attempts(session, T0 + dt.timedelta(days=1)) == 1
    with maker() as session:
        assert outbox.alert_attempts(session, c1.alert_id) == []
        assert len(outbox.alert_attempts(session, c2.alert_id)) == 1
    engine.dispose()


def test_a_claimed_delivery_is_not_claimed_again_until_its_lease_expires_and_then_counts_a_reclaim(db_url):
    engine, maker = maker_for(db_url)
    with maker() as session, session.begin():
        outbox.enqueue(session, [(alert(1), None)], {"c": [("t", "t")]}, T0)
        [first] = outbox.claim_deliveries(session, "a", T0, 60)
    with maker() as session, session.begin():
        assert outbox.claim_deliveries(session, "b", T0 + dt.timedelta(seconds=30), 60) == []
    with maker() as session, session.begin():
        [again] = outbox.claim_deliveries(session, "b", T0 + dt.timedelta(seconds=61), 60)
        assert again.alert.dedup_key == "d1" and again.stable_id() == first.stable_id()
        assert outbox.count_reclaims(session) == 1  # "a" died mid-send: this one may be a repeat
    engine.dispose()


def test_a_channel_without_known_targets_gets_one_delivery_expanded_at_the_next_start(db_url):
    engine, maker = maker_for(db_url)
    with maker() as session, session.begin():
        outbox.enqueue(session, [(alert(1), None)], {}, T0)
        assert outbox.has_legacy_deliveries(session)
        assert outbox.expand_legacy_deliveries(session, TWO) == 1
    with maker() as session:
        [stored] = outbox.list_alerts(session)
        assert sorted(d.target for d in stored.deliveries) == ["hook", "mail"]
        assert not outbox.has_legacy_deliveries(session)
    engine.dispose()
