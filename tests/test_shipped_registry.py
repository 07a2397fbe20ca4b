"""The shipped registry (config/deadlines.yaml) is current, sourced and honest about what it cannot tell."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from watcher.registry_file import load_registry
from watcher.settings import load

REPO = Path(__file__).resolve().parents[1]
SHIPPED = load_registry(REPO / "config" / "deadlines.yaml")
AS_OF = dt.date(2026, 12, 6)
CHINESE = ("MOFCOM", "Ministry of Transport", "State Council Tariff Commission")


def test_the_shipped_registry_is_as_of_december_2026_and_says_so_in_its_header():
    assert SHIPPED.as_of == AS_OF
    header = (REPO / "config" / "deadlines.yaml").read_text(encoding="utf-8").split("measures:")[0]
    assert "as of 2026-12-06" in header and "docs/registry-sources.md" in header


def test_every_milestone_names_its_source_and_every_source_is_in_the_research_note():
    note = (REPO / "docs" / "registry-sources.md").read_text(encoding="utf-8")
    for m in SHIPPED.measures:
        for ms in m.milestones:
            assert re.match(r"https?://", ms.source), (m.id, ms.uid)
            assert ms.source in note, (m.id, ms.source)


def test_chinese_authorities_milestones_carry_beijing_time():
    for m in SHIPPED.measures:
        if m.authority in CHINESE:
            assert {ms.tz for ms in m.milestones} == {"Asia/Shanghai"}, m.id


def test_suspensions_are_periods_and_each_end_that_passed_unheard_is_marked_unconfirmed():
    for m in SHIPPED.measures:
        kinds = [ms.kind for ms in m.milestones]
        assert "expiry" not in kinds or m.id == "us-ustr-301-tech-transfer-exclusions", m.id  # a real lapse
        if m.status == "suspended":
            assert "suspension" in kinds and "suspension_end" in kinds, m.id
        for ms in m.milestones:
            if ms.state == "active" and ms.kind in ("suspension_end", "expiry") and ms.date < AS_OF:
                assert "UNCONFIRMED as of 2026-12-06" in ms.note, (m.id, ms.uid)


def test_the_seed_articles_measures_are_there_with_the_last_state_a_source_confirms():
    status = {m.id: m.status for m in SHIPPED.measures}
    for measure_id in ("cn-mofcom-2025-rare-earth", "cn-mofcom-2025-rare-earth-equipment",
                       "us-cn-reciprocal-tariff-truce-2025", "us-ustr-section-301-ships",
                       "cn-special-port-fees-us-ships", "us-bis-affiliates-rule"):  # fmt: skip
        assert status[measure_id] == "suspended"
    rare_earth = next(m for m in SHIPPED.measures if m.id == "cn-mofcom-2025-rare-earth")
    held = [ms for ms in rare_earth.milestones if ms.state == "suspended"]
    assert [(ms.kind, ms.date) for ms in held] == [("effective", dt.date(2025, 12, 1))]  # never applied


def test_the_shipped_config_loads_with_the_registry_and_mofcom_sources_in_beijing_time():
    settings = load(REPO / "config" / "watcher.yaml", env={})
    assert settings.registry_as_of == AS_OF and len(settings.measures) == len(SHIPPED.measures)
    channels = {c.name for c in settings.channels}
    assert all(set(m.channels or settings.default_channels()) <= channels for m in settings.measures)
    mofcom = [s for s in settings.sources if "mofcom" in s.name]
    assert mofcom and all(getattr(s, "tz", None) == "Asia/Shanghai" for s in mofcom)


def test_an_installation_of_the_first_registry_upgrades_to_this_one_keeping_its_calendar_events(db_url):
    from watcher.db import registry as registry_db
    from watcher.db.engine import make_engine, sessions, upgrade
    from watcher.registry_file import load_file

    engine = make_engine(db_url)
    upgrade(engine)
    then, now = dt.datetime(2025, 10, 26, tzinfo=dt.UTC), dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    with sessions(engine)() as session, session.begin():
        registry_db.import_measures(session, load_file(REPO / "tests" / "data" / "registry_2025-10-26.yaml"), "file:old", then)
        counts = registry_db.import_measures(session, SHIPPED.measures, "file:new", now)
        rare_earth = registry_db.get_measure(session, "cn-mofcom-2025-rare-earth")
        truce = registry_db.get_measure(session, "us-cn-reciprocal-tariff-truce-2025")
    engine.dispose()
    assert counts["updated"] == 5 and counts["created"] == len(SHIPPED.measures) - 5
    assert rare_earth is not None and truce is not None
    first = next(ms for ms in rare_earth.milestones if ms.uid == "cn-mofcom-2025-rare-earth/effective/1")
    assert (first.date, first.state, first.sequence) == (dt.date(2025, 12, 1), "suspended", 1)  # one event, updated
    old_end = next(ms for ms in truce.milestones if ms.uid == "us-cn-reciprocal-tariff-truce-2025/expiry/1")
    assert (old_end.kind, old_end.date, old_end.state) == ("suspension_end", dt.date(2025, 11, 10), "superseded")
