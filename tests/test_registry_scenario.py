"""The deadline registry end to end: a notice moves a deadline → one alert naming the measure,
the old and new dates and the evidence; accepting the finding updates the registry and its history."""

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
from tests.test_pipeline import mailto
from watcher.commands import poll_once
from watcher.db import registry as registry_db
from watcher.db.engine import make_engine, sessions
from watcher.settings import load

REPO = Path(__file__).resolve().parents[1]
# the registry as it stood on 26 October 2025 (a fixture: the shipped one is current)
OCTOBER_2025 = REPO / "tests" / "data" / "registry_2025-10-26.yaml"
PUBLISHED = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
SUSPENSION = {
    "guid": "urn:news:truce-1",
    "title": "China suspends rare earth export controls for a year",
    "link": "https://news.example.com/china-suspends-rare-earth-controls",
    "description": (
        "Beijing said on Sunday that it would pause the sweeping rare earth export controls it announced "
        "in October. China suspends those controls until November 10, 2026, the commerce ministry said."
    ),
    "pubDate": PUBLISHED,
}


def write_setup(tmp_path: Path, db_url: str, feed_url: str, mail: str, trusted: bool = False) -> Path:
    registry = yaml.safe_load((OCTOBER_2025).read_text(encoding="utf-8"))
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(registry, allow_unicode=True), encoding="utf-8")
    data: dict[str, Any] = {
        "database": db_url,
        "allow_private_networks": True,
        "defaults": {"interval": "15m", "timeout": "5s", "channels": ["compliance"]},
        "sources": [{"name": "news", "kind": "feed", "url": feed_url, "trusted": trusted}],
        "rules": [{"name": "rare-earths", "any": ["rare earth"]}],
        "channels": [{"name": "compliance", "url": mail}],
        "registry": "deadlines.yaml",
    }
    path = tmp_path / "watcher.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def measure(path: Path, measure_id: str) -> Any:
    settings = load(path, env={})
    engine = make_engine(settings.database)
    with sessions(engine)() as session:
        found, history = registry_db.get_measure(session, measure_id), registry_db.measure_history(session, measure_id)
    engine.dispose()
    return found, history


def watcher(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args], capture_output=True, text=True, timeout=120)


def test_a_suspension_in_the_news_is_one_alert_with_the_change_and_accepting_it_updates_the_registry(
    tmp_path, db_url, feed_server, smtp_sink
):
    feed_server.set("/feed", feed_xml([SUSPENSION]))
    path = write_setup(tmp_path, db_url, feed_server.url("/feed"), mailto(smtp_sink))

    outcomes, report = asyncio.run(poll_once(load(path, env={}), []))
    assert outcomes[0].alerts == 1 and report.sent == 1
    [message] = smtp_sink.wait_for(1)
    html = message.get_body(("html",)).get_content()
    assert "MOFCOM rare-earth export controls of 9 October 2025" in message["Subject"]
    assert "effective 2025-12-01 → suspended until 2026-11-10" in html
    assert "China suspends those controls until November 10, 2026" in html
    assert SUSPENSION["link"] in html

    asyncio.run(poll_once(load(path, env={}), []))  # again: nothing new
    assert len(smtp_sink.messages) == 1

    listed = json.loads(watcher("findings", "list", "--json", "--config", str(path)).stdout)
    suspended = [f for f in listed if f["kind"] == "suspended" and f["date"] == "2026-11-10"]
    assert len(suspended) == 1 and suspended[0]["measure"] == "cn-mofcom-2025-rare-earth"
    assert suspended[0]["status"] == "proposed"
    before, _ = measure(path, "cn-mofcom-2025-rare-earth")
    assert before.status == "announced"  # a proposal changes nothing until accepted

    accepted = watcher("findings", "accept", str(suspended[0]["id"]), "--by", "alice", "--config", str(path))
    assert accepted.returncode == 0, accepted.stderr
    after, history = measure(path, "cn-mofcom-2025-rare-earth")
    assert after.status == "suspended"
    states = {(m.kind, m.date.isoformat()): m.state for m in after.milestones}
    assert states[("effective", "2025-12-01")] == "suspended"
    assert states[("suspension_end", "2026-11-10")] == "active"
    last = history[-1]
    assert last["actor"] == "alice" and last["action"] == "finding:suspended"
    assert last["before"]["status"] == "announced" and last["after"]["status"] == "suspended"
    assert "November 10, 2026" in last["evidence"] and last["link"] == SUSPENSION["link"]


def test_the_same_claim_in_the_official_notice_corroborates_the_finding_without_a_second_alert(
    tmp_path, db_url, feed_server, smtp_sink
):
    official = dict(SUSPENSION, guid="urn:mofcom:70", link="https://www.mofcom.gov.cn/article/70.shtml",
                    title="MOFCOM Announcement No. 70 of 2025",
                    description="The implementation of MOFCOM Announcement No. 61 of 2025 is suspended until "
                                "November 10, 2026.")  # fmt: skip
    feed_server.set("/feed", feed_xml([SUSPENSION]))
    path = write_setup(tmp_path, db_url, feed_server.url("/feed"), mailto(smtp_sink))
    asyncio.run(poll_once(load(path, env={}), []))
    feed_server.set("/feed", feed_xml([SUSPENSION, official]))
    asyncio.run(poll_once(load(path, env={}), []))
    smtp_sink.wait_for(1)
    assert len(smtp_sink.messages) == 1

    listed = json.loads(watcher("findings", "list", "--json", "--config", str(path)).stdout)
    [finding] = [f for f in listed if f["kind"] == "suspended" and f["date"] == "2026-11-10"]
    assert [e["link"] for e in finding["evidence"]] == [SUSPENSION["link"], official["link"]]


def test_a_trusted_source_updates_the_registry_at_once_and_says_so(tmp_path, db_url, feed_server, smtp_sink):
    feed_server.set("/feed", feed_xml([SUSPENSION]))
    path = write_setup(tmp_path, db_url, feed_server.url("/feed"), mailto(smtp_sink), trusted=True)
    asyncio.run(poll_once(load(path, env={}), []))
    html = smtp_sink.wait_for(1)[0].get_body(("html",)).get_content()
    assert "applied to the registry" in html
    after, history = measure(path, "cn-mofcom-2025-rare-earth")
    assert after.status == "suspended" and history[-1]["actor"] == "source:news"


def test_sources_test_shows_the_findings_a_notice_would_make_and_writes_nothing(tmp_path, feed_server):
    feed_server.set("/feed", feed_xml([SUSPENSION]))
    path = write_setup(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", feed_server.url("/feed"), "")
    proc = watcher("sources", "test", "news", "--json", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    [item] = json.loads(proc.stdout)
    assert {"kind": "suspended", "measure": "cn-mofcom-2025-rare-earth",
            "change": "effective 2025-12-01 → suspended until 2026-11-10"} in item["findings"]  # fmt: skip
    assert not (tmp_path / "w.db").exists()
