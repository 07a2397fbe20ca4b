"""A registry stored before suspension ends had a kind of their own upgrades to the new wording."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from watcher.db import registry as registry_db
from watcher.db.engine import make_engine, sessions, upgrade

T0 = dt.datetime(2025, 11, 8)


def test_an_expiry_added_by_an_accepted_suspension_becomes_the_end_of_the_suspension(db_url):
    engine = make_engine(db_url)
    upgrade(engine, "0004_deliveries")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO measures (id, title, jurisdiction, authority, reference, aliases, tags, status,"
                             " source, created_at, updated_at) VALUES ('m', 'Controls', 'CN', 'MOFCOM', '', '[]', '[]',"
                             " 'suspended', '', :t, :t)"), {"t": T0})  # fmt: skip
        conn.execute(sa.text("INSERT INTO findings (id, dedup_key, kind, measure_id, event_kind, event_date, evidence,"
                             " confidence, link, source, item_title, status, created_at) VALUES (7, 'k', 'suspended', 'm',"
                             " 'expiry', :d, 'until 10 Nov 2026', 0.9, '', 's', '', 'accepted', :t)"),
                     {"d": dt.date(2026, 11, 10), "t": T0})  # fmt: skip
        for uid, kind in (("m/finding-7", "expiry"), ("m/expiry/1", "expiry")):
            conn.execute(sa.text("INSERT INTO milestones (measure_id, uid, kind, date, note, source, state, sequence,"
                                 " created_at, updated_at) VALUES ('m', :u, :k, :d, '', '', 'active', 0, :t, :t)"),
                         {"u": uid, "k": kind, "d": dt.date(2026, 11, 10), "t": T0})  # fmt: skip
    upgrade(engine)
    with sessions(engine)() as session:
        [m] = registry_db.get_measures(session, ["m"])
    kinds = {ms.uid: (ms.kind, ms.sequence) for ms in m.milestones}
    assert kinds == {"m/finding-7": ("suspension_end", 1), "m/expiry/1": ("expiry", 0)}  # a real expiry stays
    engine.dispose()
