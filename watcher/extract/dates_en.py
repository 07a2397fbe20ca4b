"""English (and numeric) date mentions: "November 8, 2025", "Nov. 8", "8 November 2025",
"November 8th", "2025-11-08", "11/08/2025", and dates relative to the publication.
"""

from __future__ import annotations

import re

from .mentions import (
    REL_NEWS_DAY,
    REL_PUBLICATION,
    TIME_EN,
    TZ_EN,
    Mention,
    attach_time_en,
    valid_day,
)

_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip

# "May" only capitalised: lower-case "may 10" is the modal verb far more often than the month.
_MONTH = (
    r"(?:(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)|May|MAY)"
)
_WEEKDAY = r"(?i:(?:mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?|sun)(?:day)?)\.?"
_ORD = r"(?i:st|nd|rd|th)?"

_DATE_RX = re.compile(
    # month day[, year]  (optionally after a weekday)
    r"(?:\b"
    + _WEEKDAY
    + r",?\s+)?\b(?P<mon>"
    + _MONTH
    + r")\b\.?\s+(?P<day>\d{1,2})"
    + _ORD
    + r"(?![\d:])(?:,?\s+(?P<year>(?:19|20)\d\d)(?!\d))?"
    # day month [year]: "8 November 2025", "the 1st of December"
    # (a label run into the date, "Coming into force18th April 2025", as some renderings store it)
    r"|(?<![\d.,$])(?:\b|(?<=[a-z]))(?P<day2>\d{1,2})"
    + _ORD
    + r"\s+(?:of\s+)?(?P<mon2>"
    + _MONTH
    + r")\b\.?(?:,?\s+(?P<year2>(?:19|20)\d\d)(?!\d))?"
    # ISO-like 2025-11-08, 2025/11/08, 2025.11.08
    r"|(?<![\d/.-])(?P<y3>(?:19|20)\d\d)(?P<sep3>[-/.])(?P<m3>\d{1,2})(?P=sep3)(?P<d3>\d{1,2})"
    r"(?![\d/])"
    # US 11/08/2025 and EU 08.11.2025
    r"|(?<![\d/.])(?P<m4>\d{1,2})/(?P<d4>\d{1,2})/(?P<y4>(?:19|20)\d\d)(?![\d/])"
    r"|(?<![\d/.])(?P<d5>\d{1,2})\.(?P<m5>\d{1,2})\.(?P<y5>(?:19|20)\d\d)(?![\d.])"
)

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "five": 5, "seven": 7, "ten": 10, "fourteen": 14,
    "fifteen": 15, "twenty": 20, "twenty-one": 21, "thirty": 30, "forty-five": 45,
    "sixty": 60, "seventy-five": 75, "ninety": 90, "one hundred twenty": 120,
    "one hundred eighty": 180,
}  # fmt: skip
_ORDINAL_DAYS = {"first": 1, "second": 2, "third": 3, "fifth": 5, "tenth": 10, "twentieth": 20}
_NUM = r"(?P<num>\d{1,3}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
_PUB = (
    r"(?:(?:the\s+)?(?:date\s+of\s+(?:its\s+|this\s+\w+'s\s+)?|its\s+|this\s+\w+'s\s+)?"
    r"(?:publication|promulgation|issuance)(?:\s+(?:of\s+th(?:is|e)\s+\w+\s+)?in\s+the\s+"
    r"(?:Federal\s+Register|Official\s+Journal(?:\s+of\s+the\s+European\s+Union)?))?"
    r"|(?:the\s+)?date\s+of\s+(?:this|the)\s+(?:proclamation|order|memorandum|notice|decision"
    r"|determination|directive|regulation|announcement))"
)
_REL_RX = re.compile(
    # "30 days after publication", "within sixty (60) days of the date of publication"
    r"\b(?:within\s+)?" + _NUM + r"(?:\s*\(\d{1,3}\))?\s+(?:calendar\s+)?days?\s+"
    r"(?:after|following|from|of)\s+"
    + _PUB
    # "on the day following that of its publication", "the twentieth day following ..."
    + r"|\b(?:the\s+)?(?P<ord>"
    + "|".join(_ORDINAL_DAYS)
    + r")\s+day\s+following\s+"
    r"(?:that\s+of\s+|the\s+(?:date|day)\s+of\s+)?"
    + _PUB
    + r"|\bday\s+following\s+(?:that\s+of\s+|the\s+(?:date|day)\s+of\s+)?"
    + _PUB
    # "on the date of publication", "upon publication", "[INSERT DATE OF PUBLICATION ...]"
    + r"|\b(?:up)?on\s+"
    + _PUB
    + r"(?!\s+of\b)|\bdate\s+of\s+(?:publication|promulgation|issuance)(?:\s+in\s+the\s+Federal\s+"
    r"Register)?|\bday\s+of\s+(?:its\s+)?publication"
    # "effective immediately", "with immediate effect"
    r"|\b(?P<imm>(?:effective|takes?\s+effect|in\s+effect)\s+immediately"
    r"|immediately\s+effective|with\s+immediate\s+effect)",
    re.I,
)


