"""`deadlines export` then `import` loses nothing: milestone states, uids and sequences, the measure's
status, the milestones accepted findings added; and the file's `as_of` date is a date."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import icalendar
import pytest
import yaml

from watcher.db import registry as registry_db
from watcher.db.engine import make_engine, sessions, upgrade
from watcher.errors import ConfigError
from watcher.models import Measure, Milestone
from watcher.registry.calendar import build_ics
from watcher.registry_file import dump_file, load_registry, parse_registry

NOW = dt.datetime(2025, 11, 12, 9, 0, tzinfo=dt.UTC)
FEES = Measure(
    id="port-fees", title="Port fees on Chinese-built vessels", jurisdiction="US", authority="USTR",
    reference="FR Doc 2025-06927", aliases=("port fees",), tags=("maritime",), status="in_force",
    source="https://www.govinfo.gov/content/pkg/FR-2025-04-23/html/2025-06927.htm", channels=("compliance",),
    milestones=(
        Milestone("effective", dt.date(2025, 10, 14), tz="America/New_York", note="fees begin", uid="port-fees/effective/1"),
        Milestone("compliance", dt.date(2025, 12, 10), note="phase 2", uid="port-fees/compliance/1"),
        Milestone("expiry", dt.date(2028, 4, 17), note="a date revoked later", uid="port-fees/expiry/1"),
    ),
)  # fmt: skip


def session_on(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    upgrade(engine)
    return engine, sessions(engine)


def lived(url: str) -> None:
    """A measure with a history: moved twice, suspended, a milestone cancelled, one from a finding."""
    engine, maker = session_on(url)
    with maker() as s, s.begin():
        registry_db.save_measure(s, FEES, actor="test", action="created", now=NOW)
        m = registry_db.get_measure(s, "port-fees")
        assert m is not None
        for day in (dt.date(2025, 12, 15), dt.date(2026, 1, 5)):  # SEQUENCE 2 on the compliance date
            m = replace(m, milestones=tuple(replace(x, date=day) if x.kind == "compliance" else x for x in m.milestones))
            registry_db.save_measure(s, m, actor="test", action="edited", now=NOW)
        held = tuple(
            replace(x, state="suspended") if x.kind == "compliance" else
            replace(x, state="superseded") if x.kind == "effective" else x
            for x in m.milestones if x.kind != "expiry"  # dropped: kept as cancelled
        ) + (Milestone("suspension_end", dt.date(2026, 11, 10), time="00:01", tz="America/New_York",
                       note="finding #7: suspended until November 10, 2026", source="https://example.gov/fr",
                       uid="port-fees/finding-7"),)  # fmt: skip
        registry_db.save_measure(s, replace(m, status="suspended", milestones=held), actor="finding", action="finding:suspended",
                                 now=NOW, finding_id=7)  # fmt: skip
    engine.dispose()


def measures(url: str) -> list[Measure]:
    engine, maker = session_on(url)
    with maker() as s:
        found = registry_db.get_measures(s)
    engine.dispose()
    return [replace(m, milestones=tuple(replace(ms, id=None) for ms in m.milestones)) for m in found]


def test_export_then_import_into_an_empty_database_gives_the_same_registry(tmp_path, db_url):
    source = f"sqlite:///{tmp_path / 'lived.db'}"
    lived(source)
    before = measures(source)
    states = {ms.uid: (ms.state, ms.sequence) for ms in before[0].milestones}
    assert states == {"port-fees/effective/1": ("superseded", 1), "port-fees/compliance/1": ("suspended", 3),
                      "port-fees/expiry/1": ("cancelled", 1), "port-fees/finding-7": ("active", 0)}  # fmt: skip

    text = dump_file(before, as_of=dt.date(2025, 11, 12))
    assert "state: cancelled" in text and "sequence: 3" in text and "as_of: 2025-11-12" in text
    engine, maker = session_on(db_url)  # the empty database
    with maker() as s, s.begin():
        counts = registry_db.import_measures(s, parse_registry(yaml.safe_load(text), "exported"), "file:x", NOW)
    engine.dispose()
    assert counts == {"created": 1, "updated": 0, "unchanged": 0}

    after = measures(db_url)
    assert after == before  # status, states, uids, sequences, notes and sources, the finding's milestone
    assert dump_file(after, as_of=dt.date(2025, 11, 12)) == text
    # the calendar of the copy: the same events, held and cancelled ones still cancelled, same SEQUENCE
    cal = lambda ms: {(str(e["UID"]), str(e["STATUS"]), int(e["SEQUENCE"]))  # noqa: E731
                      for e in icalendar.Calendar.from_ical(build_ics(ms, now=NOW)).walk("VEVENT")}  # fmt: skip
    assert cal(after) == cal(before)
    assert ("port-fees/compliance/1@watcher", "CANCELLED", 3) in cal(after)


def test_importing_an_export_over_the_database_it_came_from_changes_nothing(tmp_path, db_url):
    lived(db_url)
    before = measures(db_url)
    engine, maker = session_on(db_url)
    with maker() as s, s.begin():
        counts = registry_db.import_measures(s, parse_registry(yaml.safe_load(dump_file(before)), "x"), "file:x", NOW)
        history = registry_db.measure_history(s, "port-fees")
    engine.dispose()
    assert counts["created"] == 0 and measures(db_url) == before
    assert [h["action"] for h in history] == ["created", "edited", "edited", "finding:suspended"]
    assert history[-1]["finding"] == 7


def test_an_imported_sequence_never_lowers_the_one_a_calendar_has_seen(tmp_path, db_url):
    lived(db_url)
    stale = [replace(m, milestones=tuple(replace(ms, sequence=0) for ms in m.milestones)) for m in measures(db_url)]
    stale = [replace(stale[0], title="Port fees (renamed)")]  # a change, so the entry is applied
    engine, maker = session_on(db_url)
    with maker() as s, s.begin():
        registry_db.import_measures(s, stale, "file:x", NOW)
    engine.dispose()
    assert {ms.uid: ms.sequence for ms in measures(db_url)[0].milestones}["port-fees/compliance/1"] == 3


def test_a_milestone_state_and_the_as_of_date_are_validated_with_their_key_path(tmp_path):
    bad_state = {"measures": [{"id": "m", "title": "M", "milestones": [{"kind": "effective", "date": "2025-01-01",
                                                                         "state": "paused"}]}]}  # fmt: skip
    with pytest.raises(ConfigError, match=r"measures\[0\]\.milestones\[0\]\.state"):
        parse_registry(bad_state, "r.yaml")
    path = tmp_path / "r.yaml"
    path.write_text("as_of: last tuesday\nmeasures: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="as_of"):
        load_registry(path)
    clash = {"measures": [{"id": "m", "title": "M", "milestones": [
        {"kind": "effective", "date": "2025-01-01", "uid": "m/effective/2"}, {"kind": "effective", "date": "2025-02-01"}]}]}
    with pytest.raises(ConfigError, match="share a uid"):  # the second one's made uid is m/effective/2 too
        parse_registry(clash, "r.yaml")
    path.write_text("as_of: 2026-12-06\nmeasures: []\n", encoding="utf-8")
    assert load_registry(path).as_of == dt.date(2026, 12, 6)
    assert load_registry(Path(__file__).parent / "data" / "registry_2025-10-26.yaml").as_of == dt.date(2025, 10, 26)
