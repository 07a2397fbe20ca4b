"""The registry as an iCalendar file, parsed back with `icalendar`: one event per milestone, UIDs
stable across exports, SEQUENCE raised when a milestone changes, timed events in their zone,
held and cancelled milestones marked CANCELLED."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import yaml

from watcher.db import registry as registry_db
from watcher.models import Milestone
from watcher.registry.calendar import PRODID, build_ics, export_ics
from watcher.registry_file import load_file
from watcher.settings import Settings

REPO = Path(__file__).resolve().parents[1]
# the registry as it stood on 26 October 2025 (a fixture: the shipped one is current)
OCTOBER_2025 = REPO / "tests" / "data" / "registry_2025-10-26.yaml"
SHIPPED = OCTOBER_2025  # imported as the shipped registry was
NOW = dt.datetime(2025, 10, 26, 12, 0, tzinfo=dt.UTC)


def settings_for(db_url: str) -> Settings:
    return Settings.model_validate(
        {"database": db_url, "channels": [{"name": "compliance", "url": ""}]}
    )


def import_shipped(settings: Settings) -> None:
    from watcher.registry.admin import session_for

    with session_for(settings) as session:
        registry_db.import_measures(
            session, load_file(SHIPPED, {"compliance", "console"}), "test", NOW
        )


def events(path: Path) -> dict[str, Any]:
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    assert str(cal["PRODID"]) == PRODID and str(cal["X-WR-CALNAME"]) == "watcher deadlines"
    found = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert len(found) == len(cal.walk("VEVENT")), "two events share a UID"
    return found


def test_the_shipped_registry_exports_one_event_per_milestone_and_imports_back(tmp_path, db_url):
    settings = settings_for(db_url)
    import_shipped(settings)
    milestones = [
        (m, ms) for m in load_file(SHIPPED, {"compliance", "console"}) for ms in m.milestones
    ]

    count = export_ics(settings, tmp_path / "deadlines.ics")
    found = events(tmp_path / "deadlines.ics")
    assert count == len(found) == len(milestones) == 5
    assert set(found) == {f"{ms.uid}@watcher" for _, ms in milestones}

    rare = found["cn-mofcom-2025-rare-earth/effective/1@watcher"]
    assert str(rare["SUMMARY"]) == "MOFCOM rare-earth export controls of 9 October 2025: effective 2025-12-01"
    assert rare.decoded("DTSTART") == dt.date(2025, 12, 1)  # all day (VALUE=DATE)
    assert rare["DTSTART"].params.get("VALUE") == "DATE"
    assert int(rare["SEQUENCE"]) == 0 and str(rare["STATUS"]) == "CONFIRMED"
    assert str(rare["URL"]) == "https://www.mofcom.gov.cn/"
    assert [str(c) for c in rare["CATEGORIES"].cats] == ["rare-earths", "export-controls"]
    description = str(rare["DESCRIPTION"])
    assert "Extraterritorial rules take effect" in description
    assert (
        "MOFCOM Announcement No. 61 of 2025" in description and "Status: announced" in description
    )

    truce = found["us-cn-reciprocal-tariff-truce-2025/expiry/1@watcher"]
    start = truce.decoded("DTSTART")
    assert start == dt.datetime(2025, 11, 10, 0, 1, tzinfo=ZoneInfo("America/New_York"))
    assert truce["DTSTART"].params["TZID"] == "America/New_York"
    assert start.astimezone(dt.UTC) == dt.datetime(2025, 11, 10, 5, 1, tzinfo=dt.UTC)
    cal = icalendar.Calendar.from_ical((tmp_path / "deadlines.ics").read_bytes())
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["America/New_York"]


def test_uids_are_stable_across_exports_and_a_moved_milestone_gets_a_higher_sequence(
    tmp_path, db_url
):
    from watcher.registry.admin import session_for

    settings = settings_for(db_url)
    import_shipped(settings)
    export_ics(settings, tmp_path / "first.ics")
    export_ics(settings, tmp_path / "second.ics")
    first, second = events(tmp_path / "first.ics"), events(tmp_path / "second.ics")
    assert set(first) == set(second)
    assert {u: int(e["SEQUENCE"]) for u, e in first.items()} == {
        u: int(e["SEQUENCE"]) for u, e in second.items()
    }

    with session_for(settings) as session:  # the suspension: 1 Dec held, expiry 10 Nov 2026 added
        m = registry_db.get_measure(session, "cn-mofcom-2025-rare-earth")
        assert m is not None
        held = replace(m.milestones[0], state="suspended")
        expiry = Milestone(
            "expiry", dt.date(2026, 11, 10), uid="cn-mofcom-2025-rare-earth/expiry/1"
        )
        registry_db.save_measure(session, replace(m, status="suspended", milestones=(held, expiry)),
                                 actor="test", action="edited", now=NOW)  # fmt: skip
        truce = registry_db.get_measure(session, "us-cn-reciprocal-tariff-truce-2025")
        assert truce is not None
        moved = replace(truce.milestones[0], date=dt.date(2026, 11, 10))
        registry_db.save_measure(
            session, replace(truce, milestones=(moved,)), actor="test", action="edited", now=NOW
        )
    export_ics(settings, tmp_path / "third.ics")
    third = events(tmp_path / "third.ics")

    assert set(third) == set(first) | {
        "cn-mofcom-2025-rare-earth/expiry/1@watcher"
    }  # same UIDs: updates
    rare = third["cn-mofcom-2025-rare-earth/effective/1@watcher"]
    assert (
        int(rare["SEQUENCE"]) == 1 and str(rare["STATUS"]) == "CANCELLED"
    )  # held: calendars drop it
    assert str(third["cn-mofcom-2025-rare-earth/expiry/1@watcher"]["STATUS"]) == "CONFIRMED"
    truce_event = third["us-cn-reciprocal-tariff-truce-2025/expiry/1@watcher"]
    assert int(truce_event["SEQUENCE"]) == 1
    assert truce_event.decoded("DTSTART") == dt.datetime(
        2026, 11, 10, 0, 1, tzinfo=ZoneInfo("America/New_York")
    )
    untouched = "us-ustr-section-301-ships/effective/1@watcher"
    assert int(third[untouched]["SEQUENCE"]) == int(first[untouched]["SEQUENCE"]) == 0


def test_cancelled_milestones_and_revoked_measures_stay_in_the_file_as_cancelled_events():
    measures = load_file(SHIPPED, {"compliance", "console"})
    revoked = replace(measures[0], status="revoked")
    cancelled = replace(measures[1], milestones=tuple(replace(ms, state="cancelled", sequence=3)
                                                      for ms in measures[1].milestones))  # fmt: skip
    cal = icalendar.Calendar.from_ical(build_ics([revoked, cancelled], now=NOW))
    found = cal.walk("VEVENT")
    assert len(found) == 2
    assert [str(e["STATUS"]) for e in found] == ["CANCELLED", "CANCELLED"]
    assert int(found[1]["SEQUENCE"]) == 3
    assert all(e.decoded("DTSTAMP") == NOW for e in found)
    assert not any(e.walk("VALARM") for e in found)  # no alarm for a date that no longer stands


def test_deadlines_export_ics_from_the_cli_writes_a_file_calendars_can_read(tmp_path):
    (tmp_path / "deadlines.yaml").write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    config = tmp_path / "watcher.yaml"
    config.write_text(yaml.safe_dump({
        "database": f"sqlite:///{tmp_path / 'w.db'}", "registry": "deadlines.yaml",
        "channels": [{"name": "compliance", "url": ""}],
    }), encoding="utf-8")  # fmt: skip

    def watcher(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "watcher", *args, "--config", str(config)],
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    imported = watcher("deadlines", "import", str(tmp_path / "deadlines.yaml"))
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "out" / "deadlines.ics"
    out.parent.mkdir()
    done = watcher("deadlines", "export", "--ics", str(out))
    assert done.returncode == 0, done.stderr
    assert f"wrote 5 events to {out}" in done.stdout
    found = events(out)
    assert len(found) == 5 and "cn-special-port-fees-us-ships/effective/1@watcher" in found
    assert [p.name for p in out.parent.iterdir()] == [
        "deadlines.ics"
    ]  # no temporary file left behind
