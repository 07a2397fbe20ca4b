"""A milestone that passed with nothing heard: marked `unconfirmed`, with history, and its measure's
channels told once (both databases)."""

from __future__ import annotations

import datetime as dt

from tests.test_reminders import at, db, outbox, save, settings_for  # noqa: F401  (db is a fixture)
from watcher.db import registry as registry_db
from watcher.models import Measure, Milestone
from watcher.registry.reminders import tell_passed

SUSPENDED = Measure(
    id="m", title="Rare-earth export controls", reference="Ref. 61", status="suspended", source="https://example.gov/m",
    milestones=(Milestone("effective", dt.date(2025, 12, 1), uid="m/effective/1", state="suspended"),
                Milestone("suspension_end", dt.date(2026, 11, 10), uid="m/suspension_end/1")),
)  # fmt: skip


def tell(maker, settings, now):  # type: ignore[no-untyped-def]
    with maker() as session, session.begin():
        return tell_passed(session, settings, now)


def test_a_suspension_end_that_passed_silently_is_told_once_and_marked_unconfirmed(db, db_url):  # noqa: F811
    settings = settings_for(db_url)
    save(db, SUSPENDED)  # known since 2025-10-01
    assert tell(db, settings, at("2026-11-10T12:00")) == []  # its day is not over yet
    [alert] = tell(db, settings, at("2026-11-11T09:00"))
    assert alert.title == "Passed, unconfirmed: Rare-earth export controls — suspension ends 2026-11-10"
    assert "Did the measure resume, or was the suspension extended?" in alert.sentence
    assert tell(db, settings, at("2026-11-12T09:00")) == []  # once
    assert [a.alert.dedup_key for a in outbox(db)] == ["passed|m/suspension_end/1|2026-11-10"]
    with db() as session:
        m = registry_db.get_measure(session, "m")
        history = registry_db.measure_history(session, "m")
    assert m is not None and {ms.uid: ms.state for ms in m.milestones}["m/suspension_end/1"] == "unconfirmed"
    assert history[-1]["action"] == "passed_unconfirmed" and history[-1]["actor"] == "watcher"


def test_a_milestone_entered_after_its_day_or_heard_about_recently_is_not_told(db, db_url):  # noqa: F811
    settings = settings_for(db_url)
    late = Measure(id="late", title="Old news", milestones=(Milestone("effective", dt.date(2025, 9, 1), uid="late/e/1"),))
    save(db, late)  # entered the registry on 2025-10-01, after its day
    assert tell(db, settings, at("2025-10-02T09:00")) == []
