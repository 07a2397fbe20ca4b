"""Route, pure: what a poll's new and changed items say, as one message per item version and channel.

All the rules that matched an item, and the registry changes it proposes, go into ONE message per
channel: a rule's channels get its hit, a measure's channels (else `defaults.channels`) get the
changes about it. The dedup key names the item version (`item|source|key hash|content hash`), so
re-polls and restarts enqueue nothing twice. A finding that turns out not to be new when it is
recorded (the same claim seen before in another notice) is dropped from its message by
`finalise`, and a message left with nothing to say is dropped with it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from watcher.models import (
    Alert,
    AlertKind,
    Change,
    Changed,
    Finding,
    Item,
    Match,
    Measure,
    RuleHit,
    describe_milestone,
)
from watcher.rules import RuleIndex
from watcher.text import split as split_sentences


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message for the outbox, with the item it is about and, for each of its changes, the
    dedup key of the finding behind it (the finding's id is known once it is recorded)."""

    alert: Alert
    item_key: str | None
    finding_keys: tuple[str, ...] = ()
    change: str = "new"  # the item's change: new or update
    quote: str = ""  # what to quote when none of its findings turns out new


def item_dedup_key(item: Item) -> str:
    key = hashlib.sha256(item.key.encode("utf-8")).hexdigest()[:20]
    return f"item|{item.source}|{key}|{item.content_hash[:12]}"


def route(
    changes: Sequence[Changed], matches: Mapping[str, Sequence[Match]], proposed: Mapping[str, Sequence[Finding]],
    measures: Sequence[Measure], rules: RuleIndex, default_channels: Sequence[str],
    quiet_before: dt.datetime | None = None,
) -> list[Outgoing]:  # fmt: skip
    """One message per channel for each new or changed item that a rule matched or whose
    findings change a measure. Items published before `quiet_before` (a first poll's backfill)
    are history: stored, never announced."""
    by_id = {m.id: m for m in measures}
    out: list[Outgoing] = []
    for change in changes:
        item = change.item
        if quiet_before and item.published and item.published < quiet_before:
            continue
        hits = _hits(change, matches.get(item.key, ()), rules)
        findings = [f for f in proposed.get(item.key, ()) if f.kind != "confirmed"]
        per_channel: dict[str, tuple[list[RuleHit], list[Finding]]] = {}
        for match, hit in hits:
            for channel in match.channels:
                per_channel.setdefault(channel, ([], []))[0].append(hit)
        for f in findings:
            measure = by_id.get(f.measure_id or "")
            if measure is None:
                continue  # a date no measure has: told beside the rule hits (`_unlinked`)
            for channel in measure.channels or default_channels:
                per_channel.setdefault(channel, ([], []))[1].append(f)
        unlinked = _unlinked([f for f in findings if f.measure_id not in by_id])
        for channel, (channel_hits, channel_findings) in per_channel.items():
            out.append(_message(change, channel, channel_hits, channel_findings, by_id, unlinked))
    return out


def _hits(change: Changed, matches: Sequence[Match], rules: RuleIndex) -> list[tuple[Match, RuleHit]]:
    """Each matching rule as told in the message; none for an update its source calls quiet
    (the same notice published again: only its findings are told). For an amended notice, a rule
    that matches the new text is told with what it matched there."""
    if change.kind == "update" and change.item.quiet_update:
        return []
    fresh = {m.rule: m for m in rules.match(_fresh_only(change))} if change.previous_text is not None else {}
    out = []
    for match in matches:
        again = fresh.get(match.rule)
        hit = match if again is None or not again.sentence else again
        out.append((match, RuleHit(match.rule, hit.matched, hit.sentence)))
    return out


