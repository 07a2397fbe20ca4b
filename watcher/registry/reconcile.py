"""Reconciliation, pure: which measures a notice is about, and what its deadline events say
about their milestones (findings). Then `apply()` turns an accepted finding into the new measure.

Finding kinds: new_deadline, date_changed, suspended, extended, revoked, confirmed."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import replace

from watcher.models import Event, Finding, Item, Measure, Milestone

MIN_CONFIDENCE = 0.5
_SUSPEND = re.compile(r"\b(suspend\w*|paus\w*|defer\w*|delay\w*|postpon\w*|hold\w*|truce)\b|暂停|暫停|推迟|推遲|暂缓|暫緩|停止实施|停止實施|中止", re.I)
_REVOKE = re.compile(r"\b(revok\w*|rescind\w*|repeal\w*|withdraw\w*|terminat\w*|lift\w*|abolish\w*)\b|废止|廢止|撤销|撤銷|取消|解除", re.I)
_MOVE = re.compile(r"\b(postpon\w*|delay\w*|extend\w*|push\w* back|mov\w*|instead|now|amend\w*|chang\w*|revis\w*|brought forward)\b|推迟|推遲|延期|延长|延長|调整|調整|改为|改為|提前", re.I)
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
    out += _FR_DOC.findall(reference)
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
    events = [e for e in events if e.confidence >= MIN_CONFIDENCE]
    if not events:
        return []
    linked = link_measures(item, measures)
    if not linked:
        return [_unlinked(item, e) for e in events] if rule_matched else []
    findings = []
    for e in events:
        measure = _measure_for(e, linked)
        findings.append(_compare(item, e, measure))
    return _dedup(findings)


def _measure_for(event: Event, linked: list[tuple[Measure, float]]) -> Measure:
    if len(linked) > 1:
        sentence = fold(event.evidence)
        for m, _ in linked:
            names = reference_variants(m.reference) + [fold(a) for a in m.aliases]
            if any(n and n in sentence for n in names):
                return m
    return linked[0][0]


def _compare(item: Item, e: Event, m: Measure) -> Finding:
    live = [ms for ms in m.milestones if ms.state in ("active", "suspended")]
    sentence = e.evidence
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
    added = Milestone(e.kind, e.date, e.time, e.tz, note=f"finding #{finding_id}: {e.evidence[:200]}",
                      source=f.link, uid=f"{measure.id}/finding-{finding_id}")  # fmt: skip
    milestones = list(measure.milestones)
    if f.kind == "new_deadline":
        milestones.append(added)
    elif f.kind in ("date_changed", "extended"):
        milestones = [replace(ms, date=e.date, time=e.time or ms.time, tz=e.tz or ms.tz, source=f.link or ms.source)
                      if ms.uid == f.milestone_uid else ms for ms in milestones]  # fmt: skip
    elif f.kind == "suspended":
        start = e.date if e.kind == "suspension" else None
        milestones = [replace(ms, state="suspended")
                      if ms.state == "active" and ms.kind not in ("suspension", "suspension_end", "expiry")
                      and (ms.uid == f.milestone_uid or (start is not None and ms.date >= start)) else ms
                      for ms in milestones]  # fmt: skip
        if not any(ms.kind == e.kind and ms.date == e.date for ms in milestones):
            milestones.append(added)
        return replace(measure, status="suspended", milestones=tuple(milestones))
    elif f.kind == "revoked":
        milestones = [replace(ms, state="cancelled") if ms.state in ("active", "suspended") else ms for ms in milestones]
        return replace(measure, status="revoked", milestones=tuple(milestones))
    return replace(measure, milestones=tuple(milestones))
