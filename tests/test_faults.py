"""A database that refuses a write for a while: the failure is local, visible, and nothing is lost
or sent twice once it is back. The fault is a real trigger in the real database (both kinds)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import text

from tests.servers import feed_xml
from watcher.commands import poll_once
from watcher.db import repo
from watcher.db.engine import make_engine, sessions
from watcher.settings import load

NOW = dt.datetime.now(dt.UTC)


def _fault(engine: Any, on: bool) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER IF EXISTS refuse_items"))
            if on:
                conn.execute(text("CREATE TRIGGER refuse_items BEFORE INSERT ON items "
                                  "BEGIN SELECT RAISE(ABORT, 'injected fault'); END"))  # fmt: skip
            return
        conn.execute(text("DROP TRIGGER IF EXISTS refuse_items ON items"))
        if on:
            conn.execute(text("CREATE OR REPLACE FUNCTION refuse() RETURNS trigger AS "
                              "$$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql"))  # fmt: skip
            conn.execute(text("CREATE TRIGGER refuse_items BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION refuse()"))


def test_a_refused_store_is_a_visible_failure_that_releases_the_source_and_loses_nothing(
    db_url, feed_server, webhook_sink, write_config
):
    feed_server.set("/feed", feed_xml([{"guid": "urn:1", "title": "Rare earth export controls", "link": "https://example.gov/1",
                                         "description": "China adds rare earth items.", "pubDate": NOW}]))  # fmt: skip
    path = write_config({
        "database": db_url, "allow_private_networks": True,
        "defaults": {"interval": "15m", "timeout": "5s", "channels": ["hook"]},
        "sources": [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}],
        "rules": [{"name": "rare-earths", "any": ["rare earth"]}],
        "channels": [{"name": "hook", "url": webhook_sink.url()}],
    })  # fmt: skip
    settings = load(path, env={})
    asyncio.run(poll_once(settings, ["nothing"]))  # creates the schema
    engine = make_engine(settings.database)
    _fault(engine, on=True)
    [failed], report = asyncio.run(poll_once(settings, []))
    assert (failed.status, failed.reason) == ("failed", "database") and report.sent == 0
    with sessions(engine)() as session:
        state = repo.source_state(session, "mofcom")
    assert state is not None and state.last_error_reason == "database" and state.consecutive_failures == 1
    with engine.connect() as conn:  # the lease was given back: the next cycle may poll it again
        assert conn.execute(text("SELECT lease_owner FROM source_state WHERE name='mofcom'")).scalar() is None

    _fault(engine, on=False)
    [ok], report = asyncio.run(poll_once(settings, []))
    assert (ok.status, ok.new, report.sent) == ("fetched", 1, 1)
    asyncio.run(poll_once(settings, []))
    assert len(webhook_sink.requests) == 1
    engine.dispose()
