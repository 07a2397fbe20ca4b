"""The Federal Register documents API (JSON) and its Public Inspection desk.

`parse()` is pure: one page of `documents.json` → Items keyed `fr:<document number>`, their
structured dates (`effective_on`, `comments_close_on`, dockets' `comment_end_date`) becoming
high-confidence `Event`s without text extraction; only the free-text `dates` field goes through
the extractor. A date typed before the publication date is kept, flagged `before_publication`
and given a low confidence: it is never a new future deadline.

`collect()` asks for the fields it needs (`fields[]`: the API's default list leaves out
`effective_on` and `comments_close_on`), oldest first from a cursor (the newest publication date
seen), follows `next_page_url` (the API's `count` and `next_page_url` describe the whole result
set, not the page), then reads `public-inspection-documents/current.json`: a document on public
inspection is the earliest warning there is, and as it has the same key as the published
document that follows, the latter is an update of the same item, not a second notice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from watcher.errors import FetchError, ParseError, Reason
from watcher.extract import extract_deadlines
from watcher.models import Event, FetchResult, Item
from watcher.sources.base import Parsed, Skipped, skipped_of

if TYPE_CHECKING:
    from watcher.sources import Collected, Poll

CANONICAL = "https://www.federalregister.gov/api/v1"
FIELDS = (
    "document_number", "title", "type", "action", "abstract", "dates", "effective_on", "comments_close_on",
    "publication_date", "html_url", "pdf_url", "agencies", "cfr_references", "docket_ids", "dockets",
    "regulation_id_numbers", "correction_of", "corrections", "significant",
)  # fmt: skip
# Condition values (RULE…) and how documents spell their type.
TYPE_NAMES = {
    "RULE": "Rule",
    "PRORULE": "Proposed Rule",
    "NOTICE": "Notice",
    "PRESDOCU": "Presidential Document",
}
STRUCTURED = 0.98  # an agency's own structured date
SUSPICIOUS = 0.3  # a date before publication: kept, flagged, never a new future deadline
_CFR = re.compile(r"(\d+)\s*CFR\s*([0-9A-Za-z.]+)", re.I)


def documents_url(source: Any, since: dt.date | None) -> str:
    """The first page of the documents query for `source`, from `since` (inclusive)."""
    params: list[tuple[str, Any]] = [("per_page", source.per_page), ("order", "oldest")]
    params += [("fields[]", f) for f in FIELDS]
    params += [("conditions[agencies][]", a) for a in source.agencies]
    params += [("conditions[type][]", t) for t in source.document_types]
    if source.term:
        params.append(("conditions[term]", source.term))
    cfr = _CFR.search(source.cfr or "")
    if cfr:
        params += [
            ("conditions[cfr][title]", cfr.group(1)),
            ("conditions[cfr][part]", cfr.group(2)),
        ]
    if since:
        params.append(("conditions[publication_date][gte]", since.isoformat()))
    return f"{_base(source)}/documents.json?{urlencode(params)}"


def _base(source: Any) -> str:
    return str(source.url).rstrip("/")


def parse(result: FetchResult, source: Any) -> Parsed:
    """One page of `documents.json` as Items; a document that cannot be read (a field of the
    wrong type) is skipped and said so, its neighbours kept."""
    docs, skipped = _results(result)
    return _each(docs, lambda doc: document_item(doc, source), skipped)


def parse_public_inspection(result: FetchResult, source: Any) -> Parsed:
    """`public-inspection-documents/current.json`, narrowed to the source's agencies, types and
    term (the desk takes no conditions)."""
    docs, skipped = _results(result)
    return _each(docs, lambda doc: inspection_item(doc, source) if _wanted(doc, source) else None, skipped)


def _each(docs: list[dict[str, Any]], read: Any, skipped: list[Skipped]) -> Parsed:
    items = []
    for doc in docs:
        try:
            item = read(doc)
        except (TypeError, AttributeError, ValueError, KeyError, OverflowError) as exc:
            number = doc.get("document_number")
            skipped.append(Skipped(f"fr:{number}", Reason.structure,
                                   f"document {number}: unexpected field type ({type(exc).__name__}: {exc})"))  # fmt: skip
            continue
        if item is not None:
            items.append(item)
    return Parsed(items, skipped)


def _payload(result: FetchResult) -> dict[str, Any]:
    where = result.final_url or result.url
    body = result.body.lstrip()
    content_type = next((v for k, v in result.headers.items() if k.lower() == "content-type"), "")
    if body[:1] == b"<" or "html" in content_type.lower():
        # federalregister.gov answers some clients with HTTP 200 and a "Request Access" page.
        hint = (
            " (a 'Request Access' page: the API is refusing this client)"
            if b"request access" in body[:20000].lower()
            else ""
        )
        raise ParseError(f"{where}: HTML instead of JSON{hint}", Reason.access_denied)
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ParseError(f"{where}: not JSON ({exc})", Reason.parse) from None
    if not isinstance(data, dict):
        raise ParseError(
            f"{where}: expected a JSON object, got {type(data).__name__}", Reason.structure
        )
    return data


def _results(result: FetchResult) -> tuple[list[dict[str, Any]], list[Skipped]]:
    """The page's documents, and the entries of `results` that are not documents at all."""
    results = _payload(result).get("results")
    if results is None:  # a query with no matches has no `results` key at all
        return [], []
    if not isinstance(results, list):
        where = result.final_url or result.url
        raise ParseError(f"structure changed: 'results' is a {type(results).__name__}, not a list, at {where}",
                         Reason.structure)  # fmt: skip
    docs, skipped = [], []
    for n, doc in enumerate(results):
        if isinstance(doc, dict) and doc.get("document_number") and isinstance(doc["document_number"], str | int):
            docs.append(doc)
        else:
            skipped.append(Skipped(f"results[{n}]", Reason.structure, f"results[{n}] is not a document with a number"))
    return docs, skipped