# News: "takes effect Saturday", "from today", "this Saturday", "came into force on Thursday".
# A bare weekday is only read as a date after a milestone word (most are days of events:
# "said on Monday"); with "this/next/last" it is read wherever it stands.
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_WORD = re.compile(r"(?<![A-Za-z])(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun|to)day\b")
_WHICH = re.compile(r"(?<![A-Za-z])([Tt]his(?:\s+coming)?|[Nn]ext|[Ll]ast|[Cc]oming)\s+\Z")
# "Thursday, Aug 7", "Friday (August 14)": the absolute date that follows is the mention
_DATE_NEXT = re.compile(
    r"[\s,(]*(?:the\s+)?(?:\d|" + _MONTH + r"\b|morning|afternoon|evening|night|'s|’s)"
)
_NEWS_LEAD = re.compile(
    r"(?:effective|starting|beginning|from|until|till|through|by|as\s+of|expir(?:e|es|ed|ing)"
    r"|(?:take|takes|took|taking)\s+effect|in\s+(?:force|effect)"
    r"|(?:come|comes|came|coming|go|goes|went|going|entered|enters?|entering)\s+into\s+(?:force|effect)"
    r"|kick(?:s|ed)?\s+in|laps(?:e|es|ed)|no\s+later\s+than"
    r"|(?:begin|begins|began|start|starts|started|commence|commences|commenced|resume|resumes"
    r"|resumed)(?:\s+(?:on|from))?)"
    r"\s+(?:at\s+)?(?:(?:" + TIME_EN + r")\s*(?:\(?(?:" + TZ_EN + r")\)?)?\s*)?(?:on\s+)?\Z",
    re.I,
)
_PAST_LEAD = re.compile(
    r"\b(?:took|came|went|entered|kicked|expired|lapsed|began|started|commenced|resumed)\b", re.I
)
_DIRECTION = {"next": 1, "last": -1}


def _news_days(sentence: str) -> list[Mention]:
    found = []
    for m in _DAY_WORD.finditer(sentence):
        if _DATE_NEXT.match(sentence, m.end()):
            continue
        which = _WHICH.search(sentence, max(0, m.start() - 16), m.start())
        word = which.group(1).split()[0].lower() if which else ""
        men = Mention(which.start() if which else m.start(), m.end(), rel=REL_NEWS_DAY)
        men.direction = _DIRECTION.get(word, 0)
        men.weekday = None if m.group(0) == "today" else _DAYS.index(m.group(0))
        if not which:
            attach_time_en(sentence, men)
            lead = _NEWS_LEAD.search(sentence, max(0, men.start - 60), men.start)
            if lead is None:
                continue
            if _PAST_LEAD.search(lead.group(0)):
                men.direction = -2  # the latest such day, today included
        found.append(men)
    return found


