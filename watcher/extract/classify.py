"""Sentence-level classification: group date mentions (lists, ranges), attach each cue to the
date group it most plausibly qualifies, and decide the event kind(s) of each group.

Attachment is by distance: a cue qualifies the nearer of the date groups around it, weighted by
the side it stands on (English cues mostly precede their date, "effective November 8"; Chinese
ones often follow it, "11月8日起施行"). The kind then follows from the polarity word right next
to the date (until / by / from / 起 / 至 / 前) combined with the topic words of the clause
(comments, suspension, compliance, payment...). Negative cues (announced, meeting, the order of X)
win when they are closer than any milestone cue.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import clauses
from .cues import NEGATIVE, POLARITY, Cue
from .mentions import Mention

_WEIGHT = {
    "UNTIL": 1.0, "BY": 1.0, "FROM": 0.9, "FROMW": 0.5, "BEFORE": 0.6, "SINCE": 1.0,
    "EFF": 1.0, "SUS": 0.9, "END": 1.0, "EXT": 0.6, "COM": 0.8, "REQ": 0.6, "APPEAR": 0.9,
    "CMP": 0.9, "PAY": 0.7, "RPT": 0.5, "NEGOT": 0.7, "PUBL": 0.8, "DL": 0.9,
    "EVENT": 0.9, "MEET": 1.0, "REF": 1.0, "OPEN": 1.0, "CUT": 0.8, "SUP": 1.0, "SUP2": 1.0,
    "OLD": 1.0, "INV": 1.0,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Params:
    """Distance scales and limits, in characters (Chinese packs more meaning per character)."""

    scale: float
    left: float  # side factor for cues before the date
    right: float  # side factor for cues after the date
    pol_left: int
    pol_right: int
    ref: int
    neg: int
    topic: int
    attributive: bool  # English "the Aug. 1 deadline": a noun right after the date names it


EN = Params(25, left=1.0, right=0.75, pol_left=12, pol_right=4, ref=4, neg=80, topic=160,
            attributive=True)  # fmt: skip
ZH = Params(6, left=0.85, right=1.0, pol_left=3, pol_right=2, ref=2, neg=20, topic=45,
            attributive=False)  # fmt: skip

_RANGE_GAP = re.compile(
    r"^[\s,]*(?:to|through|thru|until|till|and|[-–—~至到]|起至|起到|止至)[\s,]*$", re.I
)
_LIST_GAP = re.compile(
    r"^\s*(?:,|;)?\s*(?:and|or|as\s+well\s+as|&|、|和|及|以及|与|與|或)?\s*$", re.I
)
_BETWEEN = re.compile(r"between\s*\Z", re.I)
_FRAME_END = re.compile(r"\s*(?:起|开始|開始|[为為]?止)\s*[,，]?\s*\Z")
# "announced on Oct. 9 until Nov. 10": a date introduced by "on"/"of" is a point, not a range start
_POINT_BEFORE = re.compile(r"\b(?:on|of|dated)\s*\Z", re.I)
# "On 11 March 2025 the Commission imposed ...": a narrative frame about a past act
# ("SUPPLEMENTARY INFORMATION: On August 28, 2025, the ERC determined ..." too)
_FRAME_BEFORE = re.compile(r"^\W*(?:[A-Za-z][A-Za-z ]{0,30}:\s*)?on\s*\Z", re.I)
_FRAME_AFTER = re.compile(
    r"[,\s]+(?:[\w.'’()-]+\s+){0,6}?(?:imposed|adopted|issued|announced|signed|published|determined"
    r"|released|approved|decided|initiated|launched|added|designated|unveiled|introduced|sent"
    r"|notified|struck|agreed|held|confirmed)\b",
    re.I,
)
# "LONDON, Nov 26 (Reuters) -": a wire dateline names the day of the report
_DATELINE = re.compile(r"\s*\((?:Reuters|AP|AFP|Bloomberg|Xinhua|Kyodo|Yonhap|dpa|UPI)\)")
# "新华社北京11月9日电 商务部…", "中新网9月30日电": the Chinese wire dateline
_DATELINE_ZH = re.compile(r"[电電](?:\s|$)")
# "• March 10, 2025: Due date for ...", "2026/1/1 | 提交申报": a row of a key-dates list or table
_KEY_BEFORE = re.compile(r"^[\W_]*\Z")
_KEY_AFTER = re.compile(r"\s*(?:[:|–—]|-\s)")
# "From 1 January 2026, only authorised declarants may import": a start that opens the sentence
_OPENING_FROM = re.compile(r"^\W*from\s*\Z", re.I)
_CHANGE = re.compile(
    r"(?:postpone|delay|push|mov|shift|chang|extend|reschedul|延长|延長|推迟|推遲|延期|调整|調整)"
    r"\w*(?:\s+[\w-]+){0,10}\s+from\s*\Z|(?:由|从|從)\s*\Z",
    re.I,
)
# "which was scheduled to close on May 5, 2025, is extended": the date named is the old one
_EXTENDED_AFTER = re.compile(
    r"[\s,)]*(?:is|are|has\s+been|have\s+been|was|were)\s+(?:hereby\s+|now\s+|being\s+)?"
    r"(?:extended|postponed|delayed|deferred|rescheduled|pushed\s+back|put\s+on\s+hold|shelved"
    r"|called\s+off|cancell?ed|withdrawn|paused)\b",
    re.I,
)
# After a date, these open a new clause whose verbs are about something else.
_RELATIVE = re.compile(
    r"\b(?:that|which|who|whose)\b|,\s*(?:and|but|while|whereas|although|though)\b|;"
    r"|[,，]\s*(?:但|而)",
    re.I,
)
_QUOTES_OPEN = "\"“‘'「『"
_QUOTES_CLOSE = "\"”’'」』"


@dataclass(slots=True)
class Group:
    """Mentions read together: a single date, a list ("X and Y") or a range ("X to Y")."""

    mentions: list[Mention]
    is_range: bool = False
    # family -> (best score, its distance, "L"/"R": the side of the date the cue stands on)
    cues: dict[str, tuple[float, int, str]] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return self.mentions[0].start

    @property
    def end(self) -> int:
        return self.mentions[-1].end


def group_mentions(sentence: str, mentions: list[Mention]) -> list[Group]:
    """Join mentions separated only by list words into lists, and "X to Y" into ranges."""
    groups: list[Group] = []
    for men in mentions:
        if groups:
            prev = groups[-1]
            gap = sentence[prev.end : men.start]
            if len(prev.mentions) == 1 and _is_range(sentence, prev, gap):
                prev.mentions.append(men)
                prev.is_range = True
                continue
            if not prev.is_range and _LIST_GAP.match(gap):
                prev.mentions.append(men)
                continue
        groups.append(Group([men]))
    return groups


def _is_range(sentence: str, prev: Group, gap: str) -> bool:
    if not _RANGE_GAP.match(gap):
        return False
    word = gap.strip(" ,").lower()
    if word == "and":  # "between X and Y" only
        return bool(_BETWEEN.search(sentence, 0, prev.start))
    if word in ("until", "till", "through", "thru", "to"):
        return not _POINT_BEFORE.search(sentence, max(0, prev.start - 8), prev.start)
    return True


_ATTRIBUTIVE = frozenset({"DL", "END", "EFF"})


def _score(cue: Cue, dist: int, left_of_date: bool, p: Params, gap: str = "") -> float:
    side = p.left if left_of_date else p.right
    if (
        p.attributive and not left_of_date and dist <= 2 and cue.family in _ATTRIBUTIVE
        and "," not in gap
    ):  # fmt: skip
        side = 1.4  # "the Aug. 1 deadline", "the Nov. 10 expiration": the noun names the date
    return _WEIGHT.get(cue.family, 0.5) * side / (1.0 + dist / p.scale)


def _allowed(cue: Cue, dist: int, left_of_date: bool, p: Params) -> bool:
    if cue.family in POLARITY or cue.family == "OLD":
        return dist <= (p.pol_left if left_of_date else p.pol_right)
    if cue.family == "REF":
        return dist <= p.ref
    if cue.family in NEGATIVE or cue.family in ("SUP", "SUP2"):
        return dist <= p.neg
    return dist <= p.topic


def _option(cue: Cue, sentence: str, g: Group, left_of_date: bool, p: Params):
    """(family, score, distance) of `cue` for group `g`, or None when it cannot qualify it."""
    dist = g.start - cue.end if left_of_date else cue.start - g.end
    if not left_of_date and not p.attributive and _FRAME_END.match(sentence, g.end, cue.start):
        dist = 0  # "自X起，停止执行…": the verb after "起" is governed by the date of the frame
    family = cue.family
    word = sentence[cue.start : cue.end].lower()
    if family == "UNTIL" and dist > 2 and word == "to":
        return None  # "to 125% effective ...": only "to <date>" means "until"
    if family == "EFF" and word[:3] == "to " and "%" not in word and "cent" not in word:
        if sentence[cue.end : cue.end + 1] != "%":
            return None  # "on Jan 1 to 30%" is a rate step; "to 3 p.m." is not
    if (
        family == "REF"
        and p.attributive
        and not left_of_date
        and sentence[g.end : cue.start].strip(" '’s")
    ):
        return None  # "the April 2 order" names the date; "April 17 – Rule effective" does not
    if not _allowed(cue, dist, left_of_date, p):
        if family != "BY" or dist > p.topic or word == "by":
            return None
        family = "DL"  # "due ... no later than" far from the date still says "deadline"
    gap = sentence[g.end : cue.start] if not left_of_date else ""
    if (
        family == "EVENT"
        and gap
        and "," in gap
        and word in _SPEECH
        and _POLAR_BEFORE.search(sentence, max(0, g.start - 20), g.start)
    ):
        return None  # "from April 27, it said on Wednesday": the attribution is not the date's
    score = _score(cue, dist, left_of_date, p, gap) * (0.8 if family != cue.family else 1.0)
    if not left_of_date and (
        _RELATIVE.search(sentence, g.end, cue.start)
        or _closes_parenthesis(sentence, g.end, cue.start)
    ):
        score *= 0.3  # "rules issued on October 9 that halted ...": the clause is about the rules
    return family, score, dist


_SPEECH = frozenset({"said", "says", "told", "stated", "noted", "wrote"})
_POLAR_BEFORE = re.compile(
    r"\b(?:from|until|through|by|after|effective|starting|beginning|as\s+of)\s*\Z", re.I
)


def _closes_parenthesis(sentence: str, start: int, end: int) -> bool:
    """ "(i.e., through February 28, 2026), carriers may elect to pay": the words after the
    parenthesis that holds the date are not about it."""
    close = sentence.find(")", start, end)
    return close >= 0 and sentence.find("(", start, close) < 0


def attach(sentence: str, cues: list[Cue], groups: list[Group], p: Params) -> None:
    """Give every cue to the better-scoring of the groups just before and just after it.

    References come first: a date that names a document ("the order of April 2", "3月4日公告")
    is marked, and the other cues skip it, since its neighbours' verbs are not about it.
    """
    refs = [c for c in cues if c.family == "REF"]
    _attach(sentence, refs, groups, p)
    for g in groups:
        if (sentence.find("(", g.end, g.end + 2) >= 0 and _DATELINE.match(sentence, g.end)) or (
            sentence[g.end : g.end + 1] in "电電" and _DATELINE_ZH.match(sentence, g.end)
        ):
            g.cues["REF"] = (1.0, 0, "R")
    targets = [g for g in groups if "REF" not in g.cues]
    _attach(sentence, [c for c in cues if c.family != "REF"], targets, p)
    for g in targets:
        if _EXTENDED_AFTER.match(sentence, g.end):
            g.cues["SUP"] = (1.0, 0, "R")
    first = groups[0]  # only the first date can open its sentence
    if first.start <= 45:
        head = sentence[: first.start]
        if _FRAME_BEFORE.match(head) and _FRAME_AFTER.match(sentence, first.end):
            first.cues["EVENT"] = (1.0, 0, "L")
        elif _KEY_BEFORE.match(head) and _KEY_AFTER.match(sentence, first.end):
            first.cues["KEY"] = (1.0, 0, "R")
        elif "FROMW" in first.cues and _OPENING_FROM.match(head):
            first.cues["FROM"] = (_WEIGHT["FROM"], 0, "L")
    _share_topics(groups)
    clauses.spread_cut_off(sentence, cues, groups, p)
    clauses.governing_suspension(sentence, cues, groups)
    clauses.transit_window(sentence, cues, groups, p)
    if not p.attributive:
        clauses.frame_verb(sentence, cues, groups, _WEIGHT.__getitem__)
    clauses.spread_limit(sentence, cues, groups, p)
    clauses.moved_from(sentence, groups)
    clauses.governing_removal(sentence, cues, groups)
    clauses.moved_meeting(sentence, cues, groups)


def add_header_cues(groups: list[Group], header: list[Cue]) -> None:
    """The cues of a table column's header ("Effective date") qualify the dates in the column."""
    for cue in header:
        if cue.family not in NEGATIVE:
            for g in groups:
                g.cues.setdefault(cue.family, (_WEIGHT.get(cue.family, 0.5), 0, "L"))