def next_page(result: FetchResult, source: Any) -> str | None:
    """The next page's URL, moved onto the configured base when a mirror answers with the
    canonical host."""
    url = _payload(result).get("next_page_url")
    if not isinstance(url, str) or not url:
        return None
    if url.startswith(CANONICAL) and _base(source) != CANONICAL:
        return _base(source) + url[len(CANONICAL) :]
    return url


def document_item(doc: dict[str, Any], source: Any) -> Item:
    number = str(doc["document_number"])
    published = _date(doc.get("publication_date"))
    title = _clean(doc.get("title")) or f"Federal Register document {number}"
    lines = [
        f"{TYPE_NAMES.get(str(doc.get('type')).upper(), doc.get('type') or 'Document')}: {title}",
        f"ACTION: {_clean(doc.get('action'))}" if doc.get("action") else "",
        f"SUMMARY: {_clean(doc.get('abstract'))}" if doc.get("abstract") else "",
        f"DATES: {_clean(doc.get('dates'))}" if doc.get("dates") else "",
        f"AGENCIES: {_agencies(doc)}" if doc.get("agencies") else "",
        f"CFR: {_cfr(doc)}" if doc.get("cfr_references") else "",
    ]
    events = document_events(doc, published)
    extra = {
        "document_number": number, "type": str(doc.get("type") or ""), "stage": "published",
        "agencies": _agencies(doc), "cfr_references": _cfr(doc), "html_url": str(doc.get("html_url") or ""),
        "docket_ids": ", ".join(map(str, doc.get("docket_ids") or [])),
        "correction_of": str(doc.get("correction_of") or ""), "corrections": ", ".join(map(str, doc.get("corrections") or [])),
    }  # fmt: skip
    if any("before_publication" in e.flags for e in events):
        extra["suspicious"] = "a structured date falls before the publication date"
    # The published version of a document seen on public inspection is the same notice: its
    # update brings findings (the dates are structured now) but no second rule alert.
    return replace(_item(source, number, title, doc, published, _clean(doc.get("abstract")), lines, events, extra),
                   quiet_update=True)  # fmt: skip


