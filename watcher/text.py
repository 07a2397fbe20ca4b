"""Text helpers shared by the stages (a leaf: it imports nothing of watcher's).

The form rules and registry aliases compare text in (`normalise_text`: casefolded,
compatibility-decomposed, runs of spaces, hyphens and dashes made one space), CJK ranges, what a
word character is, RE2 compilation of user-written regular expressions (linear time), and the one
sentence splitter (`split`, used by the extractor; `quote_sentence`, used to quote a rule's hit),
with offsets into the original text so that evidence is quoted verbatim; and times shown with their zone.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import TypeAlias

import re2

Pattern: TypeAlias = re2._Regexp

_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")  # soft hyphen, zero-width chars
NON_ASCII = re.compile(r"[^\x00-\x7f]+")
ASCII_SPACES = str.maketrans(dict.fromkeys("\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f-", " "))
_SPACES = re.compile("  +")
CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)


def re2_options(max_mem: int = 8 << 20) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # errors come back as ValueError, not as lines on stderr
    options.max_mem = max_mem
    return options


_OPTIONS = re2_options()



def compile_regex(pattern: str) -> Pattern:
    """Compile with google-re2, case-insensitive unless the pattern says `(?-i)`.

    Raises ValueError with re2's own message (`missing ): (a`) on an invalid pattern or one re2 does
    not support (backreferences, look-around).
    """
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        message = exc.args[0] if exc.args else ""
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise ValueError(message or "invalid regular expression") from None


def fold(text: str) -> str:
    """Casefold and NFKD; lengths change only inside runs of non-ASCII characters."""
    if text.isascii():
        return text.lower()
    # NFKD rather than NFKC: composed and decomposed accents then fold alike, and each run of
    # non-ASCII characters folds on its own, which keeps the offset map exact.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return _INVISIBLE.sub("", folded) if _INVISIBLE.search(folded) else folded


def unhyphen(folded: str) -> str:
    for dash in _DASHES:
        if dash in folded:
            folded = folded.replace(dash, " ")
    return folded


def normalise_text(text: str) -> str:
    """The form phrases and texts are compared in: `Rare-Earth　Ｍagnets` → `rare earth magnets`."""
    if text.isascii():  # the same result as below, a third faster
        spaced = text.lower().translate(ASCII_SPACES)
        return (_SPACES.sub(" ", spaced) if "  " in spaced else spaced).strip(" ")
    return " ".join(unhyphen(fold(text)).split())


class _WordChars(dict[str, bool]):
    """Letters, digits, `_` and combining marks, except CJK (which has no spaces between words)."""

    def __missing__(self, ch: str) -> bool:
        word = ch.isalnum() or ch == "_" or unicodedata.category(ch)[0] == "M"
        word = self[ch] = word and not CJK.match(ch)
        return word


IS_WORD = _WordChars()


def one_line(text: str | None) -> str:
    """Every run of whitespace one space, trimmed: `"a\n  b "` → `"a b"`."""
    return " ".join((text or "").split())


# --- sentences ---------------------------------------------------------------------------

_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII block
_FOLD.update({0x3000: 0x20, 0xA0: 0x20, 0x2009: 0x20, 0x202F: 0x20, 0x2002: 0x20, 0x2003: 0x20})
_FOLD.update({0x2010: 0x2D, 0x2011: 0x2D})  # hyphen variants (en/em dashes stay: ranges)

# Words that end with a period without ending the sentence ("Nov. 8", "U.S.", "No. 817").
_ABBREV = frozenset(
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun "
    "no nos mr mrs ms dr st sec secs art arts para paras p pp fig vol ch cf e.g i.e etc vs v inc ltd "
    "llc co corp jr sr gen gov sen rep dept est approx u.s u.k e.u u.n p.r.c u.s.c c.f.r a.m p.m fed "
    "reg cfr ed eds op seq viz al".split()
)
_END_RX = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"“‘(\[•A-Z0-9])|[。！？;；]|\n")
_WORD_BEFORE = re.compile(r"([\w.]+)\Z")


_FOLDABLE = re.compile("[" + "".join(f"\\U{cp:08x}" for cp in sorted(_FOLD)) + "]")


def normalize(text: str) -> str:
    """Fold full-width characters and unusual spaces; the result has the same length."""
    return text.translate(_FOLD) if _FOLDABLE.search(text) else text


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    m = _WORD_BEFORE.search(text, max(0, dot - 12), dot)
    if m is None:
        return False
    word = m.group(1).lower()
    # single letters ("J. Smith", not "Nov. 1. The"), dotted initialisms ("U.S."), abbreviations
    return (
        (len(word) == 1 and word.isalpha()) or word in _ABBREV or ("." in word and len(word) <= 6)
    )


def split(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of normalised `text`, whitespace trimmed.

    Boundaries: sentence punctuation followed by a capital/digit/bullet (unless after an
    abbreviation), Chinese sentence punctuation, semicolons and line breaks (notices put one
    date per line in their DATES sections).
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END_RX.finditer(text):
        if _is_abbreviation(text, m.start()):
            continue
        _add(text, start, m.start() + 1, spans)
        start = m.end()
    _add(text, start, len(text), spans)
    return spans


def _add(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))

def quote_sentence(text: str, start: int, end: int, limit: int = 300) -> str:
    """The sentence of `text` around `[start, end)` (the boundaries of `split`, looked for only
    within `limit` of the hit), whitespace collapsed, at most `limit` characters; a longer
    sentence is cut around the hit, marked with "…"."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    lo, hi = max(0, start - limit), min(len(text), end + limit)
    s, e = lo, hi
    # One character past the hit's start: a boundary's look-ahead needs to see the capital after it.
    for m in _END_RX.finditer(text, lo, min(len(text), start + 1)):
        if m.end() <= start and not _is_abbreviation(text, m.start()):
            s = m.end()
    for m in _END_RX.finditer(text, end, hi):
        if not _is_abbreviation(text, m.start()):
            e = m.start() + 1
            break
    # No boundary within `limit` of the hit: the sentence goes on beyond the window.
    cut_left, cut_right = s == lo and lo > 0, e == hi and hi < len(text)
    if e - s <= limit and not (cut_left or cut_right):
        return " ".join(text[s:e].split())
    budget = max(1, limit - 2)
    if end - start >= budget:
        a, b = start, start + budget
    else:
        a = max(s, start - (budget - (end - start)) // 2)
        b = min(e, a + budget)
        a = max(s, b - budget)
        a = _snap(text, a, start, forward=True) if a > s or cut_left else a
        b = _snap(text, b, end, forward=False) if b < e or cut_right else b
    left = "…" if a > s or cut_left else ""
    right = "…" if b < e or cut_right else ""
    return " ".join((left + text[a:b] + right).split())


def _snap(text: str, cut: int, hit: int, forward: bool) -> int:
    """Move a cut to the nearest space within 20 characters, never into the hit."""
    if forward:
        space = text.find(" ", cut, min(hit, cut + 20))
        return space + 1 if space >= 0 else cut
    space = text.rfind(" ", max(hit, cut - 20), cut)
    return space if space >= 0 else cut


# ---------------------------------------------------------------- times with their zone


def zone_name(when: dt.datetime | None) -> str | None:
    """The IANA zone a time is held in (`Asia/Shanghai`), None for UTC, offsets and naive times."""
    key = getattr(when.tzinfo, "key", None) if when is not None else None
    return key if key and key not in ("UTC", "Etc/UTC") else None


def utc_iso(when: dt.datetime) -> str:
    """`2025-11-06T16:00:00Z`; a naive time is taken as UTC."""
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shown_time(when: dt.datetime) -> str:
    """A time as people read it, with its zone: `2025-11-07 00:00 Asia/Shanghai` for a time held in
    a named zone (a MOFCOM notice's), else UTC ISO 8601 (`2025-11-10T14:30:00Z`)."""
    zone = zone_name(when)
    return f"{when:%Y-%m-%d %H:%M} {zone}" if zone else utc_iso(when)
