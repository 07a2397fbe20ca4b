"""The extraction pipeline: normalise, split, find dates, attach cues, decide kinds, resolve dates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from ..models import Event
from . import anchors, classify, columns, cues, kinds, passage, sentences
from .dates_en import find_en
from .dates_zh import find_zh
from .mentions import REL_NEWS_DAY, Mention, nearest_month, news_day, resolve_year, valid_day

_CJK = re.compile(r"[\u4e00-\u9fff]")
# Cheap test: can this text contain a date at all?
_MAYBE_DATE = re.compile(
    r"\d|[〇零一二三四五六七八九十]\s*月|publication|promulgation|issuance|immediate|之日|次日|即日|立即|即[时時]"
    r"|day\b|[周週][一二三四五六日天]|星期|[礼禮]拜",
    re.I,
)
# "on the date of publication, October 9, 2025": the relative date is named right after it
_NAMED_GAP = re.compile(r"[\s,(]*(?:(?:i\.e\.|that\s+is|on)[\s,]*)?\Z", re.I)
_PAST = re.compile(r"\b(?:took|became|went|was|were|had|came|expired|ended)\b|已[经經]?", re.I)
_SUBORDINATE = re.compile(r"\b(?:after|before|since|once|when|following)\s+(?:\w+\s+){0,2}\Z", re.I)
# "The period of investigation is X through Y", "data for the period from X to Y", "reports
# covering imports made during the period from X to Y": the range delimits what is counted
_REF_PERIOD = re.compile(
    r"(?:\b(?:period\s+of\s+(?:investigation|review)|(?:investigation|review|reference|reporting)"
    r"\s+period)\s+(?:is|was|covers|covering|runs|from)|\b(?:data|figures|statistics|imports"
    r"|exports|shipments|sales)\b[^.;]{0,25}?\b(?:for|during|over|in|covering)\s+the\s+period"
    r"|\bcovering\s+(?:[\w-]+\s+){0,4}?(?:the\s+)?period)\s*(?:from|between)?\s*\Z",
    re.I,
)
# "were originally due to apply from X": a plan that a later milestone replaced
_PLAN = re.compile(
    r"\b(?:was|were)\s+(?:originally\s+|initially\s+|previously\s+)?(?:scheduled|set|due|slated"
    r"|supposed|to\s+(?:take|expire|end|apply|come|enter|begin|start))\b",
    re.I,
)
# the passage tells of a change of a date ("agreed to extend for a few more weeks the pause")
_CHANGED = re.compile(
    r"\b(?:extend(?:s|ed|ing)?\b(?!\s+(?:to|beyond)\b)|postpon(?:e|es|ed|ing)|delay(?:s|ed|ing)?|defer(?:s|red|ring)?"
    r"|push(?:es|ed|ing)?\s+back)\b|延[长長]|推[迟遲]|延期",
    re.I,
)
_DEADLINE_KINDS = frozenset({"comment_deadline", "compliance", "other_deadline", "expiry"})
_MAX_EVIDENCE = 400
_TITLE = re.compile(r"《[^《》]{0,80}》")
_FUTURE_ZH = re.compile(r"[将將](?:于|於|自|在|从|從|暂|暫|延|持续|持續|继续|繼續)|即将|即將|拟|擬")


def extract(text: str, published: dt.date | None) -> list[Event]:
    """See `watcher.extract.extract_deadlines`."""
    if isinstance(published, dt.datetime):
        published = published.date()
    norm = sentences.normalize(text)
    if not _MAYBE_DATE.search(norm):
        return []
    cache: list[dt.date | None] = []

    def anchor() -> dt.date | None:  # only computed for passages with a relative date
        if not cache:
            cache.append(
                anchors.signature_date(norm, _line_mentions)
                or anchors.stated_publication(norm, published, _line_mentions)
                or (None if anchors.publication_pending(norm) else published)
            )
        return cache[0]

    found: dict[tuple[dt.date, str], Event] = {}
    placed: list[passage.Placed] = []
    header: list[str] | None = None
    weak: set[int] = set()
    weak_keys: set[tuple[dt.date, str]] = set()
    limits: set[int] = set()  # mentions read as an investigation's time limit
    limit_keys: set[tuple[dt.date, str]] = set()
    initiation = passage.initiation_notice(norm)
    table: columns.Columns | None = None
    for start, end in sentences.split(norm):
        sentence = norm[start:end]
        if initiation and passage.initiation_line(sentence):
            continue
        if "|" in sentence:
            header, parts = _table(sentence, header)
            events = _parts_events(parts)
        else:
            header = None
            if "\n" not in sentence and (head := _column_header(sentence)) is not None:
                table = head
                continue
            events = _sentence_events(sentence, None, weak, limits, table)
        for men, kind, score in events:
            date = _resolve(men, kind, sentence, published, anchor)
            if date is None:
                continue
            if id(men) in weak:
                weak_keys.add((date, kind))
            if id(men) in limits:
                limit_keys.add((date, kind))
            ev = Event(date, kind, _evidence(text, start, end, men), _confidence(men, score),
                       men.time, men.tz)  # fmt: skip
            placed.append((ev, start, sentence))
            key = (date, kind)
            if key in found:
                ev = _better(found[key], ev)
            found[key] = ev
    drop = passage.renewed(placed, norm)
    if weak_keys and (
        any(date not in {d for d, _ in weak_keys} for date, _ in found) or _CHANGED.search(norm)
    ):  # "originally due to apply from X" beside another milestone, or a change without a date
        drop |= weak_keys  # ("agreed to extend the pause ... was due to expire on Oct. 29")
    if limit_keys and passage.concluded(norm):
        drop |= limit_keys  # "the time limit was X ... the investigation has now concluded"
    return [ev for key, ev in found.items() if key not in drop]


def _column_header(sentence: str) -> columns.Columns | None:
    """The date columns of a header line of a flattened table (see `columns`)."""
    head = columns.header(sentence)
    return None if head is None or _line_mentions(sentence) else head


Part = tuple[int, str, "str | None"]  # (offset in the sentence, text, its column's header)


def _table(sentence: str, header: list[str] | None) -> tuple[list[str] | None, list[Part]]:
    """Tables flattened to "a | b | c" lines: (the header row in force, the parts of the row to
    read). "Product | Rate | Effective date" then "EVs | 100% | 9/27/2024": the date is an
    effective date although its own line says nothing about it. A row with dates in several
    columns ("... (OJ L 243, 29.7.2020) | 31.3.2026" under "Reference | Date of expiry") is read
    cell by cell, each date under its own column's header."""
    cells = sentence.split("|")
    dated = [i for i, cell in enumerate(cells) if _line_mentions(cell)]
    if not dated:
        return cells, [(0, sentence, None)]  # a header row
    if header is None or len(header) != len(cells):
        return header, [(0, sentence, None)]
    if len(dated) == 1:
        return header, [(0, sentence, header[dated[0]])]
    offsets = [0]
    for cell in cells[:-1]:
        offsets.append(offsets[-1] + len(cell) + 1)
    return header, [(offsets[i], cells[i], header[i]) for i in dated]


