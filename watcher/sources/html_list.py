"""Official list pages without a feed (MOFCOM announcements, CBP CSMS messages).

`parse()` is pure: the list page (HTML, or HTML wrapped in JSON at `json_path`) → one Item per
notice, keyed by its absolute link, with a content hash of what the list shows (title, link,
date), so a notice seen again is unchanged however its article was read. Notices are picked by
CSS `selectors`, or without them by looking for links whose text reads as a title and that stand
beside a date, as on most government list pages. A list that yields nothing is a structure error
on the source, never "no news": the page was emptied or redesigned, or is now filled by script.

`collect()` fetches the list, asks which notices are stored already, and follows each new one
once (politely: one request at a time per host, `min_delay` apart) for its text via `article()`.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import hashlib
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import structlog
from selectolax.lexbor import LexborHTMLParser, LexborNode

from watcher.errors import FetchError, ParseError, Reason
from watcher.models import FetchResult, Item
from watcher.sources.feed import html_to_text

if TYPE_CHECKING:
    from watcher.sources import Collected, Poll

log = structlog.get_logger("watcher.sources.html_list")

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_GB = {"gb2312", "gbk", "x-gbk", "gb_2312-80", "gb_2312", "cp936", "ms936", "euc-cn", "csgb2312", "x-euc-cn"}
_MONTHS = {m: i for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}  # fmt: skip
_MONTH = r"(?P<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATES = (
    re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)\s*(?:[-/.]|年)\s*(?P<m>\d{1,2})\s*(?:[-/.]|月)\s*(?P<d>\d{1,2})(?!\d)"),
    re.compile(r"(?<!\d)(?P<m>\d{1,2})/(?P<d>\d{1,2})/(?P<y>(?:19|20)\d\d)(?!\d)"),
    re.compile(_MONTH + r"\s+(?P<d>\d{1,2}),?\s+(?P<y>(?:19|20)\d\d)(?!\d)", re.I),
    re.compile(r"(?<!\d)(?P<d>\d{1,2})\s+" + _MONTH + r",?\s+(?P<y>(?:19|20)\d\d)(?!\d)", re.I),
)
_TIMESTAMP = re.compile(
    r"(?P<y>(?:19|20)\d\d)[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?"
)
# the date a page prints beside a label (older MOFCOM pages: "发布时间：2018-09-18 10:13", "【发文日期】2018年9月18日")
_VISIBLE_DATE = re.compile(
    r"(?:发布时间|發佈時間|發布時間|发布日期|發佈日期|發布日期|发文日期|發文日期|成文日期|Published|Release Date)\s*[:：】\]]?\s*"
    r"(?P<y>(?:19|20)\d\d)[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?",
    re.I,
)
_SCRIPT_DATE = re.compile(r"""(?i)(?:pub|publish|release)\w*\s*[=:]\s*["']([^"']{8,30})["']""")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z]{2,}")
_SPACE = re.compile(r"[\s\u00a0\u3000]+")
_NOT_TITLES = {"more", "more>>", "next", "previous", "home", "更多", "下一页", "上一页", "首页", "尾页"}
_BODY = ("#zoom", "[itemprop=articleBody]", "article", "main", "#content", ".article", ".content", "#main")
# More candidate links (or selected items) than any list page has: a page built to stall us.
MAX_NOTICES = 20_000
_PUBLISHED_META = ("PubDate", "pubdate", "article:published_time", "dcterms.date", "DC.date", "publishdate", "date")


@dataclasses.dataclass(frozen=True, slots=True)
class Article:
    """The main content of a followed notice page."""

    title: str
    text: str
    published: dt.datetime | None


def parse(result: FetchResult, source: Any) -> list[Item]:
    """The notices of a list page as Items (text = title until the article is followed)."""
    where = result.final_url or result.url
    markup = list_markup(result, getattr(source, "json_path", None))
    tree = LexborHTMLParser(markup)
    selectors = getattr(source, "selectors", None)
    notices = select_notices(tree, selectors, where) if selectors else find_notices(tree, where)
    if not notices:
        how = f"selector {selectors.item!r} matched no links" if selectors else "no notice links found"
        raise ParseError(f"structure changed: {how} at {where}", Reason.structure)
    zone = ZoneInfo(getattr(source, "tz", "UTC"))
    name, tags = getattr(source, "name", ""), tuple(getattr(source, "tags", ()) or ())
    return [_item(name, tags, title, link, day, zone) for title, link, day in notices]


def _item(source: str, tags: tuple[str, ...], title: str, link: str, day: dt.date | None, zone: ZoneInfo) -> Item:
    # held in the source's zone: the notice's own day resolves its dates (a MOFCOM notice of
    # 2025-11-07 is not one of 2025-11-06, the UTC day), and it is shown with its zone
    published = dt.datetime.combine(day, dt.time(), zone) if day else None
    digest = hashlib.sha256("\x1f".join((title, link, day.isoformat() if day else "")).encode()).hexdigest()
    return Item(source=source, key=link, title=title, link=link, published=published, summary="", text=title,
                content_hash=digest, tags=tags)  # fmt: skip


def list_markup(result: FetchResult, json_path: str | None) -> str:
    """The list's HTML: the decoded body, or the string at `json_path` of a JSON body."""
    text = decode_html(result.body, result.headers)
    if not json_path:
        return text
    where = result.final_url or result.url
    try:
        node: Any = json.loads(text)
    except ValueError as exc:
        raise ParseError(f"{where}: not JSON ({exc})", Reason.parse) from None
    for part in json_path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, str):
        raise ParseError(f"structure changed: no HTML string at {json_path!r} in the JSON of {where}", Reason.structure)
    return node


