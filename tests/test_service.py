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

        stop_within(proc, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
    names = [e["event"] for e in log_events(log)]
    assert names[-1] == "service.stopped"
    assert len(webhook_sink.requests) == 2  # exactly once each, across all those polls


def stop_within(proc: Any, seconds: float) -> None:
    """SIGTERM, then the process exits with 0 within `seconds`."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=seconds + 5) == 0
    assert time.monotonic() - started < seconds


def _slow_target_config(tmp_path: Any, feed_server: Any, sink: Any, lease: str = "60s") -> dict[str, Any]:
    feed_server.set("/feed", feed_xml([entry(1, "China suspends rare earth export controls")]), etag='"v1"')
    return {
        "database": f"sqlite:///{tmp_path / 'w.db'}", "allow_private_networks": True, "http": {"port": 0},
        "lease": lease, "defaults": {"interval": "1h", "timeout": "5s", "channels": ["hook"]},
        "delivery": {"interval": "1s", "timeout": "60s"},
        "sources": [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}],
        "rules": [{"name": "rare-earths", "any": ["rare earth"]}],
        "channels": [{"name": "hook", "url": sink.url("/hook")}],
    }  # fmt: skip


def _delivery(tmp_path: Any) -> tuple[Any, ...]:
    import sqlite3

    with sqlite3.connect(tmp_path / "w.db") as conn:
        return conn.execute("SELECT status, attempts, claimed_by IS NOT NULL, reclaims FROM deliveries").fetchone()


def test_sigterm_during_a_slow_send_lets_it_finish_and_records_it_so_a_restart_sends_nothing(
    tmp_path, feed_server, webhook_sink, write_config
):
    webhook_sink.delay = 3.0  # the receiver takes 3 s to answer
    path = write_config(_slow_target_config(tmp_path, feed_server, webhook_sink))
    log = tmp_path / "service.log"
    proc = start_service(path, log)
    try:
        webhook_sink.wait_for(1, timeout=30)  # the send is under way
        stop_within(proc, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _delivery(tmp_path) == ("sent", 1, 0, 0)
    webhook_sink.delay = 0.0
    again = start_service(path, tmp_path / "again.log")
    try:
        wait_until(lambda: any(e["event"] == "service.started" for e in log_events(tmp_path / "again.log")), what="start")
        time.sleep(2)  # two delivery ticks: time for a wrong second send to show
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(timeout=15)
    assert len(webhook_sink.requests) == 1


def test_sigterm_with_a_target_that_hangs_exits_in_time_and_leaves_the_claim_to_run_out(
    tmp_path, feed_server, webhook_sink, write_config
):
    webhook_sink.delay = 30.0  # longer than the stop grace
    path = write_config(_slow_target_config(tmp_path, feed_server, webhook_sink, lease="3s"))
    log = tmp_path / "service.log"
    proc = start_service(path, log)
    try:
        webhook_sink.wait_for(1, timeout=30)
        stop_within(proc, 10)
    finally:
        if proc.poll() is None:
            proc.kill()
    status, attempts, claimed, _ = _delivery(tmp_path)
    assert (status, attempts, claimed) == ("pending", 0, 1)  # not released: its lease runs out
    assert any(e["event"] == "service.exit_abandoning_sends" for e in log_events(log))
