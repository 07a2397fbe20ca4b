"""A suspension notice end to end, on both databases: the message says the measure is suspended
from the notice's own commencement until a date (never "effective" on publication, never an
expiry), a passage naming another measure moves nothing, and once accepted the reminder and the
calendar say the suspension ends and the measure resumes unless extended."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from pathlib import Path

import icalendar
import yaml

from tests.servers import feed_xml
from watcher.commands import poll_once
from watcher.db import registry as registry_db
from watcher.db.engine import make_engine, sessions
from watcher.registry.reminders import due_reminders, reminder_alerts
from watcher.settings import load

REGISTRY = {"measures": [
    {"id": "cn-rare-earth", "title": "MOFCOM rare-earth export controls (No. 61)", "jurisdiction": "CN",
     "authority": "MOFCOM", "reference": "MOFCOM Announcement No. 61 of 2025", "aliases": ["稀土出口管制"],
     "status": "announced", "milestones": [{"kind": "effective", "date": "2025-12-01", "tz": "Asia/Shanghai"}]},
    {"id": "cn-gallium", "title": "Gallium and germanium export ban to the US (No. 46 of 2024)", "jurisdiction": "CN",
     "authority": "MOFCOM", "reference": "MOFCOM Announcement No. 46 of 2024", "aliases": ["镓、锗"],
     "status": "in_force", "milestones": [{"kind": "effective", "date": "2024-12-03", "tz": "Asia/Shanghai"}]},
]}  # fmt: skip
NOTICE = {
    "guid": "urn:mofcom:70", "title": "商务部公告2025年第70号", "link": "https://www.mofcom.gov.cn/article/70.html",
    "description": "商务部公告2025年第61号规定的稀土出口管制措施暂停实施至2026年11月10日。本公告自公布之日起施行。",
    "pubDate": dt.datetime(2025, 11, 7, 1, 0, tzinfo=dt.UTC),
}
OTHER = {
    "guid": "urn:mofcom:72", "title": "商务部公告2025年第72号", "link": "https://www.mofcom.gov.cn/article/72.html",
    "description": "商务部公告2024年第46号第二款暂停实施至2026年11月27日。此前公布的稀土出口管制措施另行规定。",
    "pubDate": dt.datetime(2025, 11, 9, 1, 0, tzinfo=dt.UTC),
}


def setup(tmp_path: Path, db_url: str, feed: str, hook: str) -> Path:
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(REGISTRY, allow_unicode=True), encoding="utf-8")
    data = {
        "database": db_url, "allow_private_networks": True, "registry": "deadlines.yaml",
        "defaults": {"interval": "15m", "timeout": "5s", "channels": ["compliance"], "backfill": "0s"},
        "sources": [{"name": "mofcom", "kind": "feed", "url": feed}],
        "rules": [{"name": "mofcom", "any": ["商务部"]}],
        "channels": [{"name": "compliance", "url": hook}],
    }  # fmt: skip
    path = tmp_path / "watcher.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def watcher(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args, "--config", str(path)],
                          capture_output=True, text=True, timeout=120, check=True)  # fmt: skip


def test_a_suspension_notice_is_told_as_a_period_and_accepted_it_is_reminded_as_one(
    tmp_path, db_url, feed_server, webhook_sink
):
    feed_server.set("/feed", feed_xml([NOTICE, OTHER]))
    path = setup(tmp_path, db_url, feed_server.url("/feed"), webhook_sink.url())
    settings = load(path, env={})
    asyncio.run(poll_once(settings, []))
    messages = {r.body["watcher"]["link"]: r.body for r in webhook_sink.wait_for(2)}

    seventy = messages[NOTICE["link"]]
    assert seventy["title"].startswith("Suspended") and "MOFCOM rare-earth export controls (No. 61)" in seventy["title"]
    changes = {(c["measure_id"], c["new_kind"], c["new_date"]) for c in seventy["watcher"]["changes"]}
    assert changes == {("cn-rare-earth", "suspension", "2025-11-07"), ("cn-rare-earth", "suspension_end", "2026-11-10")}
    assert "effective 2025-11-07" not in seventy["message"] and "expires" not in seventy["message"]
    # No. 72 also names the rare-earth controls, but its date belongs to No. 46 of 2024.
    seventy_two = messages[OTHER["link"]]
    assert {c["measure_id"] for c in seventy_two["watcher"]["changes"]} == {"cn-gallium"}

    for change in seventy["watcher"]["changes"]:
        watcher(path, "findings", "accept", str(change["finding_id"]))
    engine = make_engine(settings.database)
    with sessions(engine)() as session:
        m = registry_db.get_measure(session, "cn-rare-earth")
    engine.dispose()
    assert m is not None and m.status == "suspended"
    assert {(ms.kind, ms.date.isoformat(), ms.state) for ms in m.milestones} == {
        ("effective", "2025-12-01", "suspended"), ("suspension", "2025-11-07", "active"),
        ("suspension_end", "2026-11-10", "active"),
    }  # fmt: skip

    now = dt.datetime(2026, 11, 3, 1, 0, tzinfo=dt.UTC)  # 7 days before, 09:00 in Beijing
    end = next(ms for ms in m.milestones if ms.kind == "suspension_end")
    [reminder] = reminder_alerts(due_reminders([(m, end)], now, settings.reminders), settings)
    assert reminder.title == "In 7 days: MOFCOM rare-earth export controls (No. 61) — suspension ends 2026-11-10"
    assert "resumes unless the suspension is extended" in reminder.extra["milestone"]

    ics = tmp_path / "deadlines.ics"
    watcher(path, "deadlines", "export", "--ics", str(ics))
    summaries = {str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")}
    assert "MOFCOM rare-earth export controls (No. 61): suspension ends 2026-11-10" in summaries
    assert not any("expires" in s or "[expiry]" in s for s in summaries)
