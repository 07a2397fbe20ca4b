"""The date that publication-relative expressions ("自公布之日起", "on the date of publication",
"30 days after publication") count from, when the passage itself gives it.

README rule: the publication date is the date the passage gives for it (the date under a
decree's signature, or a stated "published on X" / "X日发布公告"), else the document's
`published`. A stated publication is only trusted when it lies shortly before `published`
(a news report or alert written a few days after the notice), so the publication of some older
document mentioned in passing is not taken for it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from .mentions import Mention, valid_day

_MAX_LAG_DAYS = 14

# A line holding only a date, optionally after "Dated:" (a decree's or order's signature).
_SIGN_PREFIX = re.compile(r"^\s*(?:dated:?|signed:?|the\s+white\s+house,)?\s*\Z", re.I)
# "published in the Official Journal on 12 March 2025", "was published on June 16",
# "Announcement No. 1, released on January 2, 2025"
_EN_PUBLISHED = re.compile(
    r"\b(?:published|released|issued|promulgated|announced)\b(?:\s+(?:in|on)\s+(?:the\s+)?(?:Federal\s+Register|Official\s+Journal"
    r"(?:\s+of\s+the\s+European\s+Union)?|its\s+website))?\s+on\s+",
    re.I,
)
# "On October 9, 2025, MOFCOM issued Announcement No. 61" (the verb follows the date)
_EN_ON = re.compile(r"(?<![\w,])On\s+(?=[A-Z0-9])")
_EN_ON_VERB = re.compile(r"[^.;\n]{0,100}?\b(?:issued|published|released|promulgated)\b", re.I)
# "10/10/2025 (date of publication in the Federal Register)"
_EN_PUB_AFTER = re.compile(r"\s*\((?:the\s+)?(?:date\s+of\s+)?publication\b", re.I)
# "10月9日发布公告", "昨(9)日發布", "29日在欧盟官方公报公布", "9月25日联合发布"
_ZH_PUBLISHED = re.compile(
    r"(?:(?P<y>(?:19|20)\d\d)\s*年)?(?:(?P<m>1[0-2]|0?[1-9])\s*月)?\s*\(?(?P<d>3[01]|[12]\d|0?[1-9])"
    r"\)?\s*日[,，]?(?:[^,，。;；、\d]{0,10}?)(?:发布|發布|發佈|公布|公佈|印发|印發|颁布|頒布|[连連][发發]|公告)"
)

# A page's own date stamp, printed beside its label: "发布时间：2018-09-18 10:13", "【发文日期】2018年9月18日"
_ZH_STAMP = re.compile(
    r"(?:发布|發佈|發布|发文|發文|成文)(?:时间|時間|日期)\s*[:：】\]]?\s*"
    r"(?P<y>(?:19|20)\d\d)\s*[-/.年]\s*(?P<m>1[0-2]|0?[1-9])\s*[-/.月]\s*(?P<d>3[01]|[12]\d|0?[1-9])(?!\d)"
)

# "财政部预计于10月中旬正式公告", "is expected to be published before year-end": the publication
# has not happened, so "自公告日起" / "upon publication" name no day yet.
_PENDING = re.compile(
    r"(?:预计|預計|将于|將於|尚未|尚待)[^,，。;；]{0,10}?(?:正式)?(?:公告|公布|公佈|发布|發布|發佈|刊登)"
    r"|\b(?:is|are)\s+(?:expected|yet)\s+to\s+be\s+published\b(?![^.;]{0,60}?\bon\s)"
    # "upon publication in the Federal Register, which is expected in the coming weeks"
    r"|\bpublication\b[^.;]{0,50}?\b(?:which|that)\s+is\s+(?:expected|planned|anticipated)\b",
    re.I,
)

Finder = Callable[[str], list[Mention]]


def publication_pending(norm: str) -> bool:
    """True when the passage says the publication that relative dates count from is to come."""
    return _PENDING.search(norm) is not None


def signature_date(norm: str, mentions: Finder) -> dt.date | None:
    """The last short line that holds nothing but a full date."""
    found = None
    for line in norm.splitlines():
        if len(line) > 60 or not line.strip():
            continue
        found_here = mentions(line)
        if len(found_here) != 1 or found_here[0].year is None or found_here[0].rel is not None:
            continue
        men = found_here[0]
        rest = line[: men.start] + line[men.end :].strip(" .。")
        if _SIGN_PREFIX.match(rest):
            found = dt.date(men.year, men.month, men.day)
    return found


def stated_publication(norm: str, published: dt.date | None, mentions: Finder):
    """The first publication date the passage states, if it lies just before `published`."""
    for date in _stated_en(norm, published, mentions):
        if _plausible(date, published):
            return date
    for m in _ZH_STAMP.finditer(norm):
        date = _full(int(m.group("y")), int(m.group("m")), int(m.group("d")), published)
        if _plausible(date, published):
            return date
    for m in _ZH_PUBLISHED.finditer(norm) if "日" in norm else ():
        year = int(m.group("y")) if m.group("y") else None
        month = int(m.group("m")) if m.group("m") else None
        date = _full(year, month, int(m.group("d")), published)
        if _plausible(date, published):
            return date
    return None


def _stated_en(norm: str, published: dt.date | None, mentions: Finder):
    """Dates the English text states as a publication ("published on X", "On X, ... issued",
    "X (date of publication)"), in that order of preference."""
    for m in _EN_PUBLISHED.finditer(norm):
        found = mentions(norm[m.end() : m.end() + 40])
        if found and found[0].start == 0 and found[0].month:
            yield _full(found[0].year, found[0].month, found[0].day, published)
    for m in _EN_ON.finditer(norm):
        found = mentions(norm[m.end() : m.end() + 40])
        if found and found[0].start == 0 and found[0].month:
            if _EN_ON_VERB.match(norm, m.end() + found[0].end):
                yield _full(found[0].year, found[0].month, found[0].day, published)
    for m in _EN_PUB_AFTER.finditer(norm):
        window = norm[max(0, m.start() - 30) : m.start()]
        found = mentions(window)
        if found and found[-1].end == len(window) and found[-1].month:
            yield _full(found[-1].year, found[-1].month, found[-1].day, published)


def _full(year: int | None, month: int | None, day: int, published: dt.date | None):
    """Complete a date missing its year (or month) from the publication date: the latest such
    day not after `published`."""
    if published is None:
        return dt.date(year, month, day) if year and month and valid_day(year, month, day) else None
    if month is None:  # "9日发布": this month, or the previous one
        year, month = published.year, published.month
        if day > published.day:
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    elif year is None:
        year = (
            published.year
            if (month, day) <= (published.month, published.day)
            else published.year - 1
        )
    return dt.date(year, month, day) if valid_day(year, month, day) else None


def _plausible(date: dt.date | None, published: dt.date | None) -> bool:
    if date is None:
        return False
    return published is None or 0 <= (published - date).days <= _MAX_LAG_DAYS
