"""Which measure a date belongs to, and what a notice's own commencement clause means (pure)."""

from __future__ import annotations

import datetime as dt

from watcher.extract import extract_deadlines
from watcher.models import Item, Measure, Milestone
from watcher.registry.reconcile import reconcile

RARE_EARTH = Measure(
    id="cn-rare-earth", title="MOFCOM rare-earth export controls", jurisdiction="CN", authority="MOFCOM",
    reference="MOFCOM Announcement No. 61 of 2025", aliases=("rare earth export controls", "稀土出口管制"),
    status="announced", milestones=(Milestone("effective", dt.date(2025, 12, 1), uid="cn-rare-earth/effective/1"),),
)  # fmt: skip
AFFILIATES = Measure(
    id="us-affiliates", title="BIS Affiliates Rule", jurisdiction="US", authority="BIS",
    reference="FR Doc. 2025-19001", aliases=("affiliates rule", "50 percent rule"), status="in_force",
    milestones=(Milestone("effective", dt.date(2025, 9, 29), uid="us-affiliates/effective/1"),),
)  # fmt: skip


def found(text: str, published: str = "2025-11-07", measures: tuple[Measure, ...] = (RARE_EARTH,)) -> set[tuple]:
    day = dt.date.fromisoformat(published)
    it = Item(source="mofcom", key="k", title="", link="https://example.gov/70", summary="", text=text,
              content_hash="h", published=dt.datetime.combine(day, dt.time(), dt.UTC))  # fmt: skip
    return {(f.kind, f.measure_id, f.event.kind, f.event.date.isoformat())
            for f in reconcile(it, extract_deadlines(text, day), list(measures), True)}  # fmt: skip


def test_a_suspension_notice_effective_upon_publication_is_suspended_from_that_day_not_newly_effective():
    text = "商务部公告2025年第61号规定的稀土出口管制措施暂停实施至2026年11月10日。本公告自公布之日起施行。"
    assert found(text) == {
        ("suspended", "cn-rare-earth", "suspension", "2025-11-07"),
        ("suspended", "cn-rare-earth", "suspension_end", "2026-11-10"),
    }


def test_an_english_suspension_notice_effective_on_publication_starts_the_suspension_then():
    text = ("The rare earth export controls of MOFCOM Announcement No. 61 of 2025 are suspended until "
            "November 10, 2026. This announcement is effective upon publication.")  # fmt: skip
    assert ("suspended", "cn-rare-earth", "suspension", "2025-11-07") in found(text)
    assert not any(kind == "effective" for _, _, kind, _ in found(text))


def test_an_amendment_effective_upon_publication_does_not_become_the_measures_effective_date():
    text = ("MOFCOM amends the licensing procedure of the rare earth export controls. "
            "This notice is effective upon publication.")  # fmt: skip
    assert found(text) == set()


def test_a_date_in_a_sentence_about_another_measure_never_moves_the_linked_one():
    text = ("The US suspended the affiliates rule under FR Doc. 2025-19001 until November 9, 2026, after China paused "
            "its rare earth export controls.")  # fmt: skip
    # The registry knows only the rare-earth measure: the sentence names a reference that is not its.
    assert not any(m == "cn-rare-earth" for _, m, _, _ in found(text))
    # With both measures, the date goes to the one the sentence names by reference.
    both = found(text, measures=(RARE_EARTH, AFFILIATES))
    assert {m for _, m, _, _ in both} == {"us-affiliates"}


def test_a_sentence_naming_two_measures_asks_which_one_instead_of_guessing():
    text = "Both the affiliates rule and the rare earth export controls are suspended until November 10, 2026."
    [(kind, measure, _, day)] = found(text, measures=(RARE_EARTH, AFFILIATES))
    assert (kind, measure, day) == ("new_deadline", None, "2026-11-10")


def test_the_suspending_notices_own_number_in_the_date_sentence_does_not_hide_the_measure_it_suspends():
    day = dt.date(2025, 11, 7)
    it = Item(source="mofcom", key="k", title="商务部公告2025年第70号 关于暂停实施2025年第61号公告的公告", link="l",
              summary="", content_hash="h", published=dt.datetime.combine(day, dt.time(), dt.UTC),
              text="根据商务部公告2025年第70号，相关稀土出口管制措施暂停实施至2026年11月10日。")  # fmt: skip
    findings = reconcile(it, extract_deadlines(it.text, day), [RARE_EARTH], True)
    assert [(f.kind, f.measure_id, f.event.kind) for f in findings] == [("suspended", "cn-rare-earth", "suspension_end")]


def test_a_rule_effective_on_display_keeps_its_date_with_the_dates_sentence_as_evidence():
    from watcher.sources.federal_register import document_events

    doc = {"document_number": "2025-19001", "effective_on": "2025-09-29",
           "dates": "This interim final rule is effective September 29, 2025."}  # fmt: skip
    [event] = document_events(doc, dt.date(2025, 9, 30))
    assert (event.kind, event.date, event.flags) == ("effective", dt.date(2025, 9, 29), ("on_display",))
    assert event.evidence == "This interim final rule is effective September 29, 2025." and event.confidence > 0.9
    typo = document_events({"document_number": "2025-1", "effective_on": "2015-09-29"}, dt.date(2025, 9, 30))
    assert typo[0].flags == ("before_publication",) and typo[0].confidence < 0.5  # years off: an agency typo
