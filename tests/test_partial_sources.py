"""One bad part never fails its source: an unreadable entry or document is skipped, counted and
said so (in the log, with source= and reason=, and by `watcher sources test`), the rest is kept;
a structure the kind does not expect is a structure error, never "ok, 0 items"."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pytest
import structlog

from tests.servers import Route, atom_xml
from tests.test_pipeline import config, mailto
from tests.test_sources_federal_register import BIS, answer, document, fixture, fr_config, source
from watcher.commands import poll_once
from watcher.errors import ParseError, Reason
from watcher.models import FetchResult
from watcher.settings import load
from watcher.sources import federal_register as fr
from watcher.sources import feed

NOW = dt.datetime.now(dt.UTC)
GOOD = {"id": "urn:good", "title": "China tightens rare earth export controls", "link": "https://example.gov/1",
        "summary": "Rare earth licences are required.", "updated": NOW - dt.timedelta(hours=1)}  # fmt: skip
IMPOSSIBLE = {"id": "urn:bad", "title": "A rare earth notice dated in the year 10000", "link": "https://example.gov/2",
              "updated": "9999-12-31T23:59:59-12:00"}  # fmt: skip


def fetched(body: bytes, url: str = "http://127.0.0.1:9/feed") -> FetchResult:
    return FetchResult(url=url, status=200, body=body, headers={}, etag=None, last_modified=None, body_hash="")


def test_a_feed_entry_with_an_impossible_date_is_skipped_and_said_so_the_others_kept():
    parsed = feed.parse(fetched(atom_xml([GOOD, IMPOSSIBLE])), None)
    assert [i.key for i in parsed] == ["urn:good"]
    [skip] = parsed.skipped
    assert (skip.part, skip.reason) == ("urn:bad", Reason.parse)
    assert "impossible date in updated (year 10000 is out of range)" in skip.error


def test_a_feed_whose_every_entry_is_unreadable_fails_instead_of_reading_as_empty():
    with pytest.raises(ParseError, match="no entry of the feed is readable"):
        feed.parse(fetched(atom_xml([IMPOSSIBLE])), None)


def test_one_feed_entry_with_an_impossible_date_does_not_fail_the_feed_end_to_end(tmp_path, feed_server, smtp_sink, write_config):
    # It used to fail the whole feed with reason `unknown` ("internal error: ValueError").
    feed_server.set("/feed", atom_xml([GOOD, IMPOSSIBLE]), content_type="application/atom+xml")
    sources = [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}]
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", sources, mailto(smtp_sink)))
    with structlog.testing.capture_logs() as logs:
        [outcome], report = asyncio.run(poll_once(load(path, env={}), []))
    assert (outcome.status, outcome.items, outcome.alerts, report.sent) == ("fetched", 1, 1, 1)
    [skip] = [e for e in logs if e["event"] == "source.part_skipped"]
    assert (skip["source"], skip["part"], skip["reason"]) == ("mofcom", "urn:bad", "parse")

    proc = subprocess.run([sys.executable, "-m", "watcher", "sources", "test", "mofcom", "--config", str(path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "skipped urn:bad (parse): entry 2: impossible date in updated" in proc.stderr
    assert "1 item, " in proc.stdout and "1 skipped as unreadable" in proc.stdout


@pytest.mark.parametrize("bad", [{"docket_ids": 5}, {"dockets": "USTR-2025-0017"}, {"agencies": [{"name": 5}], "cfr_references": 7}],
                         ids=["docket_ids-a-number", "dockets-a-string", "cfr_references-a-number"])  # fmt: skip
def test_a_federal_register_document_with_a_field_of_the_wrong_type_is_skipped_its_neighbours_kept(bad):
    docs = [document(), document(document_number="2025-00002", **bad), document(document_number="2025-00003")]
    parsed = fr.parse(answer(json.dumps({"results": docs}).encode()), source())
    assert [i.key for i in parsed] == ["fr:2025-00001", "fr:2025-00003"]
    [skip] = parsed.skipped
    assert (skip.part, skip.reason) == ("fr:2025-00002", Reason.structure)
    assert skip.error.startswith("document 2025-00002: unexpected field type")


@pytest.mark.parametrize("results", ['"oops"', "42", '{"document_number": "2025-1"}', "true"])
def test_results_that_are_not_a_list_are_a_structure_error_never_ok_with_no_items(results):
    with pytest.raises(ParseError) as err:
        fr.parse(answer(f'{{"count": 1, "results": {results}}}'.encode()), source())
    assert err.value.reason is Reason.structure and "'results' is a" in err.value.message


def test_entries_of_results_that_are_not_documents_are_skipped_and_counted():
    parsed = fr.parse(answer(json.dumps({"results": [document(), "oops", {"title": "no number"}]}).encode()), source())
    assert [i.key for i in parsed] == ["fr:2025-00001"]
    assert [s.part for s in parsed.skipped] == ["results[1]", "results[2]"]


def serve_documents(server: Any, desk: Route) -> None:
    base = server.url("/api/v1")
    server.set("/api/v1/documents.json", [Route(fixture("fr_documents_page1.json", base)),
                                          Route(fixture("fr_documents_page2.json", base))],
               content_type="application/json; charset=utf-8")  # fmt: skip
    server.set("/api/v1/public-inspection-documents/current.json", desk)


def test_a_404_on_the_public_inspection_desk_keeps_the_documents_fetched(tmp_path, feed_server, smtp_sink, write_config):
    # It used to fail the whole source: the three published documents were lost with it.
    serve_documents(feed_server, Route(status=404))
    path = write_config(fr_config(f"sqlite:///{tmp_path / 'w.db'}", feed_server, mailto(smtp_sink)))
    with structlog.testing.capture_logs() as logs:
        [outcome], report = asyncio.run(poll_once(load(path, env={}), []))
    assert (outcome.status, outcome.items) == ("fetched", 3)
    assert outcome.alerts == report.sent == 3
    [skip] = [e for e in logs if e["event"] == "source.part_skipped"]
    assert (skip["source"], skip["reason"]) == ("fr-bis", "http_4xx") and skip["part"].endswith("/current.json")


def test_sources_test_names_the_documents_it_skipped(tmp_path, feed_server, write_config):
    base = feed_server.url("/api/v1")
    page = json.loads(fixture("fr_documents_page2.json", base))
    page["results"].append(document(document_number="2025-99999", docket_ids=5, agencies=[{"slug": BIS}]))
    feed_server.set("/api/v1/documents.json", [Route(fixture("fr_documents_page1.json", base)),
                                               Route(json.dumps(page).encode())])  # fmt: skip
    feed_server.set("/api/v1/public-inspection-documents/current.json", Route(status=404))
    path = write_config(fr_config(f"sqlite:///{tmp_path / 'never.db'}", feed_server, "json://127.0.0.1:9/hook"))
    proc = subprocess.run([sys.executable, "-m", "watcher", "sources", "test", "fr-bis", "--json", "--config", str(path)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 3
    lines = [line for line in proc.stderr.splitlines() if line.startswith("watcher:")]  # the rest is the JSON log
    assert len(lines) == 2
    assert lines[0].startswith("watcher: source 'fr-bis': skipped fr:2025-99999 (structure): document 2025-99999: ")
    assert "skipped http://" in lines[1] and "(http_4xx): public inspection desk: " in lines[1]
