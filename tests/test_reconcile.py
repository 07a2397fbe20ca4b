"""Reconciliation, pure: which measure a notice is about and what its dates say about it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from watcher.extract import extract_deadlines
from watcher.models import Item, Measure, Milestone, describe_milestone
from watcher.registry.reconcile import apply, link_measures, reconcile
from watcher.registry_file import load_file

REPO = Path(__file__).resolve().parents[1]
# the registry as it stood on 26 October 2025 (a fixture: the shipped one is current)
OCTOBER_2025 = REPO / "tests" / "data" / "registry_2025-10-26.yaml"
MEASURES = load_file(OCTOBER_2025)
RARE_EARTH = next(m for m in MEASURES if m.id == "cn-mofcom-2025-rare-earth")
TRUCE = next(m for m in MEASURES if m.id == "us-cn-reciprocal-tariff-truce-2025")


def item(text: str, title: str = "", published: str = "2025-11-07") -> Item:
    when = dt.datetime.fromisoformat(published).replace(tzinfo=dt.UTC)
    return Item(source="news", key=text[:40], title=title, link="https://example.com/n", published=when,
                summary="", text=text, content_hash="h")  # fmt: skip


def findings(text: str, title: str = "", measures=MEASURES, rule_matched: bool = True, published: str = "2025-11-07"):  # type: ignore[no-untyped-def]
    it = item(text, title, published)
    events = extract_deadlines(f"{title}\n{text}", it.published.date())  # type: ignore[union-attr]
    return reconcile(it, events, measures, rule_matched)


def test_a_notice_is_linked_by_its_chinese_announcement_number():
    it = item("商务部公告2025年第61号的实施暂停一年。")
    assert [m.id for m, _ in link_measures(it, MEASURES)][:1] == ["cn-mofcom-2025-rare-earth"]


def test_a_notice_is_linked_by_an_alias_in_another_case():
    it = item("Beijing's Rare Earth Export Controls were the subject of talks.")
    assert link_measures(it, MEASURES)[0][0].id == "cn-mofcom-2025-rare-earth"


def test_a_notice_about_something_else_links_to_nothing():
    assert link_measures(item("The EU adopted new rules on deforestation."), MEASURES) == []


def test_a_suspension_until_a_date_is_a_suspended_finding_against_the_effective_date_ending_a_period():
    [f] = [f for f in findings("China suspends the rare earth export controls until November 10, 2026.")
           if f.event.kind == "suspension_end"]  # fmt: skip
    assert (f.kind, f.measure_id, f.old_kind, f.old_date) == ("suspended", RARE_EARTH.id, "effective", dt.date(2025, 12, 1))
    assert f.change_text() == "effective 2025-12-01 → suspended until 2026-11-10"


def test_the_same_date_again_is_a_confirmation():
    [f] = findings("The rare earth export controls take effect on December 1, 2025.")
    assert f.kind == "confirmed" and f.change_text() == "effective 2025-12-01 (confirmed)"


def test_a_postponed_date_is_a_date_change():
    [f] = findings("The rare earth export controls will now take effect on January 15, 2026, MOFCOM said.")
    assert (f.kind, f.old_date, f.event.date) == ("date_changed", dt.date(2025, 12, 1), dt.date(2026, 1, 15))


def test_a_truce_extended_to_a_later_date_is_an_extension():
    [f] = findings("The White House extended the tariff truce until November 10, 2026.", published="2025-11-04")
    assert (f.kind, f.measure_id, f.old_date) == ("extended", TRUCE.id, dt.date(2025, 11, 10))


def test_a_new_kind_of_date_for_a_measure_is_a_new_deadline():
    [f] = findings("Exporters must obtain licences under the rare earth export controls by January 31, 2026.")
    assert (f.kind, f.event.kind, f.old_date) == ("new_deadline", "compliance", None)


def test_a_revocation_is_a_revoked_finding():
    [f] = findings("China revoked the rare earth export controls with effect from December 1, 2025.")
    assert f.kind in ("revoked", "confirmed")  # the date matches the milestone; the cue makes it revoked
    assert f.kind == "revoked"


def test_dates_in_an_item_no_measure_has_are_findings_only_when_a_rule_matched():
    text = "The EU will apply its new steel safeguard from July 1, 2026."
    assert findings(text, rule_matched=False) == []
    [f] = findings(text, rule_matched=True)
    assert (f.kind, f.measure_id) == ("new_deadline", None)


def test_accepting_a_suspension_holds_the_effective_date_and_adds_the_suspension_end_not_an_expiry():
    [f] = [f for f in findings("China suspends the rare earth export controls until November 10, 2026.")
           if f.event.kind == "suspension_end"]  # fmt: skip
    after = apply(RARE_EARTH, f, 7)
    assert after.status == "suspended"
    assert {(m.kind, m.date.isoformat(), m.state) for m in after.milestones} == {
        ("effective", "2025-12-01", "suspended"),
        ("suspension_end", "2026-11-10", "active"),
    }
    end = next(m for m in after.milestones if m.kind == "suspension_end")
    assert describe_milestone(end.kind, end.date, long=True) == (
        "suspension ends 2026-11-10: the measure resumes unless the suspension is extended"
    )


def test_accepting_a_date_change_moves_the_milestone_and_keeps_its_uid():
    [f] = findings("The rare earth export controls will now take effect on January 15, 2026, MOFCOM said.")
    after = apply(RARE_EARTH, f, 8)
    [ms] = after.milestones
    assert (ms.date, ms.uid) == (dt.date(2026, 1, 15), RARE_EARTH.milestones[0].uid)


def test_when_two_measures_are_named_each_date_goes_to_the_one_its_sentence_names():
    text = ("The tariff truce was extended until November 10, 2026. Separately, the rare earth export "
            "controls take effect on December 1, 2025.")  # fmt: skip
    got = {(f.measure_id, f.kind) for f in findings(text, published="2025-11-04")}
    assert (TRUCE.id, "extended") in got and (RARE_EARTH.id, "confirmed") in got


def test_a_measure_without_milestones_gets_new_deadlines():
    bare = Measure(id="x", title="Export controls on gallium", aliases=("gallium",))
    [f] = findings("Gallium export controls take effect on March 1, 2026.", measures=[bare])
    assert (f.kind, f.measure_id) == ("new_deadline", "x")
    assert apply(bare, f, 3).milestones == (
        Milestone("effective", dt.date(2026, 3, 1), note=apply(bare, f, 3).milestones[0].note,
                  source="https://example.com/n", uid="x/finding-3"),
    )  # fmt: skip
