""""Exactly once" as a user sets it up: a channel of several targets with one down, a notice that
matches several rules, retries of every kind. Real feed server, real webhook sinks, both databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from typing import Any

from tests.servers import feed_xml
from tests.sinks import WebhookSink
from watcher.commands import poll_once, retry_alerts
from watcher.db import outbox
from watcher.deliver import deliver_due
from watcher.runtime import build_context, close_context
from watcher.settings import load

NOW = dt.datetime.now(dt.UTC)
NOTICE = {
    "guid": "urn:notice:61",
    "title": "MOFCOM Announcement No. 61 on rare earth export controls",
    "link": "https://example.gov/notices/61",
    "description": "China adds rare earth items to the export control list. Gallium and HS 8505.11 are covered.",
    "pubDate": NOW - dt.timedelta(hours=1),
}


def config(db_url: str, feed: str, channels: list[dict[str, Any]], rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "database": db_url,
        "allow_private_networks": True,  # the feed server and the sinks are on 127.0.0.1
        "defaults": {"interval": "15m", "timeout": "5s", "channels": [channels[0]["name"]], "backfill": "0s"},
        "sources": [{"name": "mofcom", "kind": "feed", "url": feed}],
        "rules": rules,
        "channels": channels,
        "delivery": {"max_attempts": 10, "backoff": "1s", "timeout": "5s"},
    }


def successes(sink: WebhookSink, failures: int = 0) -> int:
    return len(sink.requests) - failures


def test_a_target_that_is_down_is_retried_alone_and_the_healthy_one_gets_one_message(
    db_url, feed_server, write_config
):
    with WebhookSink() as up, WebhookSink() as down:
        down.fail_next(3)
        feed_server.set("/feed", feed_xml([NOTICE]))
        rules = [{"name": n, "any": [p]} for n, p in (("rare-earths", "rare earth"), ("gallium", "gallium"),
                                                      ("export-controls", "export control"))]  # fmt: skip
        channels = [{"name": "team", "url": [up.url("/a"), down.url("/b")]}]
        path = write_config(config(db_url, feed_server.url("/feed"), channels, rules))
        settings = load(path, env={})

        _, report = asyncio.run(poll_once(settings, []))
        assert (report.sent, report.retrying) == (1, 1)
        assert asyncio.run(retry_alerts(settings, None, True)).retrying == 1  # `alerts retry --all`
        assert asyncio.run(_deliver_later(settings, minutes=10)).retrying == 1  # the automatic retry
        assert asyncio.run(retry_alerts(settings, None, True)).sent == 1  # back: delivered once
        assert asyncio.run(retry_alerts(settings, None, True)).sent == 0  # nothing left to send
        asyncio.run(poll_once(settings, []))  # a re-poll enqueues nothing

        assert successes(up) == 1 and successes(down, failures=3) == 1
        ids = {r.headers.get("X-Watcher-Delivery-Id") for r in down.requests}
        assert len(ids) == 1 and None not in ids  # every attempt carries the same id
        [message] = up.requests
        assert sorted(r["rule"] for r in message.body["watcher"]["rules"]) == ["export-controls", "gallium", "rare-earths"]
        [stored] = _alerts(settings)
        assert stored.status == "sent"
        assert [(d.status, d.attempts) for d in stored.deliveries] == [("sent", 1), ("sent", 4)]
        listed = subprocess.run([sys.executable, "-m", "watcher", "alerts", "--json", "--config", str(path)],
                                capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        [row] = json.loads(listed.stdout)
        assert [(d["status"], d["attempts"], d["reclaims"]) for d in row["deliveries"]] == [("sent", 1, 0), ("sent", 4, 0)]
        assert all(d["target"].startswith("json://127.0.0.1:") and "/a" not in d["target"] for d in row["deliveries"])


def test_a_notice_matching_three_rules_is_one_message_per_channel_naming_each_rule_and_its_text(
    db_url, feed_server, write_config
):
    with WebhookSink() as team, WebhookSink() as legal:
        feed_server.set("/feed", feed_xml([NOTICE]))
        rules = [
            {"name": "rare-earths", "any": ["rare earth"], "channels": ["team"]},
            {"name": "gallium", "any": ["Gallium"], "channels": ["team"]},
            {"name": "hs-codes", "regex": [r"\b8505\.\d{2}\b"], "channels": ["team", "legal"]},
        ]
        channels = [{"name": "team", "url": team.url()}, {"name": "legal", "url": legal.url()}]
        path = write_config(config(db_url, feed_server.url("/feed"), channels, rules))
        settings = load(path, env={})
        for _ in range(2):
            asyncio.run(poll_once(settings, []))

        [to_team] = team.wait_for(1)
        [to_legal] = legal.wait_for(1)
        hits = {r["rule"]: r["matched"] for r in to_team.body["watcher"]["rules"]}
        assert hits == {"rare-earths": ["rare earth"], "gallium": ["Gallium"], "hs-codes": ["8505.11"]}
        assert [r["rule"] for r in to_legal.body["watcher"]["rules"]] == ["hs-codes"]
        for text in ("rare-earths", "gallium", "hs-codes", "8505.11", "https://example.gov/notices/61"):
            assert text in to_team.body["message"]
        assert "\\b" not in to_team.body["message"]  # the regex itself is never shown


async def _deliver_later(settings: Any, minutes: int) -> Any:
    ctx = await build_context(settings)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
    ctx.clock = lambda: later
    try:
        return await deliver_due(ctx)
    finally:
        await close_context(ctx)


def _alerts(settings: Any) -> list[outbox.StoredAlert]:
    from watcher.db.engine import make_engine, sessions

    engine = make_engine(settings.database)
    try:
        with sessions(engine)() as session:
            return outbox.list_alerts(session)
    finally:
        engine.dispose()


def test_an_amended_notice_is_one_updated_message_quoting_the_new_sentence_and_what_rules_matched_there(
    db_url, feed_server, write_config
):
    with WebhookSink() as team:
        feed_server.set("/feed", feed_xml([NOTICE]))
        rules = [{"name": "rare-earths", "any": ["rare earth"]}, {"name": "hs-codes", "regex": [r"\bHS \d{4}\.\d{2}\b"]}]
        path = write_config(config(db_url, feed_server.url("/feed"), [{"name": "team", "url": team.url()}], rules))
        settings = load(path, env={})
        asyncio.run(poll_once(settings, []))
        amended = dict(NOTICE, description=NOTICE["description"] + " New HS 2805.30 items are added from 1 March 2026.")
        feed_server.set("/feed", feed_xml([amended]))
        for _ in range(2):
            asyncio.run(poll_once(settings, []))

        first, update = team.wait_for(2)
        assert len(team.requests) == 2
        body = update.body["watcher"]
        assert body["kind"] == "update"
        assert body["sentence"] == "New HS 2805.30 items are added from 1 March 2026."
        assert {r["rule"]: r["matched"] for r in body["rules"]}["hs-codes"] == ["HS 2805.30"]
        assert update.body["title"].startswith("Updated notice: ")


def test_a_target_replaced_in_the_config_gets_the_alerts_that_waited_for_the_old_one(db_url, feed_server, write_config):
    with WebhookSink() as up, WebhookSink() as old, WebhookSink() as new:
        old.fail_next(100)  # broken webhook
        feed_server.set("/feed", feed_xml([NOTICE]))
        rules = [{"name": "rare-earths", "any": ["rare earth"]}]
        data = config(db_url, feed_server.url("/feed"), [{"name": "team", "url": [up.url("/a"), old.url("/b")]}], rules)
        asyncio.run(poll_once(load(write_config(data), env={}), []))
        data["channels"] = [{"name": "team", "url": [up.url("/a"), new.url("/c")]}]  # the usual fix
        settings = load(write_config(data), env={})

        assert asyncio.run(retry_alerts(settings, None, True)).sent == 1
        assert asyncio.run(retry_alerts(settings, None, True)).sent == 0
        assert (len(up.requests), len(new.requests), len(old.requests)) == (1, 1, 1)
        [stored] = _alerts(settings)
        assert stored.status == "sent" and len(stored.deliveries) == 2
