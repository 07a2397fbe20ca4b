"""RSS and Atom feeds, parsed by feedparser from bytes we fetched (feedparser never fetches)."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import re
from dataclasses import replace
from typing import Any

import feedparser
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from watcher.errors import ParseError, Reason
from watcher.models import FetchResult, Item
from watcher.sources.base import Parsed, Skipped, skipped_of

_SPACE = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_ODD_SPACE = re.compile(r"[\t\r\f\v\u00a0\u3000]")  # spacing that _SPACE would change on its own
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = "p, div, br, li, h1, h2, h3, h4, h5, h6, tr, blockquote, section, article"


def parse(result: FetchResult, source: Any) -> Parsed:
    """Every entry of the feed as an Item; a body that is not a feed at all is a ParseError. An
    entry that cannot be read (an impossible date) is skipped and said so, unless all are."""
    headers = {k.lower(): v for k, v in result.headers.items() if k.lower() in ("content-type", "content-location")}
    parsed = feedparser.parse(result.body, response_headers=headers, sanitize_html=False, resolve_relative_uris=True)
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        why = parsed.get("bozo_exception") or "no RSS or Atom document found"
        raise ParseError(f"{result.final_url or result.url}: not a readable feed ({why})", Reason.parse)
    tags = tuple(getattr(source, "tags", ()) or ())
    name = getattr(source, "name", "")
    items, skipped = [], []
    for n, entry in enumerate(parsed.entries, start=1):
        try:
            items.append(_item(entry, name, tags))
        except (ValueError, OverflowError, TypeError, AttributeError) as exc:
            part = str(entry.get("id") or entry.get("link") or f"entry {n}")
            skipped.append(Skipped(part, Reason.parse, f"entry {n}: {exc}"))
    if skipped and not items:
        raise ParseError(f"{result.final_url or result.url}: no entry of the feed is readable "
                         f"({len(skipped)} skipped, the first: {skipped[0].error})", Reason.parse)  # fmt: skip
    return Parsed(items, skipped)


def _item(entry: Any, source: str, tags: tuple[str, ...]) -> Item:
    title = html_to_text(entry.get("title", "")).replace("\n", " ").strip()
    link = (entry.get("link") or "").strip()
    summary = html_to_text(entry.get("summary", ""))
    contents = [c.get("value", "") for c in entry.get("content", []) or []]
    text = html_to_text("\n".join(contents)) if contents else summary
    content_hash = hashlib.sha256("\x1f".join((title, link, summary, text)).encode("utf-8")).hexdigest()
    key = (entry.get("id") or entry.get("guid") or link or f"sha256:{content_hash}").strip()
    return Item(
        source=source,
        key=key,
        title=title,
        link=link,
        published=_published(entry),
        summary=summary,
        text=text,
        content_hash=content_hash,
        tags=tags,
    )


def _published(entry: Any) -> dt.datetime | None:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(field)
        if value:
            try:
                return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)
            except (ValueError, OverflowError) as exc:  # 9999-12-31T23:59-12:00 is in year 10000
                raise ValueError(f"impossible date in {field.removesuffix('_parsed')} ({exc})") from None
    return None


def html_to_text(markup: str) -> str:
    """Plain text of an HTML fragment: blocks become lines, scripts and styles are dropped."""
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        return _tidy(markup)
    tree = HTMLParser(f"<div>{markup}</div>")
    for node in tree.css("script, style, noscript"):
        node.decompose()
    for node in tree.css(_BLOCK_TAGS):
        node.insert_after("\n")
    body = tree.body or tree.root
    return _tidy(body.text(separator="", strip=False) if body else "")


def _squash(line: str) -> str:
    # Most lines have nothing to squash: two `in`/search scans are ~4× cheaper than the sub.
    return _SPACE.sub(" ", line) if "  " in line or _ODD_SPACE.search(line) else line


def _tidy(text: str) -> str:
    lines = (_squash(line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(line for line in lines if line)).strip()


async def collect(poll: Any, source: Any) -> Any:
    """The feed; with `full_text`, each entry not stored yet is completed from its linked page
    (the entry's content hash stays the feed's, so reading the page never makes an update)."""
    from watcher.sources import Collected
    from watcher.sources.html_list import follow_new

    result = await poll.fetch(source.url, conditional=True)
    if result.not_modified or result.unchanged:
        return Collected(result)
    items = await poll.parse(parse, result, source)
    collected = await follow_new(poll, source, result, items) if source.full_text else Collected(result, items)
    return replace(collected, skipped=skipped_of(items))