def _parts_events(parts: list[Part]) -> list[tuple[Mention, str, float]]:
    """The events of each part, their mentions' offsets made relative to the whole sentence."""
    out = []
    for offset, text, column in parts:
        events = _sentence_events(text, column)
        for men in {id(m): m for m, _, _ in events}.values() if offset else ():
            men.start, men.end = men.start + offset, men.end + offset
        out += events
    return out


def _better(old: Event, new: Event) -> Event:
    """The more confident of two events for one (date, kind), keeping a time or zone that only
    the other gives ("自12月1日0时起…" then "本公告自12月1日起施行")."""
    best, other = (new, old) if new.confidence > old.confidence else (old, new)
    if best.time is None and other.time is not None:
        return dataclasses.replace(best, time=other.time, tz=other.tz)
    return best


def _mentions(sentence: str, zh: bool) -> list[Mention]:
    found = find_en(sentence)
    if zh:
        found += find_zh(sentence)
    found.sort(key=lambda m: (m.start, -m.end))
    kept: list[Mention] = []
    for men in found:  # overlapping finds: keep the first, longest
        if not kept or men.start >= kept[-1].end:
            kept.append(men)
    return _merge_named(sentence, kept)


def _line_mentions(line: str) -> list[Mention]:
    return _mentions(line, bool(_CJK.search(line)))


