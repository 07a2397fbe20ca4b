"""Deadline extractor: golden cases, focused behaviour, batch I/O, scoring and the dev-set targets."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import skip_outside_ci
from watcher.extract import EVENT_KINDS, extract_deadlines
from watcher.extract.batch import events_to_dicts, extract_jsonl
from watcher.extract.evaluate import default_path, load_rows, score
from watcher.models import Event

CASES_PATHS = sorted((Path(__file__).parent / "data").glob("extract_cases*.yaml"))
DEV_PATH = Path(__file__).resolve().parents[2] / "shared" / "eval" / "extract-dev.jsonl"


def _load_cases() -> list[dict]:
    rows = [r for p in CASES_PATHS for r in yaml.safe_load(p.read_text(encoding="utf-8"))]
    for row in rows:  # YAML reads ISO dates as date objects; the scorer wants text
        row["published"] = str(row["published"]) if row.get("published") else None
        for exp in row["expected"]:
            exp["date"] = str(exp["date"])
    return rows


CASES = _load_cases()


def _run(text: str, published: str | None = "2025-10-26") -> list[Event]:
    return extract_deadlines(text, dt.date.fromisoformat(published) if published else None)


def _pairs(events: list[Event]) -> set[tuple[str, str]]:
    return {(e.date.isoformat(), e.kind) for e in events}


# --- golden cases ----------------------------------------------------------------------------


def _case_param(case: dict):
    """A case the extractor is known to get wrong carries `known_failure: <why>`: it is run as a
    strict xfail, so fixing it is noticed (and the marker must then be removed)."""
    reason = case.get("known_failure")
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(case, id=case["id"], marks=marks)


@pytest.mark.parametrize("case", [_case_param(c) for c in CASES])
def test_golden_case(case: dict) -> None:
    events = _run(case["text"], case["published"])
    predicted: dict[str, set[str]] = {}
    for ev in events:
        predicted.setdefault(ev.date.isoformat(), set()).add(ev.kind)
    expected: dict[str, set[str]] = {}
    for exp in case["expected"]:
        expected.setdefault(exp["date"], set()).add(exp["kind"])
    assert set(predicted) == set(expected)
    for date, kinds in expected.items():
        assert predicted[date] & kinds, f"{date}: predicted {predicted[date]}, expected {kinds}"
    for exp in case["expected"]:
        for key in ("time", "tz"):
            if key in exp:
                values = {getattr(e, key) for e in events if e.date.isoformat() == exp["date"]}
                assert exp[key] in values, f"{exp['date']} {key}: {values}"


def test_the_golden_cases_are_varied_and_score_well_together() -> None:
    assert len(CASES) >= 40
    ids = " ".join(c["id"] for c in CASES)
    assert "zh-" in ids and "zht-" in ids and "news-" in ids and "law-" in ids
    assert sum(1 for c in CASES if not c["expected"]) >= 8  # negatives
    result = score(CASES, extract_deadlines)
    assert result["f1"] >= 0.95 and result["kind_accuracy"] >= 0.9


# --- dates -----------------------------------------------------------------------------------


def test_a_date_without_a_year_takes_the_year_nearest_publication() -> None:
    events = _run("The controls take effect on December 1st.", "2025-10-26")
    assert _pairs(events) == {("2025-12-01", "effective")}
    events = _run("The new duties take effect January 15, officials said.", "2025-12-20")
    assert _pairs(events) == {("2026-01-15", "effective")}


def test_deadline_dates_without_a_year_prefer_the_future() -> None:
    # March 15 is nearer in 2025 (past), but a deadline is more likely ahead of the text
    events = _run("Comments are due by March 15.", "2025-09-20")
    assert _pairs(events) == {("2026-03-15", "comment_deadline")}


def test_english_date_formats_are_all_read() -> None:
    text = (
        "The rule is effective Nov. 8, 2025. Comments are due by 8 December 2025. "
        "Payments are due no later than 2026-01-15. Reports must be filed by 02/27/2026. "
        "The exclusions expire on Monday, March 2nd, 2026."
    )
    assert _pairs(_run(text)) == {
        ("2025-11-08", "effective"),
        ("2025-12-08", "comment_deadline"),
        ("2026-01-15", "other_deadline"),
        ("2026-02-27", "other_deadline"),
        ("2026-03-02", "expiry"),
    }


def test_ranges_give_a_start_and_an_end() -> None:
    text = "Tariffs will be suspended from November 10, 2025 through November 10, 2026."
    assert _pairs(_run(text)) == {("2025-11-10", "suspension"), ("2026-11-10", "expiry")}
    text = "The reduced rate applies between January 1 and June 30, 2026."
    assert _pairs(_run(text)) == {("2026-01-01", "effective"), ("2026-06-30", "expiry")}


def test_chinese_range_with_suspension_gives_suspension_then_expiry() -> None:
    events = _run("2025年11月10日至2026年11月10日暂停加征24%关税。", "2025-11-05")
    assert _pairs(events) == {("2025-11-10", "suspension"), ("2026-11-10", "expiry")}


def test_full_width_digits_and_chinese_numerals_are_read() -> None:
    assert _pairs(_run("本规定自２０２５年１２月１日起施行。")) == {("2025-12-01", "effective")}
    assert _pairs(_run("本决定自二〇二五年十一月八日起施行。")) == {("2025-11-08", "effective")}
    assert _pairs(_run("新规将于11月8日起实施。", "2025-10-09")) == {("2025-11-08", "effective")}


def test_traditional_script_cues_are_recognised() -> None:
    text = "關稅稅則委員會宣布，自2025年11月10日起繼續暫停加徵關稅，暫停期延長至2026年11月10日止。"
    assert _pairs(_run(text, "2025-11-05")) == {
        ("2025-11-10", "suspension"),
        ("2026-11-10", "expiry"),
    }


# --- relative dates --------------------------------------------------------------------------


def test_publication_relative_dates_use_a_signature_date_printed_in_the_text() -> None:
    text = "本决定自公布之日起施行。\n总理 李强\n2025年9月28日"
    assert _pairs(_run(text, "2025-10-11")) == {("2025-09-28", "effective")}


def test_publication_relative_dates_fall_back_to_published() -> None:
    assert _pairs(_run("本公告自发布之日起实施。", "2025-10-09")) == {("2025-10-09", "effective")}
    text = "This rule is effective on the date of publication in the Federal Register."
    assert _pairs(_run(text, "2025-03-28")) == {("2025-03-28", "effective")}
    assert _pairs(_run("The ban is effective immediately.", "2025-04-09")) == {
        ("2025-04-09", "effective")
    }


def test_days_after_publication_are_added_to_the_publication_date() -> None:
    text = "This rule takes effect 30 days after publication in the Federal Register."
    assert _pairs(_run(text, "2025-07-01")) == {("2025-07-31", "effective")}
    text = "Comments must be received within sixty (60) days of the date of publication."
    assert _pairs(_run(text, "2025-07-01")) == {("2025-08-30", "comment_deadline")}


def test_a_publication_date_stated_in_the_passage_anchors_relative_dates() -> None:
    text = "商务部10月9日发布公告，相关措施自公布之日起实施。"
    assert _pairs(_run(text, "2025-10-10")) == {("2025-10-09", "effective")}
    text = "The rule takes effect on publication in the Federal Register on Wednesday, Jan. 15."
    assert _pairs(_run(text, "2025-01-14")) == {("2025-01-15", "effective")}


def test_chinese_offsets_from_publication_are_added() -> None:
    assert _pairs(_run("公告自发布之日起30日后施行。", "2025-09-25")) == {
        ("2025-10-25", "effective")
    }
    assert _pairs(_run("该条例自公布之日的次日起生效。", "2024-10-29")) == {
        ("2024-10-30", "effective")
    }
    (event,) = _run("利害关系方可在公告发布之日起20天内登记。", "2025-09-13")
    assert event.date == dt.date(2025, 10, 3) and event.kind != "effective"


def test_chinese_afternoon_times_are_24_hour() -> None:
    (event,) = _run("自11月10日下午1時01分起停止執行加徵關稅措施。", "2025-11-05")
    assert (event.date, event.kind, event.time) == (dt.date(2025, 11, 10), "expiry", "13:01")


# --- negatives -------------------------------------------------------------------------------


def test_meetings_announcements_and_publications_are_not_deadlines() -> None:
    text = (
        "On October 9 the ministry announced new controls. The leaders will meet on October 30 "
        "in Busan. The notice was published in the Federal Register on June 16, 2025. "
        "A public hearing will be held on November 4."
    )
    assert _run(text) == []


def test_reference_cut_off_and_quoted_dates_are_not_deadlines() -> None:
    text = (
        "Goods loaded before June 17 remain exempt. Under the order of April 2, 2025, rates rose. "
        "Note 2 is amended by deleting “March 4, 2025” and inserting “November 10, 2025”."
    )
    assert _run(text, "2025-07-01") == []


def test_negated_and_extended_old_dates_are_dropped() -> None:
    text = "The controls would not now come into force on the 1st of December as planned."
    assert _run(text, "2025-11-08") == []
    text = "Tariffs would take effect on Aug. 1, extending a July 9 deadline for deals."
    assert _pairs(_run(text, "2025-07-08")) == {("2025-08-01", "effective")}


def test_a_superseded_date_is_dropped_and_only_the_new_one_kept() -> None:
    text = "The truce, previously scheduled to expire on August 12, was extended until November 10."
    assert _pairs(_run(text, "2025-08-11")) == {("2025-11-10", "expiry")}


def test_month_only_and_vague_expressions_are_ignored() -> None:
    text = "Rules start in January; a review is due mid-November and in the first quarter of 2026."
    assert _run(text) == []


# --- times, evidence, confidence ---------------------------------------------------------------


def test_times_and_eastern_time_zone_are_kept() -> None:
    text = "Duties apply to goods entered on or after 12:01 a.m. eastern standard time on November 10, 2025."
    (event,) = _run(text)
    assert (event.date, event.kind, event.time, event.tz) == (
        dt.date(2025, 11, 10), "effective", "00:01", "America/New_York",
    )  # fmt: skip
    (event,) = _run("Submit comments by August 18, 2025, at 11:59 p.m. EDT.")
    assert (event.time, event.tz) == ("23:59", "America/New_York")


def test_beijing_time_maps_to_asia_shanghai() -> None:
    (event,) = _run("自北京时间2025年11月10日13时01分起停止实施加征关税措施。", "2025-11-05")
    assert (event.kind, event.time, event.tz) == ("expiry", "13:01", "Asia/Shanghai")


def test_evidence_is_the_sentence_and_at_most_400_characters() -> None:
    text = (
        "Background. "
        + "The rule, "
        + "which has many clauses, " * 30
        + "is effective May 1, 2026. End."
    )
    (event,) = _run(text)
    assert len(event.evidence) <= 400 and "May 1, 2026" in event.evidence
    (event,) = _run("Preamble here. This rule is effective December 27, 2024. Other text.")
    assert event.evidence == "This rule is effective December 27, 2024."


def test_confidence_is_between_zero_and_one_and_kinds_are_known() -> None:
    for case in CASES:
        for ev in _run(case["text"], case["published"]):
            assert 0.0 <= ev.confidence <= 1.0
            assert ev.kind in EVENT_KINDS


def test_without_a_publication_date_only_full_dates_are_kept() -> None:
    text = "Rates rise to 25% on March 1, 2026. Comments are due by April 3."
    assert _pairs(_run(text, None)) == {("2026-03-01", "effective")}


def test_empty_and_dateless_texts_give_nothing() -> None:
    assert _run("") == []
    assert _run("No dates here, only tariffs and talks.") == []


# --- batch I/O and scoring --------------------------------------------------------------------


def test_events_to_dicts_keeps_time_and_zone_only_when_set() -> None:
    events = [
        Event(dt.date(2025, 11, 10), "expiry", "s", 0.9, "00:01", "America/New_York"),
        Event(dt.date(2025, 12, 1), "effective", "t", 0.8),
    ]
    assert events_to_dicts(events) == [
        {"date": "2025-11-10", "kind": "expiry", "evidence": "s", "confidence": 0.9,
         "time": "00:01", "tz": "America/New_York"},
        {"date": "2025-12-01", "kind": "effective", "evidence": "t", "confidence": 0.8},
    ]  # fmt: skip


def test_extract_jsonl_reports_bad_lines_by_number_and_carries_on() -> None:
    lines = [
        json.dumps({"id": "a", "text": "This rule is effective May 1, 2026.", "published": None}),
        "{not json",
        "",
        json.dumps({"id": "c", "published": "2025-01-01"}),
        json.dumps({"id": "d", "text": "Effective June 2.", "published": "2025-05-30"}),
    ]
    out = [json.loads(line) for line in extract_jsonl(lines)]
    assert out[0] == {"id": "a", "events": [
        {"date": "2026-05-01", "kind": "effective",
         "evidence": "This rule is effective May 1, 2026.", "confidence": out[0]["events"][0]["confidence"]},
    ]}  # fmt: skip
    assert out[1]["line"] == 2 and "error" in out[1]
    assert out[2]["line"] == 4 and out[2]["id"] == "c" and "text" in out[2]["error"]
    assert out[3]["events"][0]["date"] == "2025-06-02"


def test_score_counts_a_date_once_and_accepts_any_gold_kind() -> None:
    rows = [{
        "id": "x", "published": "2025-08-01", "text": "t",
        "expected": [{"date": "2025-08-18", "kind": "comment_deadline"},
                     {"date": "2025-08-18", "kind": "other_deadline"},
                     {"date": "2025-09-01", "kind": "effective"}],
    }]  # fmt: skip

    def fake(text, published):
        return [
            Event(dt.date(2025, 8, 18), "other_deadline", "e", 0.9),
            Event(dt.date(2025, 8, 18), "expiry", "e", 0.9),
            Event(dt.date(2025, 10, 1), "effective", "e", 0.9),
        ]

    result = score(rows, fake)
    assert (result["tp"], result["fp"], result["fn"]) == (1, 1, 1)
    assert result["kind_accuracy"] == 1.0
    assert result["per_passage"][0]["missed"] == ["2025-09-01"]


def test_dev_set_meets_the_targets() -> None:
    path = DEV_PATH if DEV_PATH.exists() else default_path()
    if not path.exists():
        skip_outside_ci(f"dev set not found at {DEV_PATH}; it lives in ../shared next to the repo")
    result = score(load_rows(path), extract_deadlines)
    assert result["f1"] >= 0.90, result
    assert result["kind_accuracy"] >= 0.85, result


# --- batch-3 rules ---------------------------------------------------------------------------


def test_table_column_headers_qualify_the_dates_below_them() -> None:
    text = "Product | Rate | Effective date\nEVs | 100% | 9/27/2024\nChips | 50% | 1/1/2025"
    assert _pairs(_run(text, "2024-09-16")) == {
        ("2024-09-27", "effective"),
        ("2025-01-01", "effective"),
    }


def test_wire_datelines_and_chinese_cut_offs_are_not_deadlines() -> None:
    text = "LONDON, Nov 26 (Reuters) - Britain will scrap the relief, Reeves said."
    assert _run(text, "2025-11-27") == []
    text = "在8月7日前已装船并处于运输途中、且在10月5日前入境的货物，不适用新税率。"
    # the shipping cut-off is not recorded; the last day of entry closes the in-transit window
    assert _pairs(_run(text, "2025-08-07")) == {("2025-10-05", "expiry")}


def test_through_and_including_closes_a_range() -> None:
    text = (
        "The exclusions apply to goods entered on or after September 1, 2025, through and "
        "including 11:59 p.m. eastern standard time on November 29, 2025."
    )
    assert _pairs(_run(text, "2025-08-29")) == {
        ("2025-09-01", "effective"),
        ("2025-11-29", "expiry"),
    }


def test_last_year_and_promulgation_and_retroactive_dates() -> None:
    text = "Canada imposed a 100% tariff on Chinese EVs from October 1 last year."
    assert _pairs(_run(text, "2025-08-12")) == {("2024-10-01", "effective")}
    text = "This announcement shall come into force as of the date of promulgation.\nApril 4, 2025"
    assert _pairs(_run(text, "2025-04-07")) == {("2025-04-04", "effective")}
    text = "The 15% ceiling applies retroactively to Aug. 7 under the order."
    assert _pairs(_run(text, "2025-09-17")) == {("2025-08-07", "effective")}


def test_a_stated_issue_date_anchors_relative_dates() -> None:
    text = (
        "On October 9, 2025, MOFCOM issued Announcement No. 61. Its provisions on technology "
        "took effect upon publication."
    )
    assert _pairs(_run(text, "2025-10-14")) == {("2025-10-09", "effective")}
    text = "財政部18日公告，利害關係人如有意見，應於公告之日起30日內以書面提出。"
    assert _pairs(_run(text, "2025-06-19")) == {("2025-07-18", "comment_deadline")}


# --- batch-4 rules ---------------------------------------------------------------------------


def test_weekdays_and_today_after_a_milestone_word_resolve_against_publication() -> None:
    # 2025-08-28 is a Thursday
    text = "Canada will lift its counter-tariffs this Saturday, the minister said on Thursday."
    assert _pairs(_run(text, "2025-08-28")) == {("2025-08-30", "expiry")}
    text = "The existing 25% tariff came into force on Thursday."
    assert _pairs(_run(text, "2025-08-28")) == {("2025-08-28", "effective")}
    assert _pairs(_run("Car tariff cuts take effect from today.", "2025-06-30")) == {
        ("2025-06-30", "effective")
    }
    assert _run("Talks will begin Monday in Geneva, officials said on Friday.", "2025-08-28") == []


def test_cut_off_words_govern_their_date_and_the_window_end_is_an_expiry() -> None:
    text = "Goods shipped before March 10 and imported by April 12 will be exempt."
    assert _pairs(_run(text, "2025-03-04")) == {("2025-04-12", "expiry")}
    assert _run("Goods already in transit before June 2 are not affected.", "2025-05-30") == []
    text = "Importers have until May 1 to weigh in on the investigation."
    assert _pairs(_run(text, "2025-04-03")) == {("2025-05-01", "comment_deadline")}


def test_a_date_said_to_be_extended_and_a_pending_publication_are_not_recorded() -> None:
    text = "The comment period, which was scheduled to close on May 5, 2025, is extended."
    assert _run(text, "2025-05-01") == []
    text = "委员会决议课征反倾销税，自公告日起实施。财政部预计于10月中旬正式公告。"
    assert _run(text, "2025-10-02") == []


# --- batch-7 rules ---------------------------------------------------------------------------


def test_a_moved_or_starting_meeting_is_not_a_milestone() -> None:
    assert _run("The public hearing will commence on January 21, 2026.", "2025-12-02") == []
    text = (
        "A public hearing on proposed port fees, originally set for Sept. 15, has been "
        "postponed to Oct. 6, officials said Monday."
    )
    assert _run(text, "2025-09-30") == []
    assert _pairs(_run("The fees will resume on November 10, 2026.", "2025-11-12")) == {
        ("2026-11-10", "effective")
    }


def test_a_removal_effective_on_a_day_also_ends_the_measure() -> None:
    text = "Canada will remove many of its retaliatory tariffs effective Sept. 1, Carney said."
    assert ("2025-09-01", "expiry") in _pairs(_run(text, "2025-08-23"))


def test_a_due_date_is_superseded_by_an_extension_without_a_new_date() -> None:
    text = (
        "Trump agreed to extend for a few more weeks the pause on tariffs on Mexican goods. "
        "The 90-day extension was due to expire on Oct. 29."
    )
    assert _run(text, "2025-10-28") == []


def test_reporting_periods_cut_off_windows_and_licence_expiry() -> None:
    assert _run("Revenue for the quarter through Sept. 28 rose 22%.", "2025-10-15") == []
    text = (
        "For goods shipped before March 10, 2025 and imported between March 10 and April 12, "
        "2025, no additional tariffs will be levied."
    )
    assert _pairs(_run(text, "2025-03-04")) == {("2025-04-12", "expiry")}
    assert ("2025-10-29", "expiry") in _pairs(_run("该许可于10月29日到期。", "2025-10-01"))
    text = "該措施原訂於12月1日起實施，暫停期限至2026年11月10日止。"
    assert _pairs(_run(text, "2025-11-08")) == {("2026-11-10", "expiry")}
    text = "10月9日，商务部发布2025年第62号公告，公告自发布之日起施行。"
    assert _pairs(_run(text, "2025-10-10")) == {("2025-10-09", "effective")}


# --- issue-11 conventions ----------------------------------------------------------------------


def test_chinese_bare_days_and_weekdays_take_the_month_and_week_of_publication() -> None:
    assert _pairs(_run("反制关税将于25日起生效。", "2025-03-21")) == {("2025-03-25", "effective")}
    # 2025-06-10 is a Tuesday: 周五 is the Friday of that week
    text = "新税率将于北京时间周五零时起实施。"
    assert _pairs(_run(text, "2025-06-10")) == {("2025-06-13", "effective")}
    assert _pairs(_run("海關總署自週一(16日)起恢復相關產品進口。", "2025-06-13")) == {
        ("2025-06-16", "effective")
    }
    # a bare day beside an event, or a noun that merely contains a cue word, is not read
    assert _run("财政部22日表示，将研究相关实施细则。", "2025-03-24") == []
    assert _run("该条例7日在公报刊登，另有5个工作日的过渡安排。", "2025-03-09") == []
    assert _run("本公告所附2025〕7号文件同时印发。", "2025-03-09") == []


def test_investigation_time_limits_are_other_deadlines_unless_overtaken() -> None:
    text = "鉴于案情复杂，商务部决定将该反倾销调查期限延长至2026年1月5日。"
    assert _pairs(_run(text, "2025-07-01")) == {("2026-01-05", "other_deadline")}
    assert _run(text + "现本案调查已结束，商务部作出最终裁定。", "2025-11-20") == []
    text = "The investigation will run until March 3, 2026, the ministry said."
    assert _pairs(_run(text, "2025-09-03")) == {("2026-03-03", "other_deadline")}


def test_an_end_told_as_the_current_one_is_superseded_by_a_later_extension() -> None:
    text = (
        "The current product exclusions are scheduled to expire on June 30, 2026. This notice "
        "extends them through December 31, 2026."
    )
    assert _pairs(_run(text, "2026-06-20")) == {("2026-12-31", "expiry")}
    text = (
        "In March the agency decided to extend the waivers through April 30, 2026. Today's notice "
        "extends the waivers for three more months, through July 31, 2026."
    )
    assert _pairs(_run(text, "2026-04-25")) == {("2026-07-31", "expiry")}
    text = "商务部决定将该调查期限由3月5日延长至9月5日。"
    assert _pairs(_run(text, "2025-02-28")) == {("2025-09-05", "other_deadline")}


def test_bare_dates_under_a_flattened_table_header_take_their_column() -> None:
    text = (
        "Rule  Publication date  Effective date  End of comment period\n"
        "Export controls on sensor modules  03/10/2026  04/09/2026, except for paragraph (b), "
        "which is effective 01/01/2027.  05/11/2026\n"
        "Updates to the licence exception  03/24/2026  03/24/2026  05/26/2026"
    )
    assert _pairs(_run(text, "2026-04-01")) == {
        ("2026-04-09", "effective"), ("2027-01-01", "effective"),
        ("2026-05-11", "comment_deadline"), ("2026-03-24", "effective"),
        ("2026-05-26", "comment_deadline"),
    }  # fmt: skip
    text = "公告名称 发布日期 实施日期\n关于调整出口许可管理的公告 2026年3月2日 2026年4月1日"
    assert _pairs(_run(text, "2026-03-20")) == {("2026-04-01", "effective")}
    # a sentence that names two kinds of date is not a header
    text = "The effective date and the compliance date are set out below.\nSee 03/02/2026."
    assert _run(text, "2026-03-01") == []


def test_office_closures_and_the_opening_of_a_proceeding_are_not_milestones() -> None:
    text = (
        "The registry was closed from March 2, 2026, through March 20, 2026, for a system "
        "migration. The petition was docketed on March 23, 2026, which shall be considered the "
        "start date for the review."
    )
    assert _run(text, "2026-03-25") == []


def test_a_publication_stated_in_the_sentence_anchors_its_own_relative_date() -> None:
    text = "商务部12日发布公告，即日起暂停实施相关措施。此前，海关总署于9日公告，即日起恢复部分产品进口。"
    assert _pairs(_run(text, "2026-05-13")) == {
        ("2026-05-12", "suspension"),
        ("2026-05-09", "effective"),
    }


def test_taiwanese_era_years_are_converted() -> None:
    text = "本辦法自中華民國115年7月1日起施行。"
    assert _pairs(_run(text, "2025-12-30")) == {("2026-07-01", "effective")}