def _share_topics(groups: list[Group]) -> None:
    """ "large firms must comply from X, and small firms from Y": a date with nothing but the
    same polarity word as the date before it shares that date's topic words (ellipsis)."""
    for prev, g in zip(groups, groups[1:], strict=False):
        pol = set(g.cues) & POLARITY
        if not pol or set(g.cues) - POLARITY or not pol & set(prev.cues):
            continue
        for fam, (score, dist, side) in prev.cues.items():
            if fam not in POLARITY and fam not in NEGATIVE:
                g.cues[fam] = (score * 0.9, dist, side)


def _attach(sentence: str, cues: list[Cue], groups: list[Group], p: Params) -> None:
    for cue in cues:
        before = after = None
        for g in groups:
            if g.end <= cue.start:
                before = g
            elif g.start >= cue.end and after is None:
                after = g
        options = []
        if after is not None and cue.side in "LB":
            opt = _option(cue, sentence, after, True, p)
            if opt is not None:
                options.append((opt[1], opt[0], opt[2], after, "L"))
        if before is not None and cue.side in "RB":
            opt = _option(cue, sentence, before, False, p)
            if opt is not None:
                options.append((opt[1], opt[0], opt[2], before, "R"))
        if options:
            score, family, dist, g, side = max(options, key=lambda o: o[0])
            if score > g.cues.get(family, (0.0, 0, ""))[0]:
                g.cues[family] = (score, dist, side)