def _merge_named(sentence: str, mentions: list[Mention]) -> list[Mention]:
    """ "on publication in the Federal Register on Wednesday, Jan. 15": the absolute date names
    the relative one, so the two are one mention with the absolute date."""
    out: list[Mention] = []
    for men in mentions:
        prev = out[-1] if out else None
        if (
            prev is not None and prev.rel is not None and prev.rel_days == 0
            and men.rel is None and men.month
            and _NAMED_GAP.match(sentence[prev.end : men.start])
        ):  # fmt: skip
            men.start, men.implied_cue = prev.start, prev.implied_cue or men.implied_cue
            out[-1] = men
        else:
            out.append(men)
    return out


def _sentence_events(
    sentence: str,
    column: str | None = None,
    weak: set[int] | None = None,
    limits: set[int] | None = None,
    table: columns.Columns | None = None,
) -> list[tuple[Mention, str, float]]:
    """The (mention, kind, score) events of one sentence. The ids of mentions that a weak
    superseding word qualifies ("The rules were originally due to apply from X") are added to
    `weak`: the passage drops them when it names another milestone."""
    zh = bool(_CJK.search(sentence))
    mentions = _mentions(sentence, zh)
    if not mentions:
        return []
    groups = classify.group_mentions(sentence, mentions)
    spans = [(m.start, m.end) for m in mentions]
    if zh and "《" in sentence:  # a document's title in 《》 holds no verb about the dates
        spans += [(m.start(), m.end()) for m in _TITLE.finditer(sentence)]
    scanned = sentence
    glued = [m.start for m in mentions if m.start and "a" <= sentence[m.start - 1].lower() <= "z"]
    if glued:  # "Coming into force18th April 2025": the label's last word ends at the date
        chars = list(sentence)
        for i in glued:
            chars[i] = " "
        scanned = "".join(chars)
    found = [
        c for c in cues.scan(scanned, zh) if not any(c.start < e and c.end > s for s, e in spans)
    ]
    classify.attach(sentence, found, groups, classify.ZH if zh else classify.EN)
    if column:
        classify.add_header_cues(groups, cues.scan(column, zh))
    several = len(groups) > 1
    out: list[tuple[Mention, str, float]] = []
    for g in groups:
        for men in g.mentions:
            if men.implied_cue:
                g.cues[men.implied_cue] = (1.0, 0, "L")
        if table is not None and not g.is_range and _unqualified(g, zh):
            for men in g.mentions:  # bare dates of a table's rows: the role of their column
                if (kind := table.take()) is not None:
                    out.append((men, kind, 0.6))
            continue
        if all(m.bare for m in g.mentions) and not _close_cue(g):
            continue  # "20日裁定…实施": a bare day is only read with its verb or frame beside it
        if g.is_range:
            out += _range_events(sentence, g, several)
            continue
        decided = kinds.decide(g.cues, several)
        if (
            decided
            and weak is not None
            and not several
            and "SUP2" in g.cues
            and _PLAN.search(sentence, 0, g.start)
        ):
            weak.update(id(m) for m in g.mentions)  # superseded if the passage has another date
        if limits is not None and "INV" in g.cues and decided:
            limits.update(id(m) for m in g.mentions)
        for kind, score in decided:
            out += [(m, kind, score) for m in g.mentions if not classify.is_quoted(sentence, m)]
    return out


def _unqualified(g: classify.Group, zh: bool) -> bool:
    """No word right beside the date says what it is (a table cell: its column will)."""
    reach = 3 if zh else 6  # "effective on X", "by X", "X起", "至X" stand closer than this
    return all(dist > reach for _, dist, _ in g.cues.values())


_BARE_REACH = 3  # characters between a bare day and its cue ("24日生效", "自15日起", "至30日")


def _close_cue(g: classify.Group) -> bool:
    """A verb right after the bare day ("24日生效") or a frame word right before it ("自15日")."""
    return any(
        dist <= _BARE_REACH and (side == "R" or fam in cues.POLARITY)
        for fam, (_, dist, side) in g.cues.items()
        if fam not in cues.NEGATIVE and fam not in ("SUP", "SUP2", "OLD")
    )


