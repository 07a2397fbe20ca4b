"""Clause-level rules: a cue that governs every date of its clause, not only the nearest one.

classify.attach gives each cue to the nearest date; these rules then spread a cue's meaning over the
other dates of its clause, or read the clause as a whole:
- a cut-off word ("goods shipped before X") and the end of an in-transit window ("and entered
  before Y": expiry);
- a suspension or removal verb far before its start date ("will suspend ... beginning X",
  "will remove ... effective X": also the end of the measure removed);
- a meeting moved by a change verb ("the hearing ... has been postponed to X");
- an investigation's time limit over the period ends of its clause ("调查期限从原定的X，延长至Y");
- 自X起 and the first verb of its clause after a long object.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .cues import POLARITY, Cue

if TYPE_CHECKING:
    from .classify import Group, Params

_NO_CUE = (0.0, 0, "")
_KIND_FAMILIES = frozenset({"EFF", "SUS", "END", "CMP", "COM", "REQ"})

_MOVE = re.compile(r"postpon|reschedul|delay|push|mov", re.I)
_VERB_FAMILIES = frozenset({"EFF", "END", "SUS"})


def moved_meeting(sentence: str, cues: list[Cue], groups: list[Group]) -> None:
    """ "A public hearing on proposed port fees ..., originally set for Sept. 15, has been
    postponed to Oct. 6": a meeting that opens its sentence is what the change verb moves."""
    meet = next((c for c in cues if c.family == "MEET"), None)
    if meet is None or meet.start > 40:
        return
    for cue in cues:
        if cue.start <= meet.end or ";" in sentence[meet.end : cue.start]:
            continue
        if cue.family in _VERB_FAMILIES and not (
            cue.family == "SUS" and _MOVE.match(sentence, cue.start)
        ):
            return  # another verb stands between: the meeting is not the subject
        if cue.family != "SUS":
            continue
        for g in groups:
            if g.start >= cue.end and g.start - cue.end <= 15:
                g.cues["MEET"] = (1.0, 0, "L")
        return


_REMOVAL = re.compile(r"remov|lift|eliminat|terminat|revok|rescind|repeal|scrap", re.I)


def governing_removal(sentence: str, cues: list[Cue], groups: list[Group]) -> None:
    """ "Canada will remove many of its retaliatory tariffs on U.S. goods effective Sept. 1": the
    date at which a removal takes effect is also the end of the measure removed."""
    verbs = [c for c in cues if c.family == "END" and _REMOVAL.match(sentence, c.start)]
    for i, g in enumerate(groups if verbs else ()):
        eff = g.cues.get("EFF")
        if eff is None or eff[2] != "L" or eff[1] > 12 or g.cues.get("END", _NO_CUE)[0] >= eff[0]:
            continue
        lo = groups[i - 1].end if i else 0
        end = [c for c in verbs if lo <= c.start and c.end <= g.start and g.start - c.end <= 100]
        if end and not _CLAUSE_END.search(sentence, end[-1].end, g.start):
            g.cues["END"] = eff


_CLAUSE_END = re.compile(r"[;；。]|,\s*(?:and|but|while)\b")


_CLAUSE_BREAK = re.compile(r"[,;，；]")
_CUT_POLARITY = frozenset({"BEFORE", "BY", "UNTIL"})


def spread_cut_off(sentence: str, cues: list[Cue], groups: list[Group], p: Params) -> None:
    """ "Goods shipped before March 10 and imported by April 12 will be exempt": the cut-off
    word governs every date of its clause, not only the nearest one (the distance counts from
    the last date it governs: "shipped before X and imported between X and Y")."""
    for cue in cues:
        if cue.family != "CUT":
            continue
        last = cue.end
        for g in groups:
            if g.start < cue.end or g.start - last > p.neg:
                continue
            if _CLAUSE_BREAK.search(sentence, last, g.start):
                break
            if (set(g.cues) & POLARITY) <= _CUT_POLARITY:
                g.cues["CUT"] = max(g.cues.get("CUT", _NO_CUE), (0.6, 0, "L"))
                last = g.end


_SHIP = re.compile(
    r"load|ship|transit|route|depart|laden|water|[装裝]|[启啟][运運]|[离離]港|出[运運]|途|前已",
    re.I,
)
_WINDOW_GAP = re.compile(r"[;；。]")
_TO_ENTER = re.compile(r"\s*to\s+(?:be\s+)?\Z", re.I)


