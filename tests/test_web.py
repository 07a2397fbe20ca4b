"""/healthz, /readyz and /metrics of a running service, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import feed_xml
from tests.sinks import free_port
from watcher import settings as settings_mod
from watcher.db.engine import make_engine, sessions
from watcher.db.writer import Database
from watcher.scheduler import Service

NOW = dt.datetime.now(dt.UTC)
SECRET = "s3cr3t-token"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a text exposition, parsed with prometheus_client's own parser."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(parsed: dict[Any, float], name: str, **labels: str) -> float | None:
    return parsed.get((name, tuple(sorted(labels.items()))))


async def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
async def service(db_url, feed_server, webhook_sink, write_config, request):  # type: ignore[no-untyped-def]
    source = f"mofcom-{request.node.callspec.id}"  # counters are per process: one name per test
    feed_server.set("/feed", feed_xml([{"guid": "urn:1", "title": "China suspends rare earth export controls",
                                        "link": "https://example.gov/1", "pubDate": NOW}]), etag='"v1"')  # fmt: skip
    path = write_config({
        "database": db_url,
        "allow_private_networks": True,
        "http": {"host": "127.0.0.1", "port": 0},
        "defaults": {"interval": "1h", "timeout": "5s", "channels": ["hook"]},
        "delivery": {"interval": "1s"},
        "sources": [{"name": source, "kind": "feed", "url": feed_server.url("/feed")}],
        "rules": [{"name": "rare-earths", "any": ["rare earth"]}],
        "channels": [{"name": "hook", "url": webhook_sink.url("/hook", userinfo=f"user:{SECRET}")}],
    })  # fmt: skip
    svc = Service(str(path), load=lambda p: settings_mod.load(p, env={}))
    await svc.start()
    svc.source_name = source  # type: ignore[attr-defined]
    try:
        yield svc
    finally:
        await svc.stop()


async def test_health_readiness_and_metrics_answer_over_http(service, webhook_sink):
    base = f"http://127.0.0.1:{service.http.port}"
    source = service.source_name
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "migrations": "ok", "scheduler": "ok"}

        async def polled_and_sent():  # type: ignore[no-untyped-def]
            parsed = samples((await client.get("/metrics")).text)
            sent = value(parsed, "watcher_deliveries_total", channel="hook", outcome="sent") or 0
            drained = value(parsed, "watcher_outbox_alerts", status="pending") == 0  # the send is recorded too
            polled = value(parsed, "watcher_polls_total", source=source, outcome="fetched")
            return parsed if polled and sent and drained else None

        parsed = await wait_for(polled_and_sent, what="a poll and a delivery in /metrics")
        text = (await client.get("/metrics")).text
    assert len(webhook_sink.requests) >= 1
    assert value(parsed, "watcher_items_total", source=source, change="new") == 1
    assert value(parsed, "watcher_matches_total", rule="rare-earths") >= 1
    assert value(parsed, "watcher_fetch_duration_seconds_count") >= 1
    assert value(parsed, "watcher_database_up") == 1
    assert value(parsed, "watcher_outbox_alerts", status="pending") == 0
    assert value(parsed, "watcher_outbox_oldest_pending_age_seconds") == 0
    assert value(parsed, "watcher_source_last_success_timestamp_seconds", source=source) >= NOW.timestamp() - 1
    assert value(parsed, "watcher_scheduler_running") == 1
    info = [k for k in parsed if k[0] == "watcher_replica_info"]
    assert info and dict(info[0][1])["owner"] == service.ctx.owner
    assert all(name.startswith("watcher_") for name, _ in parsed if not name.startswith(("process_", "python_")))
    assert SECRET not in text and "127.0.0.1" not in text  # channel URLs never reach a label


async def test_readyz_fails_and_metrics_still_answer_when_the_database_is_unreachable(service):
    # A real PostgreSQL address where nothing listens: connections are refused.
    dead = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/watcher")
    live, service.ctx = service.ctx, dataclasses.replace(service.ctx, db=Database(sessions(dead)))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http.port}", timeout=15) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            checks = ready.json()["checks"]
            assert checks["database"].startswith("unreachable") and checks["scheduler"] == "ok"
            assert (await client.get("/healthz")).status_code == 200  # alive, just not ready
            scrape = await client.get("/metrics")
    finally:
        service.ctx = live  # so the fixture can release its leases
        dead.dispose()
    assert scrape.status_code == 200
    assert value(samples(scrape.text), "watcher_database_up") == 0


async def test_readyz_reports_a_stopping_scheduler(service):
    service.stopping.set()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{service.http.port}", timeout=10) as client:
        ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["scheduler"] == "stopped"


async def test_a_taken_http_port_stops_the_service_at_start(tmp_path, write_config):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        path = write_config({"database": f"sqlite:///{tmp_path / 'w.db'}",
                             "http": {"host": "127.0.0.1", "port": taken.getsockname()[1]}})  # fmt: skip
        svc = Service(str(path), load=lambda p: settings_mod.load(p, env={}))
        with pytest.raises(SystemExit):
            await svc.start()
