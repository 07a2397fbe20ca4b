"""Decide the event kind(s) of a date group from the cues attached to it (see classify.attach).

Three readings, chosen by the polarity word standing next to the date:
- deadline ("until X", "by X", "X前", "X止"): the topic decides (comments → comment_deadline,
  compliance → compliance, payment/report/negotiation → other_deadline); a bare "until" closes a
  period (expiry) and a bare "by" is an other_deadline;
- start ("from X", "beginning X", "自X起"): suspension, expiry (停止实施), compliance or effective;
- plain ("effective X", "X: Effective date", "expires on X"): the strongest kind-bearing cue.
Negative cues (events, meetings, references, cut-offs) veto a reading weaker than they are.
"""

from __future__ import annotations

from .cues import NEGATIVE, POLARITY

Cues = dict[str, tuple[float, int, str]]
Kinds = list[tuple[str, float]]

_DEADLINE_TOPICS = {
    "COM": "comment_deadline", "REQ": "comment_deadline", "APPEAR": "other_deadline",
    "CMP": "compliance", "PAY": "other_deadline", "NEGOT": "other_deadline",
    "PUBL": "other_deadline",
}  # fmt: skip
_START_KINDS = {"SUS": "suspension", "END": "expiry", "CMP": "compliance", "EFF": "effective"}
_PLAIN_KINDS = {
    "EFF": "effective", "SUS": "suspension", "END": "expiry", "CMP": "compliance",
    "DL": "other_deadline", "APPEAR": "other_deadline", "PUBL": "other_deadline",
}  # fmt: skip
_PERIOD = ("SUS", "EXT")
_NO = (0.0, 0, "")


def _s(cues: Cues, family: str) -> float:
    return cues[family][0] if family in cues else 0.0


def _best(cues: Cues, families) -> tuple[str | None, float]:
    best: tuple[str | None, float] = (None, 0.0)
    for fam in families:
        if fam in cues and cues[fam][0] > best[1]:
            best = (fam, cues[fam][0])
    return best


def negative_score(cues: Cues) -> float:
    """How strongly the cues say "this date is an event / a reference, not a milestone"."""
    return max((_s(cues, f) for f in NEGATIVE if f != "SINCE"), default=0.0)


def _topic_kinds(cues: Cues) -> Kinds:
    """Kinds named by deadline topics, keeping every topic at least 0.4 times as strong as the
    best ("comments and requests to appear ... by X" is both a comment and another deadline)."""
    found = [(k, cues[f][0]) for f, k in _DEADLINE_TOPICS.items() if cues.get(f, _NO)[0] >= 0.1]
    if not found:
        return []
    top = max(s for _, s in found)
    kinds: dict[str, float] = {}
    for kind, score in found:
        if score >= 0.4 * top:
            kinds[kind] = max(kinds.get(kind, 0.0), score)
    return list(kinds.items())


def _deadline(cues: Cues, polfam: str, support: float) -> Kinds:
    if polfam == "UNTIL" and cues.get("EFF", _NO)[1:] == (0, "R"):
        return [("effective", support)]  # "推迟至8月6日实施": the verb right after names the start
    topics = _topic_kinds(cues)
    if polfam == "UNTIL" and topics:
        # "remain suspended until X ... fees" : the period words outweigh a distant topic
        if _best(cues, _PERIOD)[1] > max(s for _, s in topics):
            topics = []
    if polfam == "UNTIL" and [k for k, _ in topics] == ["compliance"]:
        # "authorizes the wind down of transactions through X": the authorisation ends on X
        return [("expiry", support), ("compliance", topics[0][1])]
    if topics:
        return [(k, max(s, support)) for k, s in topics]
    if polfam in ("UNTIL", "END"):
        return [("expiry", support)]
    if polfam == "BY" and _s(cues, "END") >= max(_s(cues, "EFF"), 0.01):
        return [("expiry", support), ("other_deadline", support * 0.8)]  # "cancel ... by X"
    if polfam == "BEFORE":
        return []
    if _s(cues, "EFF") > _s(cues, "RPT"):
        return [("effective", support)]
    return [("other_deadline", support * 0.8)]