def is_quoted(sentence: str, men: Mention) -> bool:
    """A date inside quotation marks is text being inserted or deleted by an amendment (not a
    quoted "effective immediately", which names no date to insert): the date alone in quotes, or
    inside a quoted passage that an amendment inserts ("the following paragraph is inserted:
    'By way of derogation, ... until 30 October 2025 ...'")."""
    if men.rel is not None:
        return False
    before = sentence[: men.start].rstrip()
    after = sentence[men.end :].lstrip()
    if before and before[-1] in _QUOTES_OPEN and after and after[0] in _QUOTES_CLOSE:
        return True
    return _in_inserted_text(sentence, men.start)


# an opening quotation mark (after a space, colon or bracket, before a word) and a closing one
_QUOTE_OPENER = re.compile(r"(?:^|(?<=[\s:(]))[\"“‘'「『](?=[\w(])")
_QUOTE_CLOSER = re.compile(r"(?<=\S)[\"”’'」』](?![A-Za-z])")
_AMENDING = re.compile(
    r"(?:insert(?:ed|ing)?|replaced\s+by(?:\s+the\s+following)?|substitut\w*|added"
    r"|(?:to\s+)?read\s+as\s+follows|the\s+following)\s*:?\s*\Z",
    re.I,
)


def _in_inserted_text(sentence: str, start: int) -> bool:
    head = sentence[:start]
    if not any(q in head for q in _QUOTES_OPEN):
        return False
    opener = None
    for m in _QUOTE_OPENER.finditer(sentence, 0, start):
        opener = m
    if opener is None or _QUOTE_CLOSER.search(sentence, opener.end(), start):
        return False
    return bool(_AMENDING.search(sentence, max(0, opener.start() - 60), opener.start()))


def superseded_start(sentence: str, g: Group) -> bool:
    """ "moved from X to Y": X is the old date, only Y counts."""
    return bool(_CHANGE.search(sentence, max(0, g.start - 80), g.start))