def _message(
    change: Changed, channel: str, hits: list[RuleHit], findings: list[Finding], measures: Mapping[str, Measure],
    unlinked: str,
) -> Outgoing:  # fmt: skip
    item = change.item
    changes = tuple(_change(f, measures[f.measure_id or ""], item) for f in findings)
    kind = AlertKind.finding if changes else AlertKind.new if change.kind == "new" else AlertKind.update
    quote = _quote(change, hits)
    sentence = changes[0].evidence if changes else quote
    extra = {"deadlines": unlinked} if unlinked and hits else {}
    alert = Alert(
        dedup_key=item_dedup_key(item), channel=channel, kind=kind, source=item.source,
        title=item.title or item.link or item.key, link=item.link, rules=tuple(hits), changes=changes,
        sentence=sentence, published=item.published, extra=extra, origin="" if hits else "registry",
    )  # fmt: skip
    return Outgoing(alert, item.key, tuple(f.dedup_key for f in findings), change.kind, quote)


def _quote(change: Changed, hits: Sequence[RuleHit]) -> str:
    """What the message quotes first: for an amended notice, what is new in it (a new sentence a
    rule matched, else its first new sentence; nothing when it only lost text), else the first
    rule's sentence."""
    if change.kind == "update":
        fresh = fresh_sentences(change)
        matched = next((h.sentence for h in hits if h.sentence and any(h.sentence in f or f in h.sentence for f in fresh)), "")
        return matched or (" ".join(fresh[0].split())[:300] if fresh else "")
    return next((h.sentence for h in hits if h.sentence), "")


def _change(f: Finding, measure: Measure, item: Item) -> Change:
    note = ""
    if "on_display" in f.event.flags and item.published is not None:
        note = f"on display before publication on {item.published.date().isoformat()}"
    return Change(
        finding_id=0, kind=f.kind, measure_id=measure.id, measure=measure.title, new_kind=f.event.kind,
        new_date=f.event.date, old_kind=f.old_kind, old_date=f.old_date, evidence=f.event.evidence, note=note,
    )  # fmt: skip


def _unlinked(findings: Sequence[Finding]) -> str:
    """Deadlines in a rule-matched item that no measure has, for the message's body."""
    return "; ".join(dict.fromkeys(
        describe_milestone(f.event.kind, f.event.date)
        + (f" (which measure: {' or '.join(f.candidates)}? `watcher findings accept ID --measure …`)" if f.candidates else "")
        for f in findings
    ))  # fmt: skip


def finalise(message: Outgoing, recorded: Mapping[tuple[str, str], tuple[int, bool, bool]]) -> Alert | None:
    """The message once its findings are recorded ((item key, finding key) → (id, new, applied)): changes
    whose finding is not new are left out (told before, with the notice that first made the
    claim); None when nothing is left to tell."""
    if not message.finding_keys:
        return message.alert
    alert = message.alert
    kept = []
    for change, key in zip(alert.changes, message.finding_keys, strict=True):
        fid, new, applied = recorded.get((message.item_key or "", key), (0, False, False))
        if new:
            kept.append(replace(change, finding_id=fid, applied=applied))
    if not kept and not alert.rules:
        return None
    if len(kept) == len(alert.changes):
        return replace(alert, changes=tuple(kept))
    kind = alert.kind if kept else AlertKind.update if message.change == "update" else AlertKind.new
    sentence = kept[0].evidence if kept else message.quote
    return replace(alert, changes=tuple(kept), kind=kind, sentence=sentence)


def fresh_sentences(change: Changed) -> list[str]:
    """An amended notice's sentences that were not in it before."""
    previous = change.previous_text or ""
    text = change.item.text
    return [text[a:b] for a, b in split_sentences(text) if text[a:b] not in previous]


def _fresh_only(change: Changed) -> Item:
    """The amended notice reduced to its new sentences (the title too, when it changed)."""
    previous = change.previous_text or ""
    title = change.item.title if change.item.title and change.item.title not in previous else ""
    return replace(change.item, title=title, summary="", text="\n".join(fresh_sentences(change)))