def inspection_item(doc: dict[str, Any], source: Any) -> Item:
    """A document on public inspection: no effective or comment dates yet; a withdrawn one has
    no publication date."""
    number = str(doc["document_number"])
    title = next(
        (
            _clean(doc.get(k))
            for k in ("title", "toc_doc", "toc_subject", "subject_1")
            if doc.get(k)
        ),
        "",
    )
    title = title or f"Federal Register document {number} (public inspection)"
    scheduled = _date(doc.get("publication_date"))
    filed = _timestamp(doc.get("filed_at"))
    lines = [
        f"On public inspection: {title}",
        f"To be published {scheduled.isoformat()}."
        if scheduled
        else "Withdrawn or not scheduled for publication.",
        f"AGENCIES: {_agencies(doc)}" if doc.get("agencies") else "",
        f"DOCKETS: {', '.join(map(str, doc.get('docket_numbers') or []))}"
        if doc.get("docket_numbers")
        else "",
    ]
    extra = {
        "document_number": number, "type": str(doc.get("type") or ""), "stage": "public_inspection",
        "agencies": _agencies(doc), "filing_type": str(doc.get("filing_type") or ""),
        "docket_ids": ", ".join(map(str, doc.get("docket_numbers") or [])),
        "scheduled": scheduled.isoformat() if scheduled else "", "withdrawn": "" if scheduled else "yes",
    }  # fmt: skip
    when = filed or (dt.datetime.combine(scheduled, dt.time(), dt.UTC) if scheduled else None)
    return _item(source, number, title, doc, when, "", lines, (), extra)


def _item(
    source: Any, number: str, title: str, doc: dict[str, Any], published: dt.date | dt.datetime | None,
    summary: str, lines: list[str], events: tuple[Event, ...] | list[Event], extra: dict[str, str],
) -> Item:  # fmt: skip
    if isinstance(published, dt.datetime) or published is None:
        when = published
    else:
        when = dt.datetime.combine(published, dt.time(), dt.UTC)
    text = "\n".join(line for line in lines if line)
    link = str(doc.get("html_url") or doc.get("pdf_url") or "")
    digest = hashlib.sha256("\x1f".join((title, link, text)).encode("utf-8")).hexdigest()
    return Item(
        source=getattr(source, "name", ""), key=f"fr:{number}", title=title, link=link, published=when,
        summary=summary, text=text, content_hash=digest, tags=tuple(getattr(source, "tags", ()) or ()),
        events=tuple(events), extra=extra,
    )  # fmt: skip


# A rule may take effect on display at the Public Inspection desk, a few days before publication.
ON_DISPLAY = dt.timedelta(days=14)


def document_events(doc: dict[str, Any], published: dt.date | None) -> tuple[Event, ...]:
    """Structured dates first (high confidence), then docket comment end dates, then what the
    extractor finds in the free-text `dates`; one event per (date, kind)."""
    number = doc.get("document_number")
    found: list[Event] = []
    for name, kind in (("effective_on", "effective"), ("comments_close_on", "comment_deadline")):
        day = _date(doc.get(name))
        if day:
            found.append(
                _checked(
                    Event(day, kind, f"{number} {name}: {day.isoformat()}", STRUCTURED), published
                )
            )
    for docket in doc.get("dockets") or []:
        for entry in (docket or {}).get("documents") or []:
            day = _date((entry or {}).get("comment_end_date"))
            if day:
                evidence = (
                    f"{number} docket {docket.get('id', '')} comment_end_date: {day.isoformat()}"
                )
                found.append(
                    _checked(Event(day, "comment_deadline", evidence, STRUCTURED - 0.03), published)
                )
    if doc.get("dates"):
        found += [
            _checked(e, published) for e in extract_deadlines(_clean(doc["dates"]), published)
        ]
    best: dict[tuple[dt.date, str], Event] = {}
    for event in found:
        key = (event.date, event.kind)
        held = best.get(key)
        if held is None:
            best[key] = event
        else:  # keep the surer one, with the time of day the other may give ("11:59 p.m. ET")
            sure, other = (held, event) if held.confidence >= event.confidence else (event, held)
            # The DATES sentence is the evidence people read; the structured field confirms it.
            evidence = other.evidence if _is_field(sure) and not _is_field(other) else sure.evidence
            best[key] = replace(sure, evidence=evidence, time=sure.time or other.time, tz=sure.tz or other.tz)
    return tuple(best.values())


def _is_field(event: Event) -> bool:
    """A date from a structured field (`2025-19001 effective_on: 2025-09-29`), not a sentence."""
    return bool(re.search(r"\b(effective_on|comments_close_on|comment_end_date): \d{4}-\d{2}-\d{2}$", event.evidence))


def _checked(event: Event, published: dt.date | None) -> Event:
    """A date before publication: a rule effective on display at the Public Inspection desk (days
    before) is normal; one years off is an agency typo, kept but flagged with a low confidence."""
    if published and event.date < published <= event.date + ON_DISPLAY:
        return replace(event, flags=(*event.flags, "on_display"))
    if published and event.date < published:
        return replace(
            event,
            confidence=min(event.confidence, SUSPICIOUS),
            flags=(*event.flags, "before_publication"),
        )
    return event