_DIGIT = re.compile(r"\d")
# What every absolute date above contains (a month's name or digits around a separator): a cheap
# test that spares most sentences, the Chinese ones especially, the full pattern.
_MONTH_HINTS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_NUMERIC_HINT = re.compile(r"\d[-/.]\d")


def _may_hold_date(sentence: str) -> bool:
    low = sentence.lower()
    return any(m in low for m in _MONTH_HINTS) or _NUMERIC_HINT.search(sentence) is not None


# "from October 1 last year": the year is relative to the publication
_YEAR_WORD = re.compile(r"\s+(last|next|this)\s+year\b", re.I)
_YEAR_OFFSET = {"last": -1, "next": 1, "this": 0}


def _num(text: str) -> int:
    text = text.lower()
    return int(text) if text.isdigit() else _NUMBER_WORDS.get(text, 0)


def _absolute(m: re.Match[str]) -> Mention | None:
    g = m.group
    year: int | None
    if g("mon"):
        month, day, year = _MONTHS[g("mon")[:3].lower()], int(g("day")), g("year")
    elif g("mon2"):
        month, day, year = _MONTHS[g("mon2")[:3].lower()], int(g("day2")), g("year2")
    elif g("y3"):
        month, day, year = int(g("m3")), int(g("d3")), g("y3")
    elif g("y4"):
        month, day, year = int(g("m4")), int(g("d4")), g("y4")
    else:
        month, day, year = int(g("m5")), int(g("d5")), g("y5")
    year = int(year) if year else None
    if not valid_day(year or 2024, month, day):  # 2024: a leap year accepts Feb 29 without year
        return None
    men = Mention(m.start(), m.end(), month=month, day=day, year=year)
    if year is None and (w := _YEAR_WORD.match(m.string, m.end())) is not None:
        men.year_offset, men.end = _YEAR_OFFSET[w.group(1).lower()], w.end()
    return men


def _relative(m: re.Match[str]) -> Mention:
    men = Mention(m.start(), m.end(), rel=REL_PUBLICATION)
    if m.group("num"):
        men.rel_days = _num(m.group("num"))
    elif m.group("ord"):
        men.rel_days = _ORDINAL_DAYS[m.group("ord").lower()]
    elif "following" in m.group(0).lower():
        men.rel_days = 1
    if m.group("imm"):
        men.implied_cue = "EFF"  # "effective immediately"
    elif m.group(0)[:6].lower() == "within":
        men.implied_cue = "BY"  # "within 30 days of publication" is a deadline
    return men


_DIGITS = re.compile(r"\d+")
_BEFORE_DIGITS = 28  # "Wednesday, September 12": the most a date holds before its first digit
_AFTER_DIGITS = 24  # "1st of September, 2025": the most after it


def _absolute_matches(sentence: str):
    """The matches of _DATE_RX, searched only around runs of digits (every date has one): the full
    pattern tried at every position of a long sentence costs more than the rest of the reading."""
    end = 0
    for run in _DIGITS.finditer(sentence):
        if run.start() < end:
            continue
        lo = max(end, run.start() - _BEFORE_DIGITS)
        m = _DATE_RX.search(sentence, lo, min(len(sentence), run.end() + _AFTER_DIGITS))
        if m is not None and m.start() <= run.end():
            end = m.end()
            yield m


def find_en(sentence: str) -> list[Mention]:
    """All English/numeric date mentions of `sentence`, times attached, in text order."""
    found: list[Mention] = []
    if _may_hold_date(sentence):
        for m in _absolute_matches(sentence):
            men = _absolute(m)
            if men is not None:
                attach_time_en(sentence, men)
                found.append(men)
    if "day" in sentence:
        found += _news_days(sentence)
    low = sentence.lower()
    if (
        "publication" in low or "immediate" in low or "date of th" in low
        or "promulgation" in low or "issuance" in low
    ):  # fmt: skip
        for m in _REL_RX.finditer(sentence):
            found.append(_relative(m))
    return found