def _range_events(sentence: str, g: classify.Group, several: bool) -> list:
    first, last = g.mentions
    if _REF_PERIOD.search(sentence, max(0, g.start - 70), g.start):
        return []  # "import data for the period from X to Y": a reference period
    _inherit_year(first, last)
    start_kinds, end_kinds = kinds.decide_range(g.cues, several)
    if classify.superseded_start(sentence, g):
        # "postponed from X to Y": X is the old date; Y read as a single date, without the "from"
        cues = {f: v for f, v in g.cues.items() if f not in ("FROM", "FROMW")}
        found = [(last, k, s) for k, s in kinds.decide(cues, several)]
        if found:  # else "a consultation on the changes from X to Y": a period after all
            return found
    return [(first, k, s) for k, s in start_kinds] + [(last, k, s) for k, s in end_kinds]


def _inherit_year(first: Mention, last: Mention) -> None:
    """ "November 10 to December 31, 2025": the yearless end of a range shares the other's year."""
    if first.year is None and last.year is not None and first.month:
        first.year = last.year - (1 if (first.month, first.day) > (last.month, last.day) else 0)
    elif last.year is None and first.year is not None and last.month:
        last.year = first.year + (1 if (last.month, last.day) < (first.month, first.day) else 0)


def _resolve(men: Mention, kind: str, sentence: str, published, anchor) -> dt.date | None:
    """The calendar day of `men`; `anchor()` gives the publication date relative dates count from."""
    if men.date is not None:
        return men.date
    if men.rel == REL_NEWS_DAY:
        base = published or anchor()
        men.date = news_day(men, base) if base else None
    elif men.rel is not None:
        # "商务部于7日公告，即日起…": a publication stated in the sentence itself comes first
        base = (
            anchors.stated_publication(sentence[: men.start], published, _line_mentions)
            if men.start > 4
            else None
        ) or anchor()
        men.date = base + dt.timedelta(days=men.rel_days) if base else None
    elif men.year is not None:
        men.date = dt.date(men.year, men.month, men.day)
    elif not men.month and men.year_offset is None:  # "24日生效": a day of a month near the text
        base = published or anchor()
        future = _FUTURE_ZH.search(sentence, 0, men.start) is not None
        men.date = nearest_month(men.day, base, future) if base else None
    elif (ref := published or anchor()) is None:
        return None
    else:
        if men.year_offset is not None:
            try:
                men.date = dt.date(ref.year + men.year_offset, men.month or ref.month, men.day)
            except ValueError:
                return None
        else:
            men.date = _nearest_year(men, kind, sentence, ref)
    return men.date


def _nearest_year(men: Mention, kind: str, sentence: str, ref: dt.date) -> dt.date | None:
    """The year of a date written without one.

    Chinese reports write dates of the current year without it (明年/去年 otherwise), so the
    publication year is taken, except across the turn of the year. English: the nearest year,
    the latest past one when a past-tense verb stands just before the date ("came into force on
    4 April"), and preferring the future for deadlines and when the sentence has no past verb.
    """
    if _CJK.search(sentence):
        year = ref.year
        if ref.month >= 11 and men.month <= 2:
            year += 1
        elif ref.month <= 2 and men.month >= 11:
            year -= 1
        return dt.date(year, men.month, men.day) if valid_day(year, men.month, men.day) else None
    deadline = kind in _DEADLINE_KINDS
    if not deadline and _past_before(sentence, men.start):
        return resolve_year(men.month, men.day, ref, prefer_future=False, past=True)
    future = deadline or not _PAST.search(sentence)
    return resolve_year(men.month, men.day, ref, prefer_future=future)


def _past_before(sentence: str, start: int) -> bool:
    """A past-tense verb governs the date: one in the 40 characters before it that does not
    open a subordinate clause ("will take effect 21 days after it was signed, on Aug 27")."""
    lo = max(0, start - 40)
    return any(
        not _SUBORDINATE.search(sentence, max(0, m.start() - 20), m.start())
        for m in _PAST.finditer(sentence, lo, start)
    )


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
