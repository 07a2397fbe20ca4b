"""Source health: ops hear once when a source goes blind (failing too long, a changed layout,
silent too long) and once when it is back."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.servers import Route, feed_xml
from tests.test_pipeline import config, entry
from tests.test_sources_html_list import DATA, LIST, list_config, serve_mofcom
from watcher import health
from watcher.commands import poll_once
from watcher.db import outbox
from watcher.db.engine import make_engine, sessions
from watcher.pipeline import run_source
from watcher.runtime import build_context, close_context
from watcher.settings import load

T0 = dt.datetime(2025, 11, 7, 12, tzinfo=dt.UTC)
RULES = health.HealthPolicy(failing_after=6 * 3600, silent_after=2 * 86400, channels=("ops",))
SOURCE = SimpleNamespace(name="mofcom-zh", url="https://www.mofcom.gov.cn/zwgk/")


def state(**kw: Any) -> SimpleNamespace:
    return SimpleNamespace(**{"failing_since": None, "health_alert": None, "last_new_at": None, **kw})


def test_a_failure_shorter_than_the_threshold_tells_nobody():
    verdict = health.after_failure(SOURCE, state(failing_since=T0), T0 + dt.timedelta(hours=5), "timeout", "GET …: timed out", RULES)
    assert verdict == health.Verdict((), None)


def test_a_failure_longer_than_the_threshold_opens_one_episode_keyed_by_its_start():
    verdict = health.after_failure(SOURCE, state(failing_since=T0), T0 + dt.timedelta(hours=7), "http_5xx", "HTTP 500", RULES)
    [alert] = verdict.alerts
    assert verdict.open_alert == alert.dedup_key == "health|mofcom-zh|failing|2025-11-07T12:00:00Z"
    assert (alert.channel, alert.rule, alert.kind) == ("ops", "source-health", "health")
    assert "failing since 2025-11-07T12:00:00Z (http_5xx)" in alert.title and alert.sentence == "HTTP 500"
    again = health.after_failure(SOURCE, state(failing_since=T0, health_alert=alert.dedup_key), T0 + dt.timedelta(hours=9), "http_5xx", "HTTP 500", RULES)
    assert again == health.Verdict((), alert.dedup_key)  # told once


def test_a_structure_change_is_told_at_once():
    verdict = health.after_failure(SOURCE, state(), T0, "structure", "structure changed: no notice links found at …", RULES)
    [alert] = verdict.alerts
    assert "structure changed" in alert.title and alert.dedup_key == "health|mofcom-zh|failing|2025-11-07T12:00:00Z"


def test_recovery_closes_the_episode_with_one_alert():
    opened = "health|mofcom-zh|failing|2025-11-07T12:00:00Z"
    verdict = health.after_success(SOURCE, state(failing_since=T0, health_alert=opened), T0 + dt.timedelta(hours=8), 0, RULES)
    [alert] = verdict.alerts
    assert verdict.open_alert is None and alert.dedup_key == "health|mofcom-zh|recovered|2025-11-07T12:00:00Z"
    assert alert.title == "Source mofcom-zh works again"
    assert health.after_success(SOURCE, state(), T0, 0, RULES) == health.Verdict((), None)  # nothing was open


def test_a_source_silent_longer_than_expected_is_told_once_and_again_when_it_has_news():
    quiet = state(last_new_at=T0)
    assert health.after_success(SOURCE, quiet, T0 + dt.timedelta(days=1), 0, RULES).alerts == ()
    verdict = health.after_success(SOURCE, quiet, T0 + dt.timedelta(days=3), 0, RULES)
    [alert] = verdict.alerts
    assert verdict.open_alert == "health|mofcom-zh|silent|2025-11-07T12:00:00Z" and "nothing new" in alert.title
    still = state(last_new_at=T0, health_alert=verdict.open_alert)
    assert health.after_success(SOURCE, still, T0 + dt.timedelta(days=4), 0, RULES).alerts == ()
    [back] = health.after_success(SOURCE, still, T0 + dt.timedelta(days=5), 2, RULES).alerts
    assert back.dedup_key == "health|mofcom-zh|recovered|2025-11-07T12:00:00Z" and "has news again" in back.title


def test_ops_is_the_channel_when_configured_else_the_default_channels():
    from watcher.settings import Settings

    with_ops = Settings.model_validate({
        "defaults": {"channels": ["email"], "health_after": "2h"},
        "channels": [{"name": "email", "url": "json://x.example/"}, {"name": "ops", "url": "json://y.example/"}],
        "sources": [{"name": "a", "kind": "feed", "url": "https://a.example/", "health_after": "30m"},
                    {"name": "b", "kind": "feed", "url": "https://b.example/"}],
    })  # fmt: skip
    a, b = with_ops.sources
    assert health.policy(with_ops, a) == health.HealthPolicy(1800.0, None, ("ops",))
    assert health.policy(with_ops, b).failing_after == 7200.0
    without = Settings.model_validate({"channels": [{"name": "email", "url": "json://x.example/"}], "defaults": {"channels": ["email"]}})
    assert health.policy(without, b).channels == ("email",)


# -- end to end ------------------------------------------------------------------------------


def health_alerts(path: Path) -> list[outbox.StoredAlert]:
    engine = make_engine(load(path, env={}).database)
    with sessions(engine)() as session:
        alerts = [a for a in outbox.list_alerts(session) if a.alert.rule == "source-health"]
    engine.dispose()
    return sorted(alerts, key=lambda a: a.id)


def poll(path: Path) -> Any:
    return asyncio.run(poll_once(load(path, env={}), []))


def test_a_changed_layout_fails_the_source_and_ops_get_exactly_one_alert_and_one_on_recovery(
    db_url, feed_server, webhook_sink, write_config
):
    serve_mofcom(feed_server)
    data = list_config(db_url, feed_server, webhook_sink.url("/mail"))
    data["channels"].append({"name": "ops", "url": webhook_sink.url("/ops")})
    path = write_config(data)
    [ok], _ = poll(path)
    assert ok.status == "fetched"

    feed_server.set(LIST, (DATA / "mofcom_list_redesigned.html").read_bytes(), content_type="text/html", etag='"v2"')
    for _ in range(3):
        [broken], _ = poll(path)
        assert (broken.status, broken.reason) == ("failed", "structure")
        assert broken.error == f"structure changed: no notice links found at {feed_server.url(LIST)}"
    [told] = health_alerts(path)
    assert (told.alert.channel, told.status) == ("ops", "sent") and told.alert.dedup_key.startswith("health|mofcom-zh|failing|")

    table = subprocess.run([sys.executable, "-m", "watcher", "sources", "--json", "--config", str(path)],
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    [row] = json.loads(table.stdout)
    assert row["kind"] == "html_list" and row["reason"] == "structure" and row["failures"] == 3

    serve_mofcom(feed_server)  # the list is back
    for _ in range(2):
        [back], _ = poll(path)
        assert back.ok
    told, recovered = health_alerts(path)
    assert recovered.alert.dedup_key == told.alert.dedup_key.replace("|failing|", "|recovered|")
    ops = [r.body for r in webhook_sink.requests if r.path == "/ops"]  # delivered within each poll
    assert [m["title"] for m in ops] == [
        "Source health: Source mofcom-zh is blind: its page no longer yields notices (structure changed)",
        "Source health: Source mofcom-zh works again",
    ]


def test_a_source_failing_longer_than_the_threshold_tells_ops_once_after_it_and_once_on_recovery(
    db_url, feed_server, webhook_sink, write_config
):
    feed_server.set("/feed", [Route(status=500), Route(status=500), Route(status=500), Route(status=500), Route(feed_xml([entry(1)]))])
    sources = [{"name": "ustr", "kind": "feed", "url": feed_server.url("/feed")}]
    path = write_config(config(db_url, sources, webhook_sink.url("/hook")))

    async def polls() -> list[int]:
        ctx = await build_context(load(path, env={}))
        counts = []
        try:
            for hours in (0, 5, 7, 8, 9):  # fail, fail, fail (past 6 h), fail, succeed
                ctx.clock = lambda h=hours: T0 + dt.timedelta(hours=h)
                await run_source(ctx, ctx.settings.sources[0])
                counts.append(len(health_alerts(path)))
        finally:
            await close_context(ctx)
        return counts

    assert asyncio.run(polls()) == [0, 0, 1, 1, 2]
    failing, recovered = health_alerts(path)
    assert failing.alert.channel == "email"  # no ops channel: defaults.channels
    assert failing.alert.dedup_key == "health|ustr|failing|2025-11-07T12:00:00Z"
    assert recovered.alert.dedup_key == "health|ustr|recovered|2025-11-07T12:00:00Z"
