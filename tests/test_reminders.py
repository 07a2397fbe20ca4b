"""Reminders before each milestone: once per offset across any number of runs, only the most
urgent after downtime, in the milestone's own zone, never for a moved date or a held milestone,
and delivered through the real outbox (webhook sink), from the CLI and from the running service.

The clock is simulated (`now` passed in, `--at` on the CLI): reminders are about days and weeks."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.processes import log_events, start_service, wait_until
from watcher.commands import poll_once
from watcher.db import outbox as outbox_db
from watcher.db import registry as registry_db
from watcher.db.engine import make_engine, sessions, upgrade
from watcher.models import Measure, Milestone
from watcher.registry.reminders import due_reminders, reminder_alerts, send_reminders
from watcher.registry_file import load_file
from watcher.settings import Reminders, Settings, load

REPO = Path(__file__).resolve().parents[1]
# the registry as it stood on 26 October 2025 (a fixture: the shipped one is current)
OCTOBER_2025 = REPO / "tests" / "data" / "registry_2025-10-26.yaml"
UTC = dt.UTC
RARE_EARTH = "cn-mofcom-2025-rare-earth"
TRUCE = "us-cn-reciprocal-tariff-truce-2025"


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def shipped() -> dict[str, Measure]:
    return {
        m.id: m for m in load_file(OCTOBER_2025, {"compliance", "console"})
    }


def settings_for(db_url: str, **extra: Any) -> Settings:
    data: dict[str, Any] = {"database": db_url, "defaults": {"channels": ["ops"]},
                            "channels": [{"name": "ops", "url": ""}, {"name": "compliance", "url": ""}]}  # fmt: skip
    data.update(extra)
    return Settings.model_validate(data)


def simple(day: str, **kw: Any) -> Measure:
    ms = Milestone(
        "effective", dt.date.fromisoformat(day), uid="m/effective/1", note="takes effect", **kw
    )
    return Measure(
        id="m",
        title="A measure",
        reference="Ref. 1",
        milestones=(ms,),
        source="https://example.gov/m",
    )


@pytest.fixture
def db(db_url: str) -> Iterator[Any]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield sessions(engine)
    engine.dispose()


def save(maker: Any, *measures: Measure) -> None:
    with maker() as session, session.begin():
        for m in measures:
            registry_db.save_measure(
                session, m, actor="test", action="edited", now=at("2025-10-01T00:00")
            )


def run(maker: Any, settings: Settings, now: dt.datetime) -> int:
    with maker() as session, session.begin():
        return send_reminders(session, settings, now)


def outbox(maker: Any) -> list[outbox_db.StoredAlert]:
    with maker() as session:
        return outbox_db.list_alerts(session, limit=10_000)


def test_each_offset_fires_exactly_once_when_the_check_runs_every_few_hours_for_weeks(db, db_url):
    settings = settings_for(db_url)
    save(db, simple("2025-12-01"))
    first_seen: dict[str, dt.datetime] = {}
    now = at("2025-10-20T00:00")
    while now < at("2025-12-04T00:00"):
        run(db, settings, now)
        for a in outbox(db):
            first_seen.setdefault(a.alert.dedup_key, now)
        now += dt.timedelta(hours=4)

    alerts = outbox(db)
    assert len(alerts) == 4  # 30, 7, 1 and 0 days before; none twice
    assert first_seen == {
        "reminder|m/effective/1|2025-12-01|30": at("2025-11-01T08:00"),
        "reminder|m/effective/1|2025-12-01|7": at("2025-11-24T08:00"),
        "reminder|m/effective/1|2025-12-01|1": at("2025-11-30T08:00"),
        "reminder|m/effective/1|2025-12-01|0": at("2025-12-01T08:00"),
    }
    titles = sorted(a.alert.title for a in alerts)
    assert titles == ["In 30 days: A measure — effective 2025-12-01", "In 7 days: A measure — effective 2025-12-01",
                      "Today: A measure — effective 2025-12-01", "Tomorrow: A measure — effective 2025-12-01"]  # fmt: skip
    assert {a.alert.channel for a in alerts} == {"ops"}  # no channels of its own: defaults.channels


def test_after_downtime_only_the_most_urgent_due_reminder_is_sent_not_a_burst(db, db_url):
    settings = settings_for(db_url)
    save(db, simple("2025-12-01"))
    assert run(db, settings, at("2025-11-28T12:00")) == 1  # 30 and 7 days are both past: only 7
    [sent] = outbox(db)
    assert sent.alert.dedup_key.endswith("|7")
    assert sent.alert.title.startswith("In 3 days:")  # says how far it really is
    assert run(db, settings, at("2025-11-28T18:00")) == 0
    assert run(db, settings, at("2025-12-02T09:00")) == 0  # down again past the day: nothing late
    assert len(outbox(db)) == 1


def test_the_milestone_zone_decides_when_the_reminder_is_due():
    settings = Reminders(at="08:00", tz="UTC")
    truce = shipped()[TRUCE]  # expiry 2025-11-10 00:01 America/New_York
    pairs = [(truce, truce.milestones[0])]

    def offsets(now: str) -> list[int]:
        return [r.offset for r in due_reminders(pairs, at(now), settings)]

    assert offsets("2025-11-09T12:59") == [7]  # 07:59 in New York
    assert offsets("2025-11-09T13:00") == [1]  # 08:00 EST
    assert offsets("2025-11-10T12:59") == [1]
    assert offsets("2025-11-10T13:00") == [0]
    assert offsets("2025-11-11T04:59") == [0]  # still 10 November in New York
    assert offsets("2025-11-11T05:00") == []
    # Without a zone of its own, `reminders.tz` decides.
    plain = replace(truce.milestones[0], tz=None, time=None)
    assert [
        r.offset for r in due_reminders([(truce, plain)], at("2025-11-09T08:00"), settings)
    ] == [1]
    shanghai = Reminders(at="08:00", tz="Asia/Shanghai")
    assert [
        r.offset for r in due_reminders([(truce, plain)], at("2025-11-09T00:00"), shanghai)
    ] == [1]


def test_a_reminder_names_the_measure_the_milestone_and_goes_to_the_measure_channels():
    measure = shipped()[RARE_EARTH]
    [r] = due_reminders([(measure, measure.milestones[0])], at("2025-11-24T08:00"), Reminders())
    [alert] = reminder_alerts([r], settings_for("sqlite://"))
    assert (
        alert.title
        == "In 7 days: MOFCOM rare-earth export controls of 9 October 2025 — effective 2025-12-01"
    )
    assert (alert.kind, alert.rule, alert.source, alert.channel) == (
        "reminder",
        "reminder",
        "registry",
        "compliance",
    )
    assert alert.dedup_key == f"reminder|{RARE_EARTH}/effective/1|2025-12-01|7"
    assert alert.link == "https://www.mofcom.gov.cn/" and "Extraterritorial rules" in alert.sentence
    assert alert.extra["milestone"] == "effective 2025-12-01"
    assert alert.extra["reference"] == "MOFCOM Announcement No. 61 of 2025"
    assert RARE_EARTH in alert.extra["measure"]
    truce = shipped()[TRUCE]
    [r] = due_reminders([(truce, truce.milestones[0])], at("2025-11-10T13:00"), Reminders())
    [alert] = reminder_alerts([r], settings_for("sqlite://"))
    assert alert.title.startswith("Today: US–China reciprocal tariff truce")
    assert alert.extra["milestone"] == "expires 2025-11-10 00:01 America/New_York"


def test_a_moved_milestone_is_reminded_of_its_new_date_only(db, db_url):
    settings = settings_for(db_url)
    save(db, simple("2025-12-01"))
    assert run(db, settings, at("2025-11-24T09:00")) == 1  # 7 days before the old date
    moved = simple("2026-11-10")
    save(db, moved)  # same uid, new date (as `deadlines edit --move` or an accepted finding does)
    for day in ("2025-11-30T09:00", "2025-12-01T09:00", "2026-10-10T09:00"):
        assert run(db, settings, at(day)) == 0, day  # the old date's 1 and 0 never fire
    assert run(db, settings, at("2026-10-11T09:00")) == 1
    keys = [a.alert.dedup_key for a in outbox(db)]
    assert sorted(keys) == [
        "reminder|m/effective/1|2025-12-01|7",
        "reminder|m/effective/1|2026-11-10|30",
    ]


def test_a_suspended_measure_gets_no_reminder_for_held_milestones_but_does_for_its_expiry(
    db, db_url
):
    settings = settings_for(db_url)
    held = Milestone("effective", dt.date(2025, 12, 1), uid="s/effective/1", state="suspended")
    expiry = Milestone("expiry", dt.date(2026, 11, 10), uid="s/expiry/1", note="suspension ends")
    cancelled = Milestone(
        "compliance", dt.date(2025, 12, 1), uid="s/compliance/1", state="cancelled"
    )
    suspended = Measure(
        id="s", title="Suspended measure", status="suspended", milestones=(held, expiry, cancelled)
    )
    revoked = replace(simple("2025-12-01"), id="r", status="revoked",
                      milestones=(Milestone("effective", dt.date(2025, 12, 1), uid="r/effective/1"),))  # fmt: skip
    save(db, suspended, revoked)
    for day in ("2025-11-01T09:00", "2025-11-24T09:00", "2025-11-30T09:00", "2025-12-01T09:00"):
        assert run(db, settings, at(day)) == 0, day
    assert run(db, settings, at("2026-11-09T09:00")) == 1
    [alert] = outbox(db)
    assert alert.alert.title == "Tomorrow: Suspended measure — expires 2026-11-10"


# ---------------------------------------------------------------- end to end


def write_setup(tmp_path: Path, db_url: str, hook: str) -> Path:
    (tmp_path / "deadlines.yaml").write_text((OCTOBER_2025).read_text(encoding="utf-8"),
                                             encoding="utf-8")  # fmt: skip
    data = {
        "database": db_url,
        "allow_private_networks": True,  # the webhook sink is on 127.0.0.1
        "defaults": {"channels": ["ops"]},
        "channels": [{"name": "compliance", "url": hook}, {"name": "ops", "url": hook}],
        "registry": "deadlines.yaml",
    }
    path = tmp_path / "watcher.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def watcher(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args], capture_output=True, text=True, timeout=120
    )


def test_the_cli_enqueues_due_reminders_once_and_the_outbox_delivers_them_to_the_webhook(
    tmp_path, db_url, webhook_sink
):
    path = write_setup(tmp_path, db_url, webhook_sink.url("/hook"))
    when = "2025-11-24T08:30:00+00:00"  # 7 days before the rare-earth controls' 1 December

    dry = watcher("reminders", "--at", when, "--dry-run", "--json", "--config", str(path))
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert [p["dedup_key"] for p in planned] == [f"reminder|{RARE_EARTH}/effective/1|2025-12-01|7"]
    assert planned[0]["channel"] == "compliance"

    done = watcher("reminders", "--at", when, "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert (
        "enqueued 1 reminder alert" in done.stdout and "In 7 days: MOFCOM rare-earth" in done.stdout
    )
    again = watcher("reminders", "--at", "2025-11-24T20:00:00Z", "--config", str(path))
    assert "enqueued 0 reminder alerts" in again.stdout

    _, report = asyncio.run(poll_once(load(path, env={}), []))  # no sources: just deliver
    assert report.sent == 1
    [request] = webhook_sink.wait_for(1)
    assert (
        "In 7 days: MOFCOM rare-earth export controls of 9 October 2025 — effective 2025-12-01"
        in request.body["title"]
    )
    assert "MOFCOM Announcement No. 61 of 2025" in request.body["message"]
    assert "Extraterritorial rules take effect" in request.body["message"]

    bad = watcher("reminders", "--at", "next tuesday", "--config", str(path))
    assert bad.returncode == 2 and "--at must be an ISO date" in bad.stderr


def test_the_running_service_sends_a_due_reminder_on_its_own(tmp_path, webhook_sink):

    tomorrow = dt.datetime.now(UTC).date() + dt.timedelta(days=1)
    registry = {"measures": [{"id": "soon", "title": "A measure due tomorrow", "status": "in_force",
                              "milestones": [{"kind": "compliance", "date": tomorrow.isoformat(),
                                              "note": "licences required", "source": "https://example.gov/soon"}]}]}  # fmt: skip
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(registry), encoding="utf-8")
    data = {
        "database": f"sqlite:///{tmp_path / 'w.db'}",
        "allow_private_networks": True,
        "http": {"port": 0},
        "defaults": {"channels": ["hook"]},
        "delivery": {"interval": "1s"},
        "channels": [{"name": "hook", "url": webhook_sink.url("/hook")}],
        "registry": "deadlines.yaml",
        "reminders": {"at": "00:00"},  # 1 day before = today 00:00 UTC, already past
    }
    path = tmp_path / "watcher.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    log = tmp_path / "service.log"
    proc = start_service(path, log)
    try:
        [request] = webhook_sink.wait_for(1, timeout=30)
        assert (
            f"A measure due tomorrow — compliance {tomorrow.isoformat()}" in request.body["title"]
        )
        assert request.body["title"].startswith(
            ("Reminder: Tomorrow:", "Reminder: Today:")
        )  # midnight
        wait_until(
            lambda: any(e.get("event") == "reminders.enqueued" for e in log_events(log)),
            what="the job's log line",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0
    assert len(webhook_sink.requests) == 1