def decode_html(body: bytes, headers: dict[str, str]) -> str:
    """Bytes → text: BOM, else the Content-Type charset, else a `<meta charset>` near the top,
    else UTF-8 (or GB18030 when the bytes are not UTF-8). GB2312 and GBK are read as GB18030,
    their superset, since pages labelled GB2312 routinely use GBK-only characters."""
    if body.startswith(b"\xef\xbb\xbf"):
        return body[3:].decode("utf-8", "replace")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    declared = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", content_type, re.I)
    label = declared.group(1) if declared else None
    if label is None:
        meta = _CHARSET.search(body[:4096])
        label = meta.group(1).decode("ascii") if meta else None
    codec = _codec(label)
    if codec is None:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            codec = "gb18030"
    return body.decode(codec, "replace")


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    name = label.strip().lower()
    if name in _GB or name == "gb18030":
        return "gb18030"
    try:
        return "utf-8" if "utf" in name and "8" in name else codecs.lookup(name).name
    except LookupError:
        return None


def find_notices(tree: LexborHTMLParser, base: str) -> list[tuple[str, str, dt.date | None]]:
    """Links whose text reads as a title and that stand beside a date (title, URL, date).

    Linear in the page: each title-like link is counted once in each of its few nearest
    ancestors, so that finding a link's row (an ancestor holding no other title-like link)
    looks each ancestor up instead of searching it again for links."""
    links = [(a, title) for a in _links(tree, "a[href]") if reads_as_title(title := _title(a))]
    crowd: dict[int, int] = {}  # ancestor → how many title-like links it holds
    for a, _ in links:
        for node in _rows(a):
            crowd[node.mem_id] = crowd.get(node.mem_id, 0) + 1
    out: dict[str, tuple[str, str, dt.date | None]] = {}
    for a, title in links:
        link = _link(a, base)
        if not link or link in out:
            continue
        day = _date_beside(a, title, crowd)
        if day is not None:
            out[link] = (title, link, day)
    return list(out.values())


def _links(tree: LexborHTMLParser, selector: str) -> list[LexborNode]:
    """The nodes `selector` picks, refused beyond MAX_NOTICES: no list page has that many."""
    nodes = tree.css(selector)
    if len(nodes) > MAX_NOTICES:
        raise ParseError(f"too large to read as a list: {len(nodes):,} nodes match {selector!r} "
                         f"(at most {MAX_NOTICES:,})", Reason.too_large)  # fmt: skip
    return nodes


def select_notices(tree: LexborHTMLParser, selectors: Any, base: str) -> list[tuple[str, str, dt.date | None]]:
    """Notices picked by CSS selectors: `item`, then `link`, `title` and `date` inside it."""
    out: dict[str, tuple[str, str, dt.date | None]] = {}
    for node in _links(tree, selectors.item):
        a = node if node.tag == "a" and node.attributes.get("href") else node.css_first(selectors.link)
        link = _link(a, base) if a is not None else None
        if not link or link in out:
            continue
        title_node = node.css_first(selectors.title) if selectors.title else a
        title = _title(title_node) if title_node is not None else ""
        date_node = node.css_first(selectors.date) if selectors.date else node
        out[link] = (title or link, link, find_date(date_node.text(separator=" ")) if date_node else None)
    return list(out.values())


