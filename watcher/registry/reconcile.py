"""Reconciliation, pure: which measures a notice is about, and what its deadline events say
about their milestones (findings). Then `apply()` turns an accepted finding into the new measure.

Finding kinds: new_deadline, date_changed, suspended, extended, revoked, confirmed."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace

from watcher.models import Event, Finding, Item, Measure, Milestone

MIN_CONFIDENCE = 0.5
_SUSPEND = re.compile(r"\b(suspen[ds]\w*|paus\w*|defer\w*|delay\w*|postpon\w*|hold\w*|truce)\b|暂停|暫停|推迟|推遲|暂缓|暫緩|停止实施|停止實施|中止", re.I)
_REVOKE = re.compile(r"\b(revok\w*|rescind\w*|repeal\w*|withdraw\w*|terminat\w*|lift\w*|abolish\w*)\b|废止|廢止|撤销|撤銷|取消|解除", re.I)
_MOVE = re.compile(r"\b(postpon\w*|delay\w*|extend\w*|push\w* back|mov\w*|instead|now|amend\w*|chang\w*|revis\w*|brought forward)\b|推迟|推遲|延期|延长|延長|调整|調整|改为|改為|提前", re.I)
# A notice's own commencement clause ("this notice is effective upon publication"): the start of
# what the notice does (a suspension, an amendment), not a new milestone of the measure it acts on.
_COMMENCE = re.compile(
    r"本(?:公告|通知|决定|決定|规定|規定|办法|辦法|措施|令)(?:自|於|于)(?:公布|公佈|发布|發布|印发|印發)之日起(?:施行|实施|實施|生效)"
    r"|\bthis (?:notice|rule|final rule|interim final rule|announcement|order|proclamation|action|document|"
    r"determination|modification|suspension)\b[^.;]{0,40}?\b(?:is|are|shall be|will be|becomes|take[s]?)\b[^.;]{0,20}?"
    r"\beffective\b",
    re.I,
)
_REF_NUMBER = re.compile(r"No\.?\s*(\d+)\s+of\s+(\d{4})", re.I)
_FR_DOC = re.compile(r"\b(\d{4}-\d{4,6})\b")
_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]+")
_STOP = frozenset("the of and on in to a an for by with from export controls control measures rules us china".split())


def fold(text: str) -> str:
    """Case-folded NFKC text with hyphens as spaces, for matching names in notices."""
    return re.sub(r"[\s\-‐-―]+", " ", unicodedata.normalize("NFKC", text).casefold())


def reference_variants(reference: str) -> list[str]:
    """How a reference is written in notices: `Announcement No. 61 of 2025` is also `No. 61`,
    `公告2025年第61号`, `2025年第61号`; an FR document number stands as it is."""
    out = []
    if reference.strip():
        out.append(fold(reference))
    for number, year in _REF_NUMBER.findall(reference):
        out += [f"no. {number} of {year}", f"no.{number} of {year}", f"{year}年第{number}号", f"{year}年第{number}號"]
    out += [fold(number) for number in _FR_DOC.findall(reference)]  # as notices are folded: `2025 19001`
    return [v for v in dict.fromkeys(out) if v]


def link_measures(item: Item, measures: Sequence[Measure]) -> list[tuple[Measure, float]]:
    """Measures the item is about, best first: by reference (1.0), alias (0.9) or title words (0.6)."""
    if not measures:
        return []
    text = fold(f"{item.title}\n{item.summary}\n{item.text}")
    words = set(_WORD.findall(text))
    linked = []
    for m in measures:
        score = 0.0
        if any(v in text for v in reference_variants(m.reference)):
            score = 1.0
        elif any(_contains(text, fold(a)) for a in m.aliases if a.strip()):
            score = 0.9
        elif _title_overlap(m.title, words) >= 0.75:
            score = 0.6
        if score:
            linked.append((m, score))
    return sorted(linked, key=lambda pair: -pair[1])


def _contains(text: str, phrase: str) -> bool:
    if re.search(r"[\u3400-\u9fff]", phrase):
        return phrase in text
    return re.search(rf"(?<![a-z0-9]){re.escape(phrase)}(?![a-z0-9])", text) is not None


def _title_overlap(title: str, words: set[str]) -> float:
    significant = {w for w in _WORD.findall(fold(title)) if w not in _STOP and not w.isdigit()}
    return len(significant & words) / len(significant) if len(significant) >= 3 else 0.0


def reconcile(
    item: Item, events: Iterable[Event], measures: Sequence[Measure], rule_matched: bool
) -> list[Finding]:
    """Compare the item's deadline events with the milestones of the measures it is about."""
    events = _own_commencement([e for e in events if e.confidence >= MIN_CONFIDENCE])
    if not events:
        return []
    linked = link_measures(item, measures)
    if not linked:
        return [_unlinked(item, e) for e in events] if rule_matched else []
    itself = {fold(r) for r in _ANY_REFERENCE.findall(fold(f"{item.title} {item.key}"))}  # the notice's own number
    findings = []
    for e in events:
        measure, candidates = _measure_for(e, linked, itself)
        if measure is None:
            if candidates:  # unclear: say so and ask, rather than move a measure with another's date
                findings.append(replace(_unlinked(item, e), candidates=tuple(m.id for m in candidates)))
            continue
        found = _compare(item, e, measure)
        if found is not None:
            findings.append(found)
    return _dedup(findings)