def _wanted(doc: dict[str, Any], source: Any) -> bool:
    slugs = {str(a.get("slug") or "") for a in doc.get("agencies") or [] if isinstance(a, dict)}
    if source.agencies and not slugs & set(source.agencies):
        return False
    kinds = {TYPE_NAMES[t] for t in source.document_types}
    if kinds and str(doc.get("type") or "") not in kinds:
        return False
    if source.term:
        words = [
            w.lower()
            for w in re.findall(r"\w+", source.term)
            if w.upper() not in ("AND", "OR", "NOT")
        ]
        haystack = " ".join(
            str(doc.get(k) or "") for k in ("title", "toc_subject", "toc_doc", "subject_1")
        ).lower()
        return all(w in haystack for w in words)
    return True


def _agencies(doc: dict[str, Any]) -> str:
    names = [
        str(a.get("name") or a.get("raw_name") or "")
        for a in doc.get("agencies") or []
        if isinstance(a, dict)
    ]
    return ", ".join(n for n in names if n)


def _cfr(doc: dict[str, Any]) -> str:
    refs = [
        f"{r.get('title')} CFR {r.get('part')}"
        for r in doc.get("cfr_references") or []
        if isinstance(r, dict)
    ]
    return ", ".join(refs)


def _clean(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _timestamp(value: Any) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def desk_urls(source: Any, cursor: dt.date | None, today: dt.date, catch_up: int = 7) -> list[str]:
    """The Public Inspection desk: today's (`current.json`), after a gap also the days missed since
    the cursor, by date (at most `catch_up` of them), so nothing filed while we were down is lost."""
    base = _base(source)
    days = range(1, catch_up + 1) if cursor is not None else ()
    missed = [cursor + dt.timedelta(days=n) for n in days if cursor + dt.timedelta(days=n) < today]  # type: ignore[operator]
    by_date = [
        f"{base}/public-inspection-documents.json?conditions[available_on]={d.isoformat()}"
        for d in missed
    ]
    return by_date + [f"{base}/public-inspection-documents/current.json"]


async def collect(poll: Poll, source: Any) -> Collected:
    """Documents published since the cursor (page by page), then the public inspection desk."""
    from watcher.sources import Collected

    since = _date(poll.cursor) or (poll.quiet_before or poll.now).date()
    first = await poll.fetch(documents_url(source, since), accept="application/json")
    page = await poll.parse(parse, first, source)  # off the event loop: `dates` goes through the extractor
    items, skipped, result, url = list(page), list(skipped_of(page)), first, next_page(first, source)
    seen = {url}
    for _ in range(source.max_pages - 1):
        if not url:
            break
        result = await poll.fetch(url, accept="application/json")
        page = await poll.parse(parse, result, source)
        items += page
        skipped += skipped_of(page)
        url = next_page(result, source)
        if url in seen:
            break
        seen.add(url)
    newest = max((i.published.date() for i in items if i.published), default=since)
    if source.public_inspection:
        pending, desk_skipped = await _desk(poll, source, {d.key for d in items})
        skipped += desk_skipped
        stored = await poll.known([i.key for i in pending])
        # Once stored, a notice is updated by its published version only, not by the desk again.
        items += [i for i in pending if i.key not in stored]
    return Collected(first, items, cursor=newest.isoformat(), skipped=tuple(skipped))


async def _desk(poll: Poll, source: Any, published: set[str]) -> tuple[list[Item], list[Skipped]]:
    """The documents on the Public Inspection desk not published yet. An unreadable desk (a 404,
    an error page) is skipped and said so: the documents already fetched are kept."""
    pending: list[Item] = []
    skipped: list[Skipped] = []
    for desk_url in desk_urls(source, _date(poll.cursor), poll.now.date()):
        try:
            desk = await poll.fetch(desk_url, accept="application/json")
            found = await poll.parse(parse_public_inspection, desk, source)
        except (FetchError, ParseError) as exc:
            skipped.append(Skipped(desk_url, exc.reason, f"public inspection desk: {exc.message}"))
            continue
        pending += [i for i in found if i.key not in published]
        skipped += skipped_of(found)
    return pending, skipped