def reads_as_title(text: str) -> bool:
    """A notice title, not navigation: at least 6 CJK characters, or 4 words of some length."""
    if not text or text.lower() in _NOT_TITLES or find_date(text) and len(text) < 16:
        return False
    return len(_CJK.findall(text)) >= 6 or (len(_WORD.findall(text)) >= 4 and len(text) >= 20)


def find_date(text: str) -> dt.date | None:
    """The first calendar date written in `text` (2025-10-09, 2025年10月9日, 10/09/2025, Oct 9, 2025)."""
    best: tuple[int, dt.date] | None = None
    for pattern in _DATES:
        for m in pattern.finditer(text):
            day = _day(m)
            if day is not None:
                if best is None or m.start() < best[0]:
                    best = (m.start(), day)
                break
    return best[1] if best else None


def _day(m: re.Match[str]) -> dt.date | None:
    groups = m.groupdict()
    month = _MONTHS.get(groups["mon"][:3].lower()) if groups.get("mon") else int(groups["m"])
    try:
        return dt.date(int(groups["y"]), month or 0, int(groups["d"]))
    except ValueError:
        return None


def _title(node: LexborNode) -> str:
    text = _SPACE.sub(" ", node.text(separator=" ")).strip()
    attr = _SPACE.sub(" ", node.attributes.get("title") or "").strip()
    # Lists cut long titles ("…" or "..."); the title attribute usually holds the whole one.
    return attr if len(attr) > len(text.rstrip(".… ")) else text


def _link(node: LexborNode, base: str) -> str | None:
    href = (node.attributes.get("href") or "").strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
        return None
    link = urljoin(base, href)
    return link if urlsplit(link).scheme in ("http", "https") else None


def _rows(a: LexborNode) -> list[LexborNode]:
    """The ancestors that may be a link's row: its four nearest, below `body`."""
    rows, node = [], a.parent
    while node is not None and node.tag not in ("body", "html") and len(rows) < 4:
        rows.append(node)
        node = node.parent
    return rows


def _date_beside(a: LexborNode, title: str, crowd: dict[int, int]) -> dt.date | None:
    """A date in the link's own row (its nearest ancestor holding no other title-like link).
    A row holds one title-like link, so rows of different links never overlap: reading their
    text is linear in the page."""
    for node in _rows(a):
        if crowd.get(node.mem_id, 0) > 1:
            return None
        rest = _SPACE.sub(" ", node.text(separator=" ")).replace(title, " ", 1)
        day = find_date(rest)
        if day is not None:
            return day
    return None


def article(markup: str, zone: ZoneInfo | None = None) -> Article:
    """Title, main text and publication time of a notice page: the title from `meta ArticleTitle`,
    `h1` or `<title>`; the body from `#zoom` (MOFCOM), `article`, `main`… else the page without its
    navigation; the time from `meta PubDate` (and kin) or a script variable, the only places
    MOFCOM writes it (the visible date is drawn by JavaScript)."""
    tree = LexborHTMLParser(markup)
    title = _meta(tree, "ArticleTitle") or _text(tree.css_first("h1")) or _text(tree.css_first("title"))
    zone = zone or ZoneInfo("UTC")
    published = _published(tree, zone)
    for node in tree.css("script, style, noscript, nav, header, footer, aside, form"):
        node.decompose()
    if published is None and tree.body is not None:  # only shown on the page: "发布时间：2018-09-18"
        published = _stamp(_VISIBLE_DATE.search(tree.body.text(separator="\n")), zone)
    body = next((n for sel in _BODY if (n := tree.css_first(sel)) is not None and _text(n)), None)
    body = body or tree.body
    return Article(title=title, text=html_to_text(body.html or "") if body else "", published=published)


def read_article(page: FetchResult, tz: str) -> Article:
    """`article()` of a fetched notice page (pure, for the worker pool)."""
    return article(decode_html(page.body, page.headers), ZoneInfo(tz))


def _meta(tree: LexborHTMLParser, name: str) -> str:
    for node in tree.css("meta"):
        if (node.attributes.get("name") or node.attributes.get("property") or "").lower() == name.lower():
            return _SPACE.sub(" ", node.attributes.get("content") or "").strip()
    return ""


