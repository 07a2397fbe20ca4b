"""`watcher run` as a real process: it polls on schedule, delivers, reloads on SIGHUP and exits
cleanly on SIGTERM."""

from __future__ import annotations

import datetime as dt
import signal
import time
from typing import Any

import yaml

from tests.processes import log_events, start_service, wait_until
from tests.servers import feed_xml

NOW = dt.datetime.now(dt.UTC)


def entry(n: int, title: str) -> dict[str, Any]:
    return {"guid": f"urn:{n}", "title": title, "link": f"https://example.gov/{n}",
            "description": f"{title}. Details follow.", "pubDate": NOW}  # fmt: skip


def test_the_service_polls_on_schedule_reloads_on_sighup_and_stops_on_sigterm(
    tmp_path, feed_server, webhook_sink, write_config
):
    feed_server.set("/feed", feed_xml([entry(1, "China suspends rare earth export controls")]), etag='"v1"')
    data = {
        "database": f"sqlite:///{tmp_path / 'w.db'}",
        "allow_private_networks": True,
        "http": {"port": 0},  # any free port: tests run side by side
        "defaults": {"interval": "1s", "timeout": "5s", "channels": ["hook"]},
        "delivery": {"interval": "1s"},
        "sources": [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}],
        "rules": [{"name": "rare-earths", "any": ["rare earth"]}],
        "channels": [{"name": "hook", "url": webhook_sink.url("/hook")}],
    }
    path = write_config(data)
    log = tmp_path / "service.log"
    proc = start_service(path, log)
    try:
        [first] = webhook_sink.wait_for(1, timeout=30)
        assert "China suspends rare earth export controls" in first.body["title"]
        wait_until(lambda: feed_server.hits("/feed") >= 3, what="three polls")  # on schedule, 304s

        # SIGHUP with a new rule: the running service picks it up without losing state
        data["rules"].append({"name": "port-fees", "any": ["port fees"]})
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: any(e["event"] == "config.reloaded" for e in log_events(log)), what="reload")
        feed_server.set("/feed", feed_xml([entry(1, "China suspends rare earth export controls"),
                                           entry(2, "USTR port fees on Chinese ships")]), etag='"v2"')  # fmt: skip
        second = webhook_sink.wait_for(2, timeout=30)[1]
        assert "port fees" in second.body["title"].lower()

        # a broken config on SIGHUP is reported and the service keeps running on the old one
        path.write_text("rules: [unclosed", encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: any(e["event"] == "config.reload_failed" for e in log_events(log)), what="reload failure")
        assert proc.poll() is None

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
    names = [e["event"] for e in log_events(log)]
    assert names[-1] == "service.stopped"
    assert len(webhook_sink.requests) == 2  # exactly once each, across all those polls
