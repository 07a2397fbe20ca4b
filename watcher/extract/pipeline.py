"""The extraction pipeline: normalise, split, find dates, attach cues, decide kinds, resolve dates."""

from __future__ import annotations

import datetime as dt
import re

from ..models import Event
from . import classify, cues, kinds, sentences
from .dates_en import find_en
from .dates_zh import find_zh
from .mentions import Mention, resolve_year

_CJK = re.compile(r"[\u4e00-\u9fff]")
# Cheap test: can this text contain a date at all?
_MAYBE_DATE = re.compile(
    r"\d|[〇零一二三四五六七八九十]\s*月|publication|immediate|之日|即日|立即", re.I
)
# A passage-level publication/signature date: a line holding only a date ("2025年9月28日",
# "Dated: November 4, 2025.", "Done at Brussels, 14 April 2025.").
_SIGN_PREFIX = re.compile(
    r"^\s*(?:dated:?|done\s+at\s+[\w\s]{1,30},|signed:?|the\s+white\s+house,)?\s*\Z", re.I
)
_PAST = re.compile(r"\b(?:took|became|went|was|were|had|came|expired|ended)\b|已[经經]?", re.I)
_DEADLINE_KINDS = frozenset({"comment_deadline", "compliance", "other_deadline", "expiry"})
_MAX_EVIDENCE = 400


def extract(text: str, published: dt.date | None) -> list[Event]:
    """See `watcher.extract.extract_deadlines`."""
    if isinstance(published, dt.datetime):
        published = published.date()
    norm = sentences.normalize(text)
    if not _MAYBE_DATE.search(norm):
        return []
    anchor = _signature_date(norm) or published
    found: dict[tuple[dt.date, str], Event] = {}
    for start, end in sentences.split(norm):
        sentence = norm[start:end]
        for men, kind, score in _sentence_events(sentence):
            date = _resolve(men, kind, sentence, published, anchor)
            if date is None:
                continue
            ev = Event(date, kind, _evidence(text, start, end, men), _confidence(men, score),
                       men.time, men.tz)  # fmt: skip
            key = (date, kind)
            if key not in found or found[key].confidence < ev.confidence:
                found[key] = ev
    return list(found.values())


def _mentions(sentence: str, zh: bool) -> list[Mention]:
    found = find_en(sentence)
    if zh:
        found += find_zh(sentence)
    found.sort(key=lambda m: (m.start, -m.end))
    kept: list[Mention] = []
    for men in found:  # overlapping finds: keep the first, longest
        if not kept or men.start >= kept[-1].end:
            kept.append(men)
    return kept


def _sentence_events(sentence: str) -> list[tuple[Mention, str, float]]:
    zh = bool(_CJK.search(sentence))
    mentions = _mentions(sentence, zh)
    if not mentions:
        return []
    groups = classify.group_mentions(sentence, mentions)
    spans = [(m.start, m.end) for m in mentions]
    found = [
        c for c in cues.scan(sentence, zh) if not any(c.start < e and c.end > s for s, e in spans)
    ]
    classify.attach(sentence, found, groups, classify.ZH if zh else classify.EN)
    several = len(groups) > 1
    out: list[tuple[Mention, str, float]] = []
    for g in groups:
        for men in g.mentions:
            if men.implied_cue:
                g.cues[men.implied_cue] = (1.0, 0, "L")
        if g.is_range:
            out += _range_events(sentence, g, several)
            continue
        for kind, score in kinds.decide(g.cues, several):
            out += [(m, kind, score) for m in g.mentions if not classify.is_quoted(sentence, m)]
    return out


def _range_events(sentence: str, g: classify.Group, several: bool) -> list:
    first, last = g.mentions
    _inherit_year(first, last)
    start_kinds, end_kinds = kinds.decide_range(g.cues, several)
    if classify.superseded_start(sentence, g):
        # "postponed from X to Y": X is the old date; Y read as a single date
        return [(last, k, s) for k, s in kinds.decide(g.cues, several)]
    return [(first, k, s) for k, s in start_kinds] + [(last, k, s) for k, s in end_kinds]


def _inherit_year(first: Mention, last: Mention) -> None:
    """ "November 10 to December 31, 2025": the yearless end of a range shares the other's year."""
    if first.year is None and last.year is not None and first.month:
        first.year = last.year - (1 if (first.month, first.day) > (last.month, last.day) else 0)
    elif last.year is None and first.year is not None and last.month:
        last.year = first.year + (1 if (last.month, last.day) < (first.month, first.day) else 0)


def _resolve(men: Mention, kind: str, sentence: str, published, anchor) -> dt.date | None:
    if men.date is not None:
        return men.date
    if men.rel is not None:
        base = anchor or published
        men.date = base + dt.timedelta(days=men.rel_days) if base else None
    elif men.year is not None:
        men.date = dt.date(men.year, men.month, men.day)
    elif published is None and anchor is None:
        return None
    else:
        ref = published or anchor
        if men.year_offset is not None:
            try:
                men.date = dt.date(ref.year + men.year_offset, men.month or ref.month, men.day)
            except ValueError:
                return None
        else:
            future = kind in _DEADLINE_KINDS or not _PAST.search(sentence)
            men.date = resolve_year(men.month, men.day, ref, prefer_future=future)
    return men.date


def _signature_date(norm: str) -> dt.date | None:
    """The last line that holds nothing but a full date (a decree's or order's signature)."""
    found = None
    for line in norm.splitlines():
        if len(line) > 60 or not line.strip():
            continue
        mentions = _mentions(line, bool(_CJK.search(line)))
        if len(mentions) != 1 or mentions[0].year is None or mentions[0].rel is not None:
            continue
        men = mentions[0]
        rest = line[: men.start] + line[men.end :].strip(" .。")
        if _SIGN_PREFIX.match(rest):
            found = dt.date(men.year, men.month, men.day)
    return found


def _evidence(text: str, start: int, end: int, men: Mention) -> str:
    sentence = text[start:end].strip()
    if len(sentence) <= _MAX_EVIDENCE:
        return " ".join(sentence.split())
    mid = start + (men.start + men.end) // 2
    lo = max(start, mid - _MAX_EVIDENCE // 2)
    hi = min(end, lo + _MAX_EVIDENCE - 2)
    return "…" + " ".join(text[lo:hi].split()) + "…"


def _confidence(men: Mention, score: float) -> float:
    conf = 0.45 + 0.5 * min(score, 1.0)
    if men.rel is not None or (men.year is None and men.month):
        conf -= 0.05  # resolved against the publication date: one more assumption
    return round(max(0.05, min(conf, 0.95)), 2)