def _start(cues: Cues, polfam: str, support: float) -> Kinds:
    fam, score = _best(cues, _START_KINDS)
    if max(_s(cues, "COM"), _s(cues, "OPEN")) > score:
        return []  # a comment window opening is not a milestone
    if fam is None:
        if polfam == "FROM" and "RPT" in cues:
            # "importers must file the new declarations beginning X": a reporting duty starts
            return [("compliance", support), ("effective", support * 0.9)]
        return [("effective", support)] if polfam == "FROM" else []
    kinds = [(_START_KINDS[fam], max(score, support))]
    if fam == "CMP":
        # "cash deposits required on entries on or after X": the obligation also takes effect
        kinds.append(("effective", max(score, support) * 0.9))
    elif fam == "EFF" and _s(cues, "SUS") >= 0.5 * score:
        kinds.append(("suspension", _s(cues, "SUS")))  # "the suspension takes effect as of X"
    return kinds


def _plain(cues: Cues) -> Kinds:
    fam, score = _best(cues, _PLAIN_KINDS)
    if fam is None:
        # a key-dates row ("March 10, 2025: Due date for requests ...") is a milestone by place
        return _key_row(cues)
    if fam in ("END", "DL"):
        topics = _topic_kinds(cues)
        if fam == "END" and [k for k, _ in topics] == ["compliance"]:
            # "该许可于10月29日到期", "the licence expires on X": the authorisation ends
            return [("expiry", score), ("compliance", topics[0][1])]
        if (
            topics
            and fam == "DL"
            or (topics and _best(cues, _PERIOD)[1] < max(s for _, s in topics))
        ):
            return [(k, max(s, score)) for k, s in topics]
    kinds = [(_PLAIN_KINDS[fam], score)]
    for other, kind in _PLAIN_KINDS.items():  # a second role, nearly as strong (two roles)
        if other != fam and kind != kinds[0][0] and _s(cues, other) >= 0.8 * score:
            kinds.append((kind, _s(cues, other)))
    return kinds


def _key_row(cues: Cues) -> Kinds:
    if "KEY" not in cues:
        return []
    report = [("other_deadline", cues["RPT"][0])] if "RPT" in cues else []
    return _topic_kinds(cues) or report


def _superseded(cues: Cues, several_groups: bool) -> bool:
    return "SUP" in cues or "OLD" in cues or ("SUP2" in cues and several_groups)


def decide(cues: Cues, several_groups: bool) -> Kinds:
    """Kinds (with support scores) for a single date or list of dates; [] when not a milestone."""
    if _superseded(cues, several_groups):
        return []
    if "WIN" in cues:  # the last day goods in transit may be entered at the old rate
        return [("expiry", cues["WIN"][0])]
    polfam, support = _best(cues, POLARITY)
    if "INV" in cues and polfam not in ("FROM", "FROMW", "SINCE"):
        return [("other_deadline", max(cues["INV"][0], support))]  # an investigation's limit
    if polfam == "SINCE" or (polfam in ("BEFORE", "BY") and _s(cues, "CUT") >= 0.3):
        return []
    if polfam in ("UNTIL", "BY", "BEFORE"):
        kinds = _deadline(cues, polfam, support)
    elif polfam in ("FROM", "FROMW"):
        kinds = _start(cues, polfam, support)
    else:
        kinds = _plain(cues)
    if not kinds or negative_score(cues) > max(s for _, s in kinds):
        return []
    return kinds


def decide_range(cues: Cues, several_groups: bool) -> tuple[Kinds, Kinds]:
    """Kinds for the start and the end of a range "X to Y" / "X至Y"."""
    if "WIN" in cues and not _superseded(cues, several_groups):
        return [], [("expiry", cues["WIN"][0])]  # "imported between X and Y": Y ends the window
    if _superseded(cues, several_groups) or "SINCE" in cues or _s(cues, "CUT") >= 0.3:
        return [], []  # "goods shipped before X and imported between X and Y": a cut-off window
    fam, score = _best(cues, ("SUS", "EFF", "EXT", "END", "COM", "REQ", "CMP"))
    if fam is None:  # "from X to Y" alone: a period of application
        fam, score = _best(cues, ("FROM", "FROMW"))
    if fam is None or negative_score(cues) > score:
        return [], []
    if fam == "SUS":
        return [("suspension", score)], [("expiry", score)]
    if fam in ("COM", "REQ"):
        return [], [("comment_deadline", score)]
    if fam == "CMP":
        return [], [("compliance", score)]
    return [("effective", score)], [("expiry", score)]
