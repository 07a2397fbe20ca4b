"""Findings that stay consistent, end to end on both databases: a newer claim about a milestone
supersedes an older one, two sources that disagree are a visible conflict, accepting an outdated
claim is refused in one line, and a finding can be reopened. Never two milestones for one."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.servers import feed_xml
from watcher.commands import poll_once
from watcher.db import registry as registry_db
from watcher.db.engine import make_engine, sessions
from watcher.settings import load

NOW = dt.datetime.now(dt.UTC)
REGISTRY = {"measures": [{
    "id": "cn-rare-earth", "title": "MOFCOM rare-earth export controls", "jurisdiction": "CN", "authority": "MOFCOM",
    "reference": "MOFCOM Announcement No. 61 of 2025", "aliases": ["rare earth export controls"],
    "status": "announced", "milestones": [{"kind": "effective", "date": "2025-12-01"}],
}]}  # fmt: skip


def notice(n: int, text: str, days_ago: int) -> dict[str, Any]:
    return {"guid": f"urn:{n}", "title": f"Notice {n}", "link": f"https://example.gov/{n}", "description": text,
            "pubDate": NOW - dt.timedelta(days=days_ago)}  # fmt: skip


def setup(tmp_path: Path, db_url: str, feeds: dict[str, str], hook: str) -> Path:
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(REGISTRY), encoding="utf-8")
    data = {
        "database": db_url, "allow_private_networks": True, "registry": "deadlines.yaml",
        "defaults": {"interval": "15m", "timeout": "5s", "channels": ["compliance"], "backfill": "0s"},
        "sources": [{"name": name, "kind": "feed", "url": url} for name, url in feeds.items()],
        "rules": [{"name": "rare-earths", "any": ["rare earth"]}],
        "channels": [{"name": "compliance", "url": hook}],
    }  # fmt: skip
    path = tmp_path / "watcher.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def watcher(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args, "--config", str(path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def findings(path: Path) -> dict[str, dict[str, Any]]:
    listed = json.loads(watcher(path, "findings", "list", "--json").stdout)
    return {f["date"]: f for f in listed if f["measure"] == "cn-rare-earth" and f["kind"] != "confirmed"}


def ends(path: Path) -> list[str]:
    settings = load(path, env={})
    engine = make_engine(settings.database)
    with sessions(engine)() as session:
        m = registry_db.get_measure(session, "cn-rare-earth")
    engine.dispose()
    assert m is not None
    return sorted(ms.date.isoformat() for ms in m.milestones if ms.kind == "suspension_end" and ms.state == "active")


def test_a_newer_claim_supersedes_the_older_and_accepting_the_outdated_one_is_refused(
    tmp_path, db_url, feed_server, webhook_sink
):
    feed_server.set("/news", feed_xml([notice(1, "China suspends the rare earth export controls until November 10, 2026.", 30)]))
    path = setup(tmp_path, db_url, {"news": feed_server.url("/news")}, webhook_sink.url())
    asyncio.run(poll_once(load(path, env={}), []))
    feed_server.set("/news", feed_xml([
        notice(1, "China suspends the rare earth export controls until November 10, 2026.", 30),
        notice(2, "China extended the suspension of the rare earth export controls until November 9, 2027.", 1),
    ]))  # fmt: skip
    asyncio.run(poll_once(load(path, env={}), []))
    found = findings(path)
    old, new = found["2026-11-10"], found["2027-11-09"]
    assert (old["status"], new["status"]) == ("superseded", "proposed")

    refused = watcher(path, "findings", "accept", str(old["id"]))
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "superseded" in refused.stderr and "Traceback" not in refused.stderr
    assert watcher(path, "findings", "accept", str(new["id"])).returncode == 0
    assert ends(path) == ["2027-11-09"]

    assert watcher(path, "findings", "reopen", str(old["id"])).returncode == 0
    assert findings(path)["2026-11-10"]["status"] == "proposed"
    outdated = watcher(path, "findings", "accept", str(old["id"]))
    assert outdated.returncode == 1 and "older than" in outdated.stderr
    assert ends(path) == ["2027-11-09"]  # one milestone: one reminder, one calendar event


def test_two_sources_that_disagree_on_the_date_are_a_visible_conflict_resolved_by_accepting_one(
    tmp_path, db_url, feed_server, webhook_sink
):
    feed_server.set("/news", feed_xml([notice(1, "China suspends the rare earth export controls until November 10, 2026.", 1)]))
    feed_server.set("/wire", feed_xml([notice(2, "China suspends the rare earth export controls until November 11, 2026.", 1)]))
    path = setup(tmp_path, db_url, {"news": feed_server.url("/news"), "wire": feed_server.url("/wire")}, webhook_sink.url())
    asyncio.run(poll_once(load(path, env={}), []))
    found = findings(path)
    assert {f["status"] for f in found.values()} == {"conflict"} and len(found) == 2

    assert watcher(path, "findings", "accept", str(found["2026-11-10"]["id"])).returncode == 0
    assert findings(path)["2026-11-11"]["status"] == "superseded"
    assert ends(path) == ["2026-11-10"]


def test_a_suspension_told_twice_in_one_poll_an_extension_and_a_late_outdated_report_each_say_the_right_thing(
    tmp_path, db_url, feed_server, webhook_sink
):
    cn = "自即日起至2026年11月10日，暂停实施商务部公告2025年第61号。本公告自公布之日起施行。"
    en = "MOFCOM Announcement No. 61 of 2025 is suspended until November 10, 2026."
    feed_server.set("/news", feed_xml([notice(1, cn, 400), notice(2, en, 400)]))
    path = setup(tmp_path, db_url, {"news": feed_server.url("/news")}, webhook_sink.url())
    asyncio.run(poll_once(load(path, env={}), []))
    told = [(c["new_kind"], c["new_date"]) for r in webhook_sink.requests for c in r.body["watcher"]["changes"]]
    assert told.count(("suspension_end", "2026-11-10")) == 1  # told once, with the first notice that says it
    for f in findings(path).values():
        watcher(path, "findings", "accept", str(f["id"]))
    assert ends(path) == ["2026-11-10"]

    extension = "经研究决定，商务部公告2025年第61号的暂停实施期限延长至2027年11月10日。本公告自公布之日起施行。"
    feed_server.set("/news", feed_xml([notice(1, cn, 400), notice(2, en, 400), notice(3, extension, 2)]))
    asyncio.run(poll_once(load(path, env={}), []))
    kinds = {(f["kind"], f["date"]) for f in json.loads(watcher(path, "findings", "list", "--json").stdout)
             if f["status"] == "proposed"}  # fmt: skip
    assert kinds == {("extended", "2027-11-10")}  # its own commencement does not move the suspension's start
    watcher(path, "findings", "accept", str(findings(path)["2027-11-10"]["id"]))

    before = len(webhook_sink.requests)
    late = "Old report: MOFCOM Announcement No. 61 of 2025 is suspended until November 9, 2026."
    feed_server.set("/news", feed_xml([notice(1, cn, 400), notice(2, en, 400), notice(3, extension, 2), notice(4, late, 300)]))
    asyncio.run(poll_once(load(path, env={}), []))
    assert findings(path)["2026-11-09"]["status"] == "superseded"  # outdated on arrival
    assert all(not r.body["watcher"]["changes"] for r in webhook_sink.requests[before:])
    assert ends(path) == ["2027-11-10"]
