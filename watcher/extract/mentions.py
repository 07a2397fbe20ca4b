"""Date mentions found in a sentence, and the helpers shared by the English and Chinese finders.

A `Mention` is a span of one sentence that denotes one calendar day: an absolute date (possibly
without a year, resolved later against the publication date), or a date relative to the publication
("upon publication", "30 days after publication", "自公布之日起").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# Relative anchors: the day the document was published / signed (resolved by the pipeline).
REL_PUBLICATION = "publication"
# A weekday or "today" in a news text: resolved against the publication date itself.
REL_NEWS_DAY = "news_day"


@dataclass(slots=True)
class Mention:
    """One date-like span in a sentence (offsets are relative to the sentence)."""

    start: int
    end: int
    month: int = 0
    day: int = 0
    year: int | None = None
    year_offset: int | None = None  # 今年/明年/去年: year relative to the publication year
    rel: str | None = None  # REL_PUBLICATION for relative dates
    rel_days: int = 0  # days added to the relative anchor
    weekday: int | None = None  # REL_NEWS_DAY: 0 = Monday ... 6 = Sunday; None for "today"
    direction: int = 0  # REL_NEWS_DAY: +1 the coming one, -1 the last one, 0 from the verb's tense
    bare: bool = False  # a day or weekday alone (Chinese "24日", "周四"): needs a cue next to it
    week: int | None = (
        None  # REL_NEWS_DAY, Chinese 周X: that day of this (0), next (1), last (-1) week
    )
    time: str | None = None
    tz: str | None = None
    implied_cue: str | None = None  # a cue family carried by the phrase itself: "EFF", "BY"
    date: dt.date | None = None  # filled in once resolved


def news_day(men: Mention, published: dt.date) -> dt.date:
    """The day a weekday names in a text of `published`: the coming one, today included
    (direction 0), strictly after today ("next", +1), the latest not after today (a past-tense
    verb, -2) or strictly before it ("last", -1)."""
    if men.weekday is None:
        return published
    if men.week is not None:  # "周四", "下周一": a day of the week the text was published in
        monday = published - dt.timedelta(days=published.weekday())
        return monday + dt.timedelta(days=7 * men.week + men.weekday)
    ahead = (men.weekday - published.weekday()) % 7
    if men.direction < 0:
        back = (7 - ahead) % 7 or (7 if men.direction == -1 else 0)
        return published - dt.timedelta(days=back)
    if men.direction > 0 and ahead == 0:
        ahead = 7
    return published + dt.timedelta(days=ahead)


def nearest_month(day: int, anchor: dt.date, future: bool = False) -> dt.date | None:
    """ "24日生效" in a report: the day of the month nearest `anchor` (this month, the previous or
    the next one), as Chinese news writes the days of the current weeks without their month; with
    `future` (the sentence speaks of what will happen: 将暂停至30日) the nearest one not before it."""
    best = None
    for shift in (-1, 0, 1):
        month = anchor.month + shift
        year = anchor.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        if valid_day(year, month, day):
            cand = dt.date(year, month, day)
            if future and cand < anchor:
                continue
            if best is None or abs((cand - anchor).days) < abs((best - anchor).days):
                best = cand
    return best


def valid_day(year: int, month: int, day: int) -> bool:
    """True when year-month-day is a real calendar day (Feb 29 needs a leap year)."""
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True


def resolve_year(
    month: int, day: int, anchor: dt.date, prefer_future: bool, past: bool = False
) -> dt.date | None:
    """The date with this month/day nearest `anchor`; past candidates are penalised for deadlines.

    News and alerts drop the year for dates a few weeks away, so "December 1st" in a text of
    26 Oct 2025 is 2025-12-01; for deadline-like cues a date in the past is less likely, so its
    distance counts double. With `past` (a past-tense verb governs the date) the latest date not
    after the anchor is taken.
    """
    best: tuple[float, dt.date] | None = None
    for year in (anchor.year - 1, anchor.year, anchor.year + 1):
        if not valid_day(year, month, day):
            continue
        cand = dt.date(year, month, day)
        gap = (cand - anchor).days
        if past and gap > 0:
            continue
        cost = float(abs(gap)) if gap >= 0 or not prefer_future else abs(gap) * 2.0
        if best is None or cost < best[0]:
            best = (cost, cand)
    return best[1] if best else None


# --- times of day and zones ------------------------------------------------------------------

_TZ_NAMES = (
    (re.compile(r"eastern|\bE[SD]?T\b|new\s+york", re.I), "America/New_York"),
    (re.compile(r"central\s+european|\bCES?T\b|brussels", re.I), "Europe/Brussels"),
    (re.compile(r"central|\bC[SD]T\b", re.I), "America/Chicago"),
    (re.compile(r"pacific|\bP[SD]T\b", re.I), "America/Los_Angeles"),
    (re.compile(r"mountain|\bM[SD]T\b", re.I), "America/Denver"),
    (re.compile(r"beijing|china\s+standard|北京|\bCST\s*\(China", re.I), "Asia/Shanghai"),
    (re.compile(r"\bGMT\b|\bUTC\b|greenwich|coordinated", re.I), "UTC"),
)

TZ_EN = (
    r"(?:(?:eastern|central|pacific|mountain)(?:\s+(?:standard|daylight))?(?:\s+time)?"
    r"|(?:brussels|beijing|china\s+standard|central\s+european|new\s+york)(?:\s+summer)?\s+time"
    r"|E[SD]T|ET|C[SD]T|P[SD]T|M[SD]T|GMT|UTC|CES?T)"
)
TIME_EN = (
    r"(?:(?P<h>\d{1,2})(?:[:.](?P<mi>\d{2}))?\s*(?P<ap>[ap]\.?\s?m\.?)(?![a-z])"
    r"|(?P<h24>[01]?\d|2[0-3]):(?P<mi24>\d{2})(?!\d)|(?P<noon>noon))"
)
# A time (and zone) right before a date: "12:01 a.m. eastern standard time on November 10",
# "12:01 a.m. EDT (0401 GMT) on Wednesday, Aug. 27".
TIME_BEFORE = re.compile(
    TIME_EN + r"\s*(?:\(?(?P<tz>" + TZ_EN + r")\)?)?(?:\s*\([\w\s:.]{2,15}\))?\s*,?\s*(?:on\s+)?"
    r"(?:the\s+)?\Z",
    re.I,
)
# A time right after a date: "August 18, 2025, at 11:59 p.m. EDT".
TIME_AFTER = re.compile(
    r"\s*,?\s*(?:at\s+|by\s+)?" + TIME_EN + r"\s*(?:\(?(?P<tz>" + TZ_EN + r")\)?)?", re.I
)


def tz_name(label: str | None) -> str | None:
    """Map a zone label from the text to an IANA name (or keep the label when unknown)."""
    if not label:
        return None
    for rx, name in _TZ_NAMES:
        if rx.search(label):
            return name
    return label.strip()


def time_from_match(m: re.Match[str]) -> str | None:
    """Turn a TIME_EN match into "HH:MM" (24-hour)."""
    if m.group("noon"):
        return "12:00"
    if m.group("h24") is not None:
        return f"{int(m.group('h24')):02d}:{m.group('mi24')}"
    hour, minute = int(m.group("h")), int(m.group("mi") or 0)
    if hour > 12 or minute > 59:
        return None
    pm = m.group("ap").lower().startswith("p")
    hour = (hour % 12) + (12 if pm else 0)
    return f"{hour:02d}:{minute:02d}"


def attach_time_en(sentence: str, men: Mention) -> None:
    """Extend `men` over an adjacent time of day and zone, recording them."""
    before = TIME_BEFORE.search(sentence, max(0, men.start - 70), men.start)
    if before is not None:
        men.time = time_from_match(before)
        men.tz = tz_name(before.group("tz"))
        men.start = before.start()
        return
    after = TIME_AFTER.match(sentence, men.end)
    if after is not None and after.end() - men.end <= 40:
        men.time = time_from_match(after)
        men.tz = tz_name(after.group("tz"))
        men.end = after.end()
