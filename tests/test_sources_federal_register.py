"""The `federal_register` source kind: the documents API and the Public Inspection desk, served
from fixtures in the API's real format (tests/data/sources/fr_*.json) by a local server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from tests.servers import Route
from tests.test_pipeline import config, mailto
from watcher.commands import poll_once
from watcher.db import outbox, repo
from watcher.db.engine import make_engine, sessions
from watcher.errors import ParseError, Reason
from watcher.models import FetchResult
from watcher.settings import FederalRegisterSource, load
from watcher.sources import federal_register as fr

DATA = Path(__file__).parent / "data" / "sources"
BIS = "industry-and-security-bureau"
USTR = "trade-representative-office-of-united-states"


def fixture(name: str, base: str = "http://127.0.0.1:9/api/v1") -> bytes:
    return (DATA / name).read_text(encoding="utf-8").replace("{{base}}", base).encode("utf-8")


def answer(body: bytes, content_type: str = "application/json; charset=utf-8") -> FetchResult:
    return FetchResult(url="http://127.0.0.1:9/api/v1/documents.json", status=200, body=body,
                       headers={"content-type": content_type}, etag=None, last_modified=None, body_hash="")  # fmt: skip


def source(**kw: Any) -> FederalRegisterSource:
    return FederalRegisterSource(**{"name": "fr-bis", "kind": "federal_register", "agencies": [BIS], **kw})


def document(**fields: Any) -> dict[str, Any]:
    doc = {"document_number": "2025-00001", "title": "A rule", "type": "Rule", "publication_date": "2025-11-10",
           "html_url": "https://www.federalregister.gov/d/2025-00001"}  # fmt: skip
    doc.update(fields)
    return doc


def items_of(*docs: dict[str, Any]) -> list[Any]:
    return fr.parse(answer(json.dumps({"count": len(docs), "results": list(docs)}).encode()), source())


def test_a_document_with_effective_on_gives_an_effective_event_without_text_extraction():
    [item] = items_of(document(effective_on="2025-12-01"))  # no dates, no abstract: nothing to extract from
    [event] = item.events
    assert (event.date, event.kind, event.flags) == (dt.date(2025, 12, 1), "effective", ())
    assert event.confidence >= 0.95 and "effective_on" in event.evidence
    assert item.key == "fr:2025-00001" and item.extra["stage"] == "published"


def test_comments_close_on_and_docket_comment_end_dates_are_comment_deadlines():
    docket = {"id": "USTR-2025-0017", "documents": [{"id": "USTR-2025-0017-0001", "comment_end_date": "2025-12-15"}]}
    [item] = items_of(document(comments_close_on="2025-12-10", dockets=[docket]))
    assert sorted((e.date, e.kind) for e in item.events) == [
        (dt.date(2025, 12, 10), "comment_deadline"),
        (dt.date(2025, 12, 15), "comment_deadline"),
    ]


def test_a_rule_effective_on_display_the_day_before_publication_keeps_a_confident_date():
    [item] = items_of(document(publication_date="2025-09-30", effective_on="2025-09-29"))
    [event] = item.events
    assert event.date == dt.date(2025, 9, 29) and event.flags == ("on_display",) and event.confidence >= 0.95
    assert "suspicious" not in item.extra


def test_a_structured_date_years_before_publication_is_kept_flagged_and_never_a_confident_deadline():
    [item] = items_of(document(publication_date="2025-09-30", effective_on="2015-09-29"))
    [event] = item.events
    assert event.date == dt.date(2015, 9, 29) and "before_publication" in event.flags
    assert event.confidence < 0.5
    assert "suspicious" in item.extra


def test_a_deadline_only_in_the_free_text_dates_field_is_extracted_with_its_time():
    [item] = items_of(document(dates="Written comments are due by 11:59 p.m. ET on December 10, 2025."))
    [event] = item.events
    assert (event.date, event.kind, event.time) == (dt.date(2025, 12, 10), "comment_deadline", "23:59")


def test_a_structured_date_keeps_the_time_the_dates_field_gives_for_it():
    [item] = items_of(document(comments_close_on="2025-11-10", dates="Comments are due by 11:59 p.m. ET on November 10, 2025."))
    [event] = item.events
    assert event.confidence >= 0.95 and event.time == "23:59"


def test_a_query_with_no_matches_has_no_results_key_and_is_no_documents():
    assert fr.parse(answer(fixture("fr_documents_empty.json")), source()) == []


def test_an_html_request_access_page_with_status_200_is_an_error_not_an_empty_result():
    with pytest.raises(ParseError) as err:
        fr.parse(answer(fixture("fr_request_access.html"), "text/html; charset=utf-8"), source())
    assert err.value.reason is Reason.access_denied and "Request Access" in err.value.message


def test_the_query_asks_for_its_fields_and_conditions_and_starts_at_the_cursor():
    src = source(document_types=["RULE", "NOTICE"], term="rare earth", cfr="15 CFR 744")
    query = parse_qs(fr.documents_url(src, dt.date(2025, 11, 10)).split("?", 1)[1])
    assert {"effective_on", "comments_close_on", "dates", "document_number", "dockets"} <= set(query["fields[]"])
    assert query["conditions[agencies][]"] == [BIS] and query["conditions[type][]"] == ["RULE", "NOTICE"]
    assert query["conditions[term]"] == ["rare earth"]
    assert (query["conditions[cfr][title]"], query["conditions[cfr][part]"]) == (["15"], ["744"])
    assert query["conditions[publication_date][gte]"] == ["2025-11-10"] and query["order"] == ["oldest"]


def test_the_public_inspection_desk_keeps_the_sources_agencies_and_reads_withdrawn_documents():
    items = fr.parse_public_inspection(answer(fixture("fr_public_inspection.json")), source())
    by_key = {i.key: i for i in items}
    assert set(by_key) == {"fr:2025-21007", "fr:2025-21002"}  # the USDA document is not BIS's
    assert by_key["fr:2025-21007"].extra["filing_type"] == "regular"
    assert by_key["fr:2025-21007"].published == dt.datetime(2025, 11, 24, 13, 45, tzinfo=dt.UTC)  # filed_at
    assert by_key["fr:2025-21002"].extra["withdrawn"] == "yes" and not by_key["fr:2025-21002"].events


def test_a_source_with_nothing_to_narrow_the_query_is_a_config_error(write_config):
    from watcher.errors import ConfigError

    path = write_config({"sources": [{"name": "fr", "kind": "federal_register"}]})
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert "sources[0]" in str(err.value) and "needs agencies" in str(err.value)


# -- end to end: local API → pipeline → items → alerts ---------------------------------------


def fr_config(db_url: str, server: Any, mail: str, **src: Any) -> dict[str, Any]:
    sources = [{"name": "fr-bis", "kind": "federal_register", "url": server.url("/api/v1"), "agencies": [BIS, USTR], **src}]
    data = config(db_url, sources, mail)
    data["defaults"]["backfill"] = "0s"  # the fixtures are from 2025: alert them all
    data["rules"].append({"name": "port-fees", "any": ["port fees"]})
    return data


def poll(path: Path) -> Any:
    return asyncio.run(poll_once(load(path, env={}), []))


def stored(path: Path) -> tuple[dict[str, int], list[outbox.StoredAlert], dict[str, repo.SourceHealth]]:
    engine = make_engine(load(path, env={}).database)
    with sessions(engine)() as session:
        out = outbox.count_alerts(session), outbox.list_alerts(session), repo.source_health(session)
    engine.dispose()
    return out


def test_documents_are_paginated_alerted_once_fetched_incrementally_and_inspection_becomes_an_update(
    db_url, feed_server, smtp_sink, write_config
):
    base = feed_server.url("/api/v1")
    feed_server.set("/api/v1/documents.json", [
        Route(fixture("fr_documents_page1.json", base)),
        Route(fixture("fr_documents_page2.json", base)),
        Route(fixture("fr_documents_later.json", base)),
    ], content_type="application/json; charset=utf-8")  # fmt: skip
    feed_server.set("/api/v1/public-inspection-documents/current.json", [
        Route(fixture("fr_public_inspection.json", base)),
        Route(b'{"count": 0}'),  # the desk moved on; no results key
    ], content_type="application/json")  # fmt: skip
    feed_server.set("/api/v1/public-inspection-documents.json", b'{"count": 0}', content_type="application/json")
    path = write_config(fr_config(db_url, feed_server, mailto(smtp_sink)))

    [first], report = poll(path)
    assert (first.status, first.items, first.new) == ("fetched", 5, 5), first  # 3 published + 2 on inspection
    # rare earth: the affiliates rule, its suspension, two inspection documents; port fees: USTR's notice
    assert first.alerts == 5 and report.sent == 5
    asked = [parse_qs(r.query) for r in feed_server.received("/api/v1/documents.json")]
    assert len(asked) == 2 and asked[1]["page"] == ["2"]  # followed next_page_url
    assert {"effective_on", "comments_close_on"} <= set(asked[0]["fields[]"])

    [second], report = poll(path)
    asked = parse_qs(feed_server.received("/api/v1/documents.json")[-1].query)
    assert asked["conditions[publication_date][gte]"] == ["2025-11-10"]  # from the newest document seen
    # 2025-21007 was on public inspection and is now published: the same item, updated, and no
    # second alert for the same notice
    assert (second.new, second.updated, second.alerts) == (0, 1, 0)
    counts, alerts, health = stored(path)
    assert counts == {"sent": 5}
    kinds = sorted((a.alert.kind, a.alert.title) for a in alerts if "2025-21007" in a.alert.link or "Magnet" in a.alert.title)
    assert kinds == [("new", "Entity List Additions: Rare Earth Magnet Suppliers")]
    assert health["fr-bis"].cursor == "2025-11-25"
    # after a gap, the desk of each day missed since the cursor is read by date (a week at most)
    days = [parse_qs(r.query)["conditions[available_on]"][0] for r in feed_server.received("/api/v1/public-inspection-documents.json")]
    assert days == [f"2025-11-{d}" for d in range(11, 18)]  # after the stored cursor, 2025-11-10


def test_the_desk_is_read_by_date_only_for_days_missed_since_the_cursor():
    src = source(url="https://fr.example/api/v1")
    today = dt.date(2026, 3, 9)  # a Monday
    assert fr.desk_urls(src, dt.date(2026, 3, 6), today) == [  # Friday's documents seen: the weekend was missed
        "https://fr.example/api/v1/public-inspection-documents.json?conditions[available_on]=2026-03-07",
        "https://fr.example/api/v1/public-inspection-documents.json?conditions[available_on]=2026-03-08",
        "https://fr.example/api/v1/public-inspection-documents/current.json",
    ]
    assert fr.desk_urls(src, dt.date(2026, 3, 8), today) == ["https://fr.example/api/v1/public-inspection-documents/current.json"]
    assert fr.desk_urls(src, None, today) == ["https://fr.example/api/v1/public-inspection-documents/current.json"]


def test_a_request_access_page_fails_the_source_with_a_clear_reason(db_url, feed_server, smtp_sink, write_config):
    feed_server.set("/api/v1/documents.json", fixture("fr_request_access.html"), content_type="text/html; charset=utf-8")
    path = write_config(fr_config(db_url, feed_server, mailto(smtp_sink)))
    [outcome], _ = poll(path)
    assert (outcome.status, outcome.reason) == ("failed", "access_denied")
    assert "HTML instead of JSON" in (outcome.error or "") and "Request Access" in (outcome.error or "")


def test_sources_test_prints_items_deadlines_and_rules_and_writes_nothing(tmp_path, feed_server, write_config):
    base = feed_server.url("/api/v1")
    feed_server.set("/api/v1/documents.json", [Route(fixture("fr_documents_page1.json", base)),
                                               Route(fixture("fr_documents_page2.json", base))])  # fmt: skip
    feed_server.set("/api/v1/public-inspection-documents/current.json", b"{}")
    db = tmp_path / "never.db"
    path = write_config(fr_config(f"sqlite:///{db}", feed_server, "json://127.0.0.1:9/hook"))
    proc = subprocess.run([sys.executable, "-m", "watcher", "sources", "test", "fr-bis", "--json", "--config", str(path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = {r["key"]: r for r in json.loads(proc.stdout)}
    suspension = report["fr:2025-20333"]
    assert {"date": "2025-11-10", "kind": "effective"}.items() <= suspension["events"][0].items()
    assert [m["rule"] for m in suspension["rules"]] == ["rare-earths"]
    assert [m["rule"] for m in report["fr:2025-19110"]["rules"]] == ["port-fees"]
    assert not db.exists()

    table = subprocess.run([sys.executable, "-m", "watcher", "sources", "test", "fr-bis", "--config", str(path)],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert table.returncode == 0 and "deadline 2025-11-10 effective" in table.stdout and "nothing was written" in table.stdout