# "The suspension of the fees is effective November 10, 2025": the start of a suspension, told as
# the date the suspension takes effect.
_SUSPENSION_TAKES_EFFECT = re.compile(
    r"\b(?:suspension|pause|deferral)\b[^.;]{0,80}?\b(?:is|are|shall be|will be|becomes?|takes?)\s+effect"
    r"|(?:暂停|暫停)[^。；;]{0,40}?(?:自|于|於)[^。；;]{0,30}?(?:起|生效)",
    re.I,
)


def _own_commencement(events: list[Event]) -> list[Event]:
    """A notice that suspends a measure and is effective upon publication suspends it from that
    day: its commencement is the suspension's start (unless it states one). In other notices
    the commencement is the notice's own (an amendment's), flagged so that it never replaces or
    adds to the effective date of a measure that has one."""
    events = [replace(e, kind="suspension") if e.kind == "effective" and _SUSPENSION_TAKES_EFFECT.search(e.evidence)
              else e for e in events]  # fmt: skip
    own = [e for e in events if e.kind == "effective" and _COMMENCE.search(e.evidence)]
    if not own:
        return events
    ends = any(e.kind == "expiry" and _SUSPEND.search(e.evidence) for e in events)
    suspends = any(e.kind == "suspension" for e in events) or ends
    starts = any(e.kind == "suspension" for e in events)
    out = []
    for e in events:
        if e in own:
            if suspends and starts:
                continue  # the notice states when the suspension starts
            e = replace(e, kind="suspension", flags=(*e.flags, "commencement")) if suspends else replace(
                e, flags=(*e.flags, "own_commencement"))
        out.append(e)
    return out


# A reference to some measure, in any notation: the sentence may speak of one the registry lacks.
_ANY_REFERENCE = re.compile(
    r"\b(?:announcement|notice|order|proclamation)\s+no\.?\s*\d+|公告\s*\d{4}\s*年\s*第\s*\d+\s*[号號]"
    r"|\b\d{4}[- ]\d{4,6}\b|\brin\s+\d{4}[- ][a-z]{2}\d{2}\b|\b\d+\s+cfr\b|executive order\s+\d+",
    re.I,
)


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CLAUSE_END = re.compile(r"[,;，；、]|\b(?:after|while|whereas|but|and then|following)\b", re.I)


def _date_at(sentence: str, day: dt.date) -> int | None:
    """Where `day` is written in the (folded) sentence, in the common notations, if it is."""
    month = _MONTHS[day.month - 1]
    forms = (
        rf"\b{month}[a-z]*\.?\s+{day.day}(?!\d)", rf"(?<!\d){day.day}\s+{month}[a-z]*", rf"{day.month}\s*月\s*{day.day}\s*日",
        rf"(?<!\d){day.month}/{day.day}/{day.year}", day.isoformat(),
    )  # fmt: skip
    hits = [m.start() for f in forms for m in [re.search(f, sentence)] if m]
    return min(hits) if hits else None