def transit_window(sentence: str, cues: list[Cue], groups: list[Group], p: Params) -> None:
    """ "Goods loaded before X and entered before Y are exempt", "X前已启运，并于X至Y进口的":
    X is a cut-off (not recorded), Y the end of the in-transit window (WIN: expiry). A date
    is the window's end when an entry verb that comes after a shipping cut-off word stands
    right next to it (before it in English, mostly after it in Chinese)."""
    ship = [c for c in cues if c.family == "CUT" and _SHIP.search(sentence, c.start, c.end)]
    if not ship:
        return
    entry = [c for c in cues if c.family == "ENTRY" and c.start > ship[0].start]
    near = p.topic // 4  # 40 characters in English, 11 in Chinese
    lead = not p.attributive
    for g in groups:
        for c in entry:
            if c.end <= g.start:
                dist, gap = g.start - c.end, sentence[c.end : g.start]
            elif c.start >= g.end:
                dist, gap = c.start - g.end, sentence[g.end : c.start]
            else:
                continue
            if (c.end <= g.start) == lead and not (lead is False and _TO_ENTER.match(gap)):
                continue  # English "entered before Y" ("until Y to arrive"), Chinese "Y前进口"
            if dist > near or _WINDOW_GAP.search(gap):
                continue
            if any(c.end <= o.start and o.end <= g.start for o in groups if o is not g) or any(
                g.end <= o.start and o.end <= c.start for o in groups if o is not g
            ):
                continue  # another date stands between the verb and this one
            g.cues.pop("CUT", None)
            g.cues["WIN"] = (1.0, dist, "L" if c.end <= g.start else "R")
            break


MOVED_FROM = re.compile(r"(?:由|从|從)\s*\Z")
MOVED_TO = re.compile(
    r"\s*[,，]?\s*(?:延[长長]|推[迟遲]|延期|[顺順]延|[调調]整|推延|提前)(?:至|到|[为為])"
)
_UNTIL_BY = frozenset({"UNTIL", "BY"})


def moved_from(sentence: str, groups: list[Group]) -> None:
    """ "由6月17日延长至12月16日", "从X推迟到Y": the date the change starts from is the old one."""
    for g in groups:
        if MOVED_FROM.search(sentence, max(0, g.start - 4), g.start) and MOVED_TO.match(
            sentence, g.end
        ):
            g.cues["SUP"] = (1.0, 0, "R")


def spread_limit(sentence: str, cues: list[Cue], groups: list[Group], p: Params) -> None:
    """ "将调查期限从原定的X，延长至Y": the time limit named before the dates qualifies each date
    of its clause that closes a period, not only the nearest one."""
    for cue in cues:
        if cue.family != "INV":
            continue
        for g in groups:
            if g.start < cue.end or g.start - cue.end > p.topic or "INV" in g.cues:
                continue
            if _WINDOW_GAP.search(sentence, cue.end, g.start):
                break
            if _UNTIL_BY & g.cues.keys():
                g.cues["INV"] = (0.8, g.start - cue.end, "L")


_FRAME_VERBS = ("SUS", "END", "CMP", "EFF")  # in this order of precedence
_FRAME_REACH = 40
_FRAME_STOP = re.compile(r"[;；。]|[,，]\s*(?:并|並|同时|同時|另|此外|但|而)")


def frame_verb(sentence: str, cues: list[Cue], groups: list[Group], weight) -> None:
    """ "自X起，对相关物项的出口管制措施暂停实施至Y": a start framed by 自…起 whose verb stands after
    a long object takes the first verb of its clause (before the next date or the clause's end)."""
    for i, g in enumerate(groups):
        if "FROM" not in g.cues or _KIND_FAMILIES & g.cues.keys():
            continue
        hi = groups[i + 1].start if i + 1 < len(groups) else len(sentence)
        stop = _FRAME_STOP.search(sentence, g.end, hi)
        hi = min(hi, stop.start() if stop else hi, g.end + _FRAME_REACH)
        verbs = [c for c in cues if g.end <= c.start and c.end <= hi and c.family in _FRAME_VERBS]
        if verbs:
            first = verbs[0]
            g.cues[first.family] = (0.8 * weight(first.family), first.start - g.end, "R")


def governing_suspension(sentence: str, cues: list[Cue], groups: list[Group]) -> None:
    """ "USTR will suspend for one year the actions taken in ... sectors, beginning November 10":
    a start date with no verb near it takes the suspension verb that governs its sentence,
    however far before it, when no other date stands between them."""
    verbs = [c for c in cues if c.family == "SUS"]
    for i, g in enumerate(groups if verbs else ()):
        if not {"FROM", "FROMW"} & g.cues.keys() or _KIND_FAMILIES & g.cues.keys():
            continue
        lo = groups[i - 1].end if i else 0
        sus = [c for c in verbs if lo <= c.start and c.end <= g.start]
        if sus and ";" not in sentence[sus[-1].end : g.start]:
            g.cues["SUS"] = (0.3, g.start - sus[-1].end, "L")