def _text(node: LexborNode | None) -> str:
    return _SPACE.sub(" ", node.text(separator=" ")).strip() if node is not None else ""


def _published(tree: LexborHTMLParser, zone: ZoneInfo) -> dt.datetime | None:
    candidates = [_meta(tree, name) for name in _PUBLISHED_META]
    candidates += [m.group(1) for s in tree.css("script") for m in _SCRIPT_DATE.finditer(s.text() or "")]
    for value in candidates:
        found = _stamp(_TIMESTAMP.search(value) if value else None, zone)
        if found is not None:
            return found
    return None


def _stamp(m: re.Match[str] | None, zone: ZoneInfo) -> dt.datetime | None:
    """A matched timestamp as a time in the source's zone (an explicit offset is converted to it)."""
    if m is None:
        return None
    try:
        naive = dt.datetime(int(m["y"]), int(m["m"]), int(m["d"]), int(m["H"] or 0), int(m["M"] or 0),
                            int(m["S"] or 0))  # fmt: skip
    except ValueError:
        return None
    if m["tz"]:
        offset = dt.datetime.strptime(m["tz"].replace(":", "").replace("Z", "+0000"), "%z").tzinfo
        return naive.replace(tzinfo=offset).astimezone(zone)
    return naive.replace(tzinfo=zone)


async def collect(poll: Poll, source: Any) -> Collected:
    """Fetch the list, then follow each notice not stored yet (or changed on the list) once."""
    from watcher.sources import Collected

    result = await poll.fetch(source.url, conditional=True, min_delay=source.min_delay)
    if result.not_modified or result.unchanged:
        return Collected(result)
    items = await poll.parse(parse, result, source)  # off the event loop: a list page may be large
    return await follow_new(poll, source, result, items) if source.follow else Collected(result, items)


async def follow_new(poll: Poll, source: Any, result: FetchResult, items: list[Item]) -> Collected:
    """Read the page of each item not stored yet (or changed) once, newest first, at most
    `source.max_follow` a poll; the others are returned as they are."""
    from watcher.sources import Collected

    stored = await poll.known([i.key for i in items])
    seen = [i for i in items if stored.get(i.key) == i.content_hash]
    fresh = [i for i in items if stored.get(i.key) != i.content_hash]
    history = [i for i in fresh if _history(i, poll.quiet_before)]
    fresh = [i for i in fresh if not _history(i, poll.quiet_before)]
    fresh.sort(key=lambda i: i.published or dt.datetime.max.replace(tzinfo=dt.UTC), reverse=True)
    now, later = fresh[: source.max_follow], fresh[source.max_follow :]
    followed = [await _follow(poll, source, item) for item in now]
    if later:
        # Forget the list's validators so that the next poll reads it again and follows the rest.
        result = dataclasses.replace(result, etag=None, last_modified=None, body_hash="")
    return Collected(result, seen + history + followed)


def _history(item: Item, quiet_before: dt.datetime | None) -> bool:
    # A first poll stores old notices as history without alerting: no need to read them.
    return bool(quiet_before and item.published and item.published < quiet_before)


async def _follow(poll: Poll, source: Any, item: Item) -> Item:
    """The item with its article's text; on failure, the item as the list shows it."""
    try:
        page = await poll.fetch(item.link, accept="text/html, */*;q=0.5", min_delay=source.min_delay)
        found = await poll.parse(read_article, page, source.tz)
    except (FetchError, ParseError) as exc:
        log.warning("article.unreadable", source=source.name, item=item.link, reason=exc.reason.value, error=exc.message)
        return item
    except Exception as exc:  # an odd page must not fail the whole list
        log.warning("article.unreadable", source=source.name, item=item.link, reason="parse", error=repr(exc))
        return item
    if not found.text:
        return item
    title = item.title
    if found.title and item.title.rstrip(".… ") and found.title.startswith(item.title.rstrip(".… ")):
        title = found.title  # the list cut the title short
    published = item.published
    if found.published and (published is None or abs(found.published - published) < dt.timedelta(hours=36)):
        published = found.published  # the page's time is more precise than a list's date
    # The rules were matched (where the list was parsed) on the list's text: match them again.
    poll.made.pop(item.key, None)
    return dataclasses.replace(
        item, title=title, text=found.text, summary=item.summary or found.text[:300], published=published
    )