def _clause(sentence: str, at: int | None) -> str:
    """The clause of `sentence` around position `at` (the whole sentence when `at` is None)."""
    if at is None:
        return sentence
    start = max((m.end() for m in _CLAUSE_END.finditer(sentence, 0, at)), default=0)
    end = next((m.start() for m in _CLAUSE_END.finditer(sentence, at)), len(sentence))
    return sentence[start:end]


def _measure_for(
    event: Event, linked: list[tuple[Measure, float]], itself: set[str] = frozenset()  # type: ignore[assignment]
) -> tuple[Measure | None, list[Measure]]:
    """The measure the clause carrying the date speaks of (else its sentence): one it names (its
    reference, else an alias); else the item's only linked measure, unless the clause names a
    reference that is not that measure's. (None, candidates) when it is unclear which it is."""
    sentence = fold(event.evidence)
    clause = _clause(sentence, _date_at(sentence, event.date))
    if clause != sentence:
        found, candidates = _named_in(clause, linked, itself)
        if found is not None or candidates or _foreign(clause, linked, itself):
            return found, candidates
    return _named_in(sentence, linked, itself)


def _foreign(text: str, linked: list[tuple[Measure, float]], itself: set[str]) -> bool:
    """Whether `text` names a reference (announcement, FR document, RIN, CFR part, order) that
    is none of the linked measures' nor the notice's own."""
    own = [v for m, _ in linked for v in reference_variants(m.reference)]
    return any(
        fold(r) not in itself and not any(fold(r) in v or v in fold(r) for v in own) for r in _ANY_REFERENCE.findall(text)
    )


def _named_in(
    sentence: str, linked: list[tuple[Measure, float]], itself: set[str]
) -> tuple[Measure | None, list[Measure]]:
    by_reference = [m for m, _ in linked if any(v in sentence for v in reference_variants(m.reference))]
    if len(by_reference) == 1:
        return by_reference[0], []
    by_alias = [m for m, _ in linked if any(_contains(sentence, fold(a)) for a in m.aliases if a.strip())]
    named = by_reference or by_alias
    if len(named) == 1:
        return named[0], []
    if len(named) > 1:
        return None, named
    if _foreign(sentence, linked, itself):
        return None, []
    if len(linked) == 1:
        return linked[0][0], []
    return None, [m for m, _ in linked]


def _compare(item: Item, e: Event, m: Measure) -> Finding | None:
    live = [ms for ms in m.milestones if ms.state in ("active", "suspended", "unconfirmed")]
    sentence = e.evidence
    if "commencement" in e.flags and any(ms.kind == "suspension" for ms in live):
        return None  # a notice extending a suspension under way: its own start is not the suspension's
    if "own_commencement" in e.flags and any(ms.kind == "effective" for ms in live):
        if any(ms.kind == "effective" and ms.date == e.date for ms in live):
            return _finding(item, "confirmed", m, e, next(ms for ms in live if ms.kind == "effective" and ms.date == e.date))
        return None  # an amendment's own start, not the measure's effective date
    if _REVOKE.search(sentence) and e.kind in ("effective", "expiry", "other_deadline"):
        return _finding(item, "revoked", m, e, _principal(live))
    if e.kind == "expiry" and (_SUSPEND.search(sentence) or any(ms.kind == "suspension_end" for ms in live)):
        # "suspended until X": the end of a suspension (the measure resumes then), not of the measure
        e = replace(e, kind="suspension_end")
    # (a registry written before `suspension_end` may hold a suspension's end as an expiry)
    same_kind = [ms for ms in live if ms.kind == e.kind or (e.kind == "suspension_end" and ms.kind == "expiry")]
    exact = next((ms for ms in same_kind if ms.date == e.date), None)
    if exact is not None:
        return _finding(item, "confirmed", m, e, exact)
    if e.kind in ("suspension", "suspension_end", "expiry") and same_kind:
        # the measure already has an end (or a suspension's start or end): this one moves it
        nearest = min(same_kind, key=lambda ms: abs((ms.date - e.date).days))
        return _finding(item, "extended" if e.date > nearest.date else "date_changed", m, e, nearest)
    if e.kind in ("suspension", "suspension_end") or (e.kind == "expiry" and m.status == "suspended"):
        if e.kind == "expiry":
            e = replace(e, kind="suspension_end")
        return _finding(item, "suspended", m, e, _principal(live))
    if same_kind and _MOVE.search(sentence):
        nearest = min(same_kind, key=lambda ms: abs((ms.date - e.date).days))
        kind = "extended" if e.kind in ("comment_deadline", "compliance") and e.date > nearest.date else "date_changed"
        return _finding(item, kind, m, e, nearest)
    return _finding(item, "new_deadline", m, e, None)


