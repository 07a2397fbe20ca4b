"""Federal Register documents end to end, on both databases: a suspension notice is told from the
sentence of its DATES section (the structured `effective_on` only confirms it), as a suspension
from one date until another, and a rule effective on display before publication keeps its date."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml

from watcher.commands import poll_once
from watcher.settings import load

BIS, USTR = "industry-and-security-bureau", "trade-representative-office-of-united-states"
REGISTRY = {"measures": [
    {"id": "us-port-fees", "title": "USTR Section 301 port fees on Chinese vessels", "jurisdiction": "US",
     "authority": "USTR", "reference": "FR Doc 2025-06927", "aliases": ["port fees"], "status": "in_force",
     "milestones": [{"kind": "effective", "date": "2025-10-14"}]},
    {"id": "us-affiliates", "title": "BIS Affiliates Rule", "jurisdiction": "US", "authority": "BIS",
     "reference": "FR Doc 2025-19001", "aliases": ["affiliates rule"], "status": "announced", "milestones": []},
]}  # fmt: skip
SUSPENSION = {
    "document_number": "2025-20500", "type": "Notice", "publication_date": "2025-11-13", "effective_on": "2025-11-10",
    "title": "Notice of Action: Suspension of the Section 301 Port Fees", "html_url": "https://www.federalregister.gov/d/2025-20500",
    "abstract": "USTR suspends the port fees on vessels of Chinese operators for one year.",
    "dates": "The suspension of the port fees is effective November 10, 2025, through November 9, 2026.",
    "agencies": [{"slug": USTR, "name": "Trade Representative, Office of United States"}],
}  # fmt: skip
ON_DISPLAY = {
    "document_number": "2025-19001", "type": "Rule", "publication_date": "2025-09-30", "effective_on": "2025-09-29",
    "title": "Expansion of End-User Controls To Cover Affiliates of Certain Listed Entities (affiliates rule)",
    "html_url": "https://www.federalregister.gov/d/2025-19001", "abstract": "BIS issues the affiliates rule.",
    "dates": "This interim final rule is effective September 29, 2025.",
    "agencies": [{"slug": BIS, "name": "Industry and Security Bureau"}],
}  # fmt: skip


def setup(tmp_path: Path, db_url: str, api: str, hook: str) -> Path:
    (tmp_path / "deadlines.yaml").write_text(yaml.safe_dump(REGISTRY), encoding="utf-8")
    data = {
        "database": db_url, "allow_private_networks": True, "registry": "deadlines.yaml",
        "defaults": {"interval": "15m", "timeout": "5s", "channels": ["compliance"], "backfill": "0s"},
        "sources": [{"name": "fr", "kind": "federal_register", "url": api, "agencies": [BIS, USTR],
                     "public_inspection": False}],
        "rules": [{"name": "us-trade", "any": ["port fees", "affiliates rule"]}],
        "channels": [{"name": "compliance", "url": hook}],
    }  # fmt: skip
    path = tmp_path / "watcher.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_a_suspension_notice_quotes_its_dates_sentence_and_a_rule_effective_on_display_keeps_its_date(
    tmp_path, db_url, feed_server, webhook_sink
):
    body: dict[str, Any] = {"count": 2, "results": [SUSPENSION, ON_DISPLAY]}
    feed_server.set("/api/v1/documents.json", json.dumps(body).encode(), content_type="application/json")
    path = setup(tmp_path, db_url, feed_server.url("/api/v1"), webhook_sink.url())
    asyncio.run(poll_once(load(path, env={}), []))
    by_link = {r.body["watcher"]["link"]: r.body for r in webhook_sink.wait_for(2)}

    notice = by_link[SUSPENSION["html_url"]]["watcher"]
    changes = {(c["kind"], c["new_kind"], c["new_date"]): c for c in notice["changes"]}
    assert set(changes) == {("suspended", "suspension", "2025-11-10"), ("suspended", "suspension_end", "2026-11-09")}
    start = changes[("suspended", "suspension", "2025-11-10")]
    assert start["evidence"] == SUSPENSION["dates"]  # the DATES sentence, not "effective_on: 2025-11-10"
    assert "new: effective" not in by_link[SUSPENSION["html_url"]]["message"]

    rule = by_link[ON_DISPLAY["html_url"]]
    [change] = rule["watcher"]["changes"]
    assert (change["new_kind"], change["new_date"]) == ("effective", "2025-09-29")
    assert "effective 2025-09-29 (on display before publication on 2025-09-30)" in rule["message"]
