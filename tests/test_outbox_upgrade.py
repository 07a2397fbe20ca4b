"""A database of the schema before per-target deliveries upgrades with its queued alerts intact."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from watcher.db import outbox
from watcher.db.engine import make_engine, sessions, upgrade

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _old_alert(conn: sa.Connection, key: str, status: str, attempts: int, error: str | None) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO alerts (dedup_key, channel, kind, rule, source, title, link, payload, status, attempts,"
            " next_attempt_at, last_error, created_at) VALUES (:k, 'ops', 'new', 'rare-earths', 'mofcom', 'T', 'L',"
            " :p, :s, :a, :n, :e, :n)"
        ),
        {"k": key, "p": '{"phrases": ["rare earth"], "sentence": "Rare earth controls.", "published": null,'
                        ' "extra": {}}', "s": status, "a": attempts, "n": T0.replace(tzinfo=None), "e": error},
    )  # fmt: skip


def test_pending_and_dead_alerts_of_the_previous_schema_become_one_delivery_per_target(db_url):
    engine = make_engine(db_url)
    upgrade(engine, "0003_sources")
    with engine.begin() as conn:
        _old_alert(conn, "a-pending", "pending", 3, "timed out")
        _old_alert(conn, "a-dead", "dead", 8, "500")
        _old_alert(conn, "a-sent", "sent", 1, None)
    upgrade(engine)
    maker = sessions(engine)
    targets = {"ops": [("mail", "mailto://example.com"), ("hook", "json://example.org/…")]}
    with maker() as session, session.begin():
        assert outbox.expand_legacy_deliveries(session, targets) == 2
    with maker() as session:
        by_key = {a.alert.dedup_key: a for a in outbox.list_alerts(session)}
    pending, dead, sent = by_key["a-pending"], by_key["a-dead"], by_key["a-sent"]
    assert [(d.target, d.status, d.attempts, d.last_error) for d in pending.deliveries] == [
        ("mail", "pending", 3, "timed out"), ("hook", "pending", 3, "timed out")]  # fmt: skip
    assert {d.status for d in dead.deliveries} == {"dead"} and len(dead.deliveries) == 2
    assert sent.status == "sent" and sent.deliveries == ()
    # The old payload still reads as one rule with the text it matched.
    assert [(r.rule, r.matched) for r in pending.alert.rules] == [("rare-earths", ("rare earth",))]
    with maker() as session, session.begin():
        claimed = outbox.claim_deliveries(session, "w", T0, 60)
    assert sorted(c.alert.dedup_key for c in claimed) == ["a-pending", "a-pending"]
    engine.dispose()


def test_the_head_revision_known_without_alembic_is_alembics_head(db_url):
    from watcher.db.engine import HEAD, _stamped, current_revision, head_revision

    assert HEAD == head_revision()  # a new migration must move engine.HEAD with it
    engine = make_engine(db_url)
    upgrade(engine)
    assert _stamped(engine) == current_revision(engine) == HEAD
    upgrade(engine)  # at head: returns without alembic, and the database stays there
    assert current_revision(engine) == HEAD