def _principal(milestones: Sequence[Milestone]) -> Milestone | None:
    """The milestone a suspension or revocation acts on: the first effective date, else the first."""
    active = [ms for ms in milestones if ms.state == "active"]
    for kind in ("effective", "compliance"):
        dated = [ms for ms in active if ms.kind == kind]
        if dated:
            return dated[-1]
    return active[0] if active else None


def _finding(item: Item, kind: str, m: Measure, e: Event, old: Milestone | None) -> Finding:
    return Finding(
        kind=kind, dedup_key=f"{kind}|{m.id}|{e.kind}|{e.date.isoformat()}", measure_id=m.id, event=e,
        old_kind=old.kind if old else None, old_date=old.date if old else None,
        milestone_uid=old.uid if old else None, item_title=item.title, link=item.link, source=item.source,
    )  # fmt: skip


def _unlinked(item: Item, e: Event) -> Finding:
    key = hashlib.sha256(f"{item.source}|{item.key}".encode()).hexdigest()[:16]
    return Finding(kind="new_deadline", dedup_key=f"new_deadline|-|{e.kind}|{e.date.isoformat()}|{key}",
                   measure_id=None, event=e, item_title=item.title, link=item.link, source=item.source)  # fmt: skip


def _dedup(findings: list[Finding]) -> list[Finding]:
    seen: dict[str, Finding] = {}
    for f in findings:
        if f.dedup_key not in seen or f.event.confidence > seen[f.dedup_key].event.confidence:
            seen[f.dedup_key] = f
    return list(seen.values())


def apply(measure: Measure, f: Finding, finding_id: int) -> Measure:
    """The measure as it stands once finding `f` is accepted."""
    e = f.event
    zone = e.tz or next((ms.tz for ms in measure.milestones if ms.tz), None)  # the measure's zone by default
    note = f"finding #{finding_id}: {e.evidence[:200]}"
    added = Milestone(e.kind, e.date, e.time, zone, note=note, source=f.link, uid=f"{measure.id}/finding-{finding_id}")
    milestones = list(measure.milestones)
    if f.kind == "new_deadline":
        milestones.append(added)
    elif f.kind in ("date_changed", "extended"):  # the note quotes the notice that moved it, not the old one
        milestones = [replace(ms, date=e.date, time=e.time or ms.time, tz=e.tz or ms.tz, note=note,
                              source=f.link or ms.source) if ms.uid == f.milestone_uid else ms
                      for ms in milestones]  # fmt: skip
    elif f.kind == "suspended":
        start = e.date if e.kind == "suspension" else None
        milestones = [replace(ms, state="suspended")
                      if ms.state == "active" and ms.kind not in ("suspension", "suspension_end", "expiry")
                      and (ms.uid == f.milestone_uid or (start is not None and ms.date >= start)) else ms
                      for ms in milestones]  # fmt: skip
        same = [ms for ms in milestones if ms.kind == e.kind and ms.state == "active"]
        if same and not any(ms.date == e.date for ms in same):  # one suspension end: move it, never a second
            milestones = [replace(ms, date=e.date, note=note, source=f.link or ms.source) if ms.uid == same[-1].uid
                          else ms for ms in milestones]  # fmt: skip
        elif not same:
            milestones.append(added)
        return replace(measure, status="suspended", milestones=tuple(milestones))
    elif f.kind == "revoked":
        milestones = [replace(ms, state="cancelled") if ms.state in ("active", "suspended") else ms for ms in milestones]
        return replace(measure, status="revoked", milestones=tuple(milestones))
    return replace(measure, milestones=tuple(milestones))
