"""End to end through real parts: a local feed server, the pipeline, the outbox, apprise sending
real e-mail to aiosmtpd, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.servers import Route, feed_xml
from watcher.commands import poll_once, retry_alerts
from watcher.db import outbox, repo
from watcher.db.engine import make_engine, sessions
from watcher.deliver import deliver_due
from watcher.runtime import build_context, close_context
from watcher.settings import load

NOW = dt.datetime.now(dt.UTC)


def entry(n: int, title: str | None = None, text: str | None = None) -> dict[str, Any]:
    return {
        "guid": f"urn:notice:{n}",
        "title": title or f"MOFCOM notice {n} on rare earth exports",
        "link": f"https://example.gov/notices/{n}",
        "description": text or f"China tightens rare earth export controls, notice {n}. Licences are required.",
        "pubDate": NOW - dt.timedelta(hours=1),
    }


def config(db_url: str, sources: list[dict[str, Any]], mail: str, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "database": db_url,
        "allow_private_networks": True,  # the feed server and SMTP sink are on 127.0.0.1
        "defaults": {"interval": "15m", "timeout": "5s", "channels": ["email"]},
        "sources": sources,
        "rules": [{"name": "rare-earths", "any": ["rare earth", "稀土"], "none": ["jewellery"]}],
        "channels": [{"name": "email", "url": mail}],
        "delivery": {"max_attempts": 3, "backoff": "1s"},
    }
    data.update(extra)
    return data


def mailto(sink: Any) -> str:
    return f"mailto://127.0.0.1:{sink.port}?from=bot@example.com&to=ops@example.com&mode=insecure"


def poll(path: Path, names: tuple[str, ...] = ()) -> Any:
    return asyncio.run(poll_once(load(path, env={}), list(names)))


def alerts_by_status(path: Path) -> dict[str, int]:
    settings = load(path, env={})
    engine = make_engine(settings.database)
    with sessions(engine)() as session:
        counts = outbox.count_alerts(session)
    engine.dispose()
    return counts


def test_a_new_matching_item_produces_exactly_one_email_and_a_second_poll_none(
    db_url, feed_server, smtp_sink, write_config
):
    feed_server.set("/feed", feed_xml([entry(1), entry(2, "Port fees", "Ships pay fees.")]), etag='"v1"')
    path = write_config(config(db_url, [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}], mailto(smtp_sink)))

    outcomes, report = poll(path)
    assert [(o.status, o.items, o.new, o.alerts) for o in outcomes] == [("fetched", 2, 2, 1)]
    assert report.sent == 1
    [message] = smtp_sink.wait_for(1)
    assert "MOFCOM notice 1 on rare earth exports" in message["Subject"]
    html = message.get_body(("html",)).get_content()
    assert "https://example.gov/notices/1" in html and "rare earth" in html

    outcomes, report = poll(path)
    assert outcomes[0].status == "not_modified"  # the ETag was sent and the server answered 304
    assert report.sent == 0
    assert len(smtp_sink.messages) == 1
    assert alerts_by_status(path) == {"sent": 1}


def test_n_matching_items_are_n_alerts_with_no_duplicates_after_repeated_polls(
    db_url, feed_server, smtp_sink, write_config
):
    n = 12
    feed_server.set("/feed", feed_xml([entry(i) for i in range(n)]))  # no ETag: parsed every time
    path = write_config(config(db_url, [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}], mailto(smtp_sink)))
    for _ in range(3):
        poll(path)
    smtp_sink.wait_for(n)
    assert len(smtp_sink.messages) == n
    assert len({m["Subject"] for m in smtp_sink.messages}) == n
    assert alerts_by_status(path) == {"sent": n}


def test_an_amended_entry_alerts_once_as_an_update(db_url, feed_server, smtp_sink, write_config):
    feed_server.set("/feed", feed_xml([entry(1)]))
    path = write_config(config(db_url, [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}], mailto(smtp_sink)))
    poll(path)
    amended = entry(1, text="Amended: China suspends the rare earth export controls until November 10, 2026.")
    feed_server.set("/feed", feed_xml([amended]))
    outcomes, _ = poll(path)
    assert (outcomes[0].new, outcomes[0].updated, outcomes[0].alerts) == (0, 1, 1)
    poll(path)
    messages = smtp_sink.wait_for(2)
    assert len(smtp_sink.messages) == 2
    html = messages[1].get_body(("html",)).get_content()
    assert "Updated notice" in html and "suspends the <strong>rare earth</strong> export controls" in html


def test_a_restarted_process_sends_nothing_again(db_url, feed_server, smtp_sink, write_config):
    feed_server.set("/feed", feed_xml([entry(1), entry(2)]))
    path = write_config(config(db_url, [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}], mailto(smtp_sink)))
    for _ in range(2):  # two separate processes, as after a restart
        proc = subprocess.run(
            [sys.executable, "-m", "watcher", "poll", "--once", "--config", str(path), "--json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["sources"][0]["alerts"] == 0 and summary["delivery"]["sent"] == 0
    smtp_sink.wait_for(2)
    assert len(smtp_sink.messages) == 2


def test_with_the_smtp_server_down_the_alert_waits_and_is_delivered_once_it_is_back(
    db_url, feed_server, smtp_sink, write_config
):
    feed_server.set("/feed", feed_xml([entry(1)]))
    path = write_config(config(db_url, [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}], mailto(smtp_sink)))
    smtp_sink.stop()
    _, report = poll(path)
    assert (report.sent, report.retrying) == (0, 1)
    assert alerts_by_status(path) == {"pending": 1}

    smtp_sink.start()  # back, on the same port
    settings = load(path, env={})
    report = asyncio.run(retry_alerts(settings, None, all_=True))
    assert report.sent == 1
    smtp_sink.wait_for(1)
    poll(path)
    assert len(smtp_sink.messages) == 1
    assert alerts_by_status(path) == {"sent": 1}


def test_the_next_due_attempt_delivers_an_alert_after_an_outage(db_url, feed_server, smtp_sink, write_config):
    feed_server.set("/feed", feed_xml([entry(1)]))
    path = write_config(config(db_url, [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}], mailto(smtp_sink)))
    smtp_sink.stop()
    poll(path)
    smtp_sink.start()

    async def later() -> Any:
        ctx = await build_context(load(path, env={}))
        ctx.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)  # past the backoff
        try:
            return await deliver_due(ctx)
        finally:
            await close_context(ctx)

    assert asyncio.run(later()).sent == 1
    assert len(smtp_sink.wait_for(1)) == 1


def test_after_max_attempts_the_alert_is_dead_and_listed(db_url, feed_server, smtp_sink, write_config):
    feed_server.set("/feed", feed_xml([entry(1)]))
    path = write_config(config(db_url, [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}], mailto(smtp_sink)))
    smtp_sink.stop()
    poll(path)  # attempt 1

    async def attempts() -> None:
        ctx = await build_context(load(path, env={}))
        try:
            for hours in (1, 2):  # attempts 2 and 3, each past the previous backoff
                ctx.clock = lambda h=hours: dt.datetime.now(dt.UTC) + dt.timedelta(hours=h)
                await deliver_due(ctx)
        finally:
            await close_context(ctx)

    asyncio.run(attempts())
    assert alerts_by_status(path) == {"dead": 1}
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "alerts", "--status", "dead", "--json", "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    [dead] = json.loads(proc.stdout)
    assert dead["attempts"] == 3 and dead["last_error"] and "127.0.0.1" in dead["last_error"] or dead["last_error"]

    smtp_sink.start()
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "alerts", "retry", str(dead["id"]), "--config", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert len(smtp_sink.wait_for(1)) == 1
    assert alerts_by_status(path) == {"sent": 1}


def test_one_failing_source_does_not_stop_the_others_and_poll_exits_1(db_url, feed_server, smtp_sink, write_config):
    feed_server.set("/good", feed_xml([entry(1)]))
    feed_server.set("/bad", Route(status=500, body=b"oops"))
    sources = [
        {"name": "bad", "kind": "feed", "url": feed_server.url("/bad")},
        {"name": "good", "kind": "feed", "url": feed_server.url("/good")},
    ]
    path = write_config(config(db_url, sources, mailto(smtp_sink)))
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "poll", "--once", "--config", str(path), "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    by_name = {s["name"]: s for s in json.loads(proc.stdout)["sources"]}
    assert by_name["bad"]["status"] == "failed" and by_name["bad"]["reason"] == "http_5xx"
    assert by_name["good"]["alerts"] == 1
    assert len(smtp_sink.wait_for(1)) == 1

    settings = load(path, env={})
    engine = make_engine(settings.database)
    with sessions(engine)() as session:
        health = repo.source_health(session)
    engine.dispose()
    bad = health["bad"]
    assert bad.consecutive_failures == 1 and bad.last_error_reason == "http_5xx"
    assert bad.next_due_at > dt.datetime.now(dt.UTC)  # backing off, not given up
    assert health["good"].consecutive_failures == 0 and health["good"].last_success_at is not None


def test_entries_older_than_the_backfill_window_are_history_on_a_first_poll(db_url, feed_server, smtp_sink, write_config):
    old = entry(1)
    old["pubDate"] = NOW - dt.timedelta(days=30)
    feed_server.set("/feed", feed_xml([old, entry(2)]))
    path = write_config(config(db_url, [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}], mailto(smtp_sink)))
    outcomes, report = poll(path)
    assert (outcomes[0].new, outcomes[0].alerts, report.sent) == (2, 1, 1)


def test_two_hundred_slow_sources_are_polled_concurrently_in_one_cycle(tmp_path, feed_server, smtp_sink, write_config):
    # The timing itself (seconds, not the ~20 s of a serial loop) is measured in bench/bench_poll.py;
    # here: every source is processed and the server saw many requests at once.
    n = 200
    for i in range(n):
        feed_server.set(f"/feed/{i}", feed_xml([entry(i)]), delay=0.1)
    sources = [{"name": f"s{i}", "kind": "feed", "url": feed_server.url(f"/feed/{i}")} for i in range(n)]
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", sources, mailto(smtp_sink)))
    outcomes, report = poll(path)
    assert len(outcomes) == n and all(o.status == "fetched" and o.alerts == 1 for o in outcomes)
    assert feed_server.max_concurrent() >= 8  # at least one host's worth of parallel fetches
    assert report.sent == n
