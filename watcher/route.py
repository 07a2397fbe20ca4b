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

from watcher.extract.sentences import split as split_sentences
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


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message for the outbox, with the item it is about and, for each of its changes, the
    dedup key of the finding behind it (the finding's id is known once it is recorded)."""

    alert: Alert
    item_key: str | None
    finding_keys: tuple[str, ...] = ()
    change: str = "new"  # the item's change: new or update


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
    (the same notice published again: only its findings are told)."""
    if change.kind == "update" and change.item.quiet_update:
        return []
    out = []
    for match in matches:
        sentence = match.sentence
        if change.previous_text is not None:
            sentence = _quote_what_changed(rules, change, match)
        out.append((match, RuleHit(match.rule, match.matched, sentence)))
    return out


def _message(
    change: Changed, channel: str, hits: list[RuleHit], findings: list[Finding], measures: Mapping[str, Measure],
    unlinked: str,
) -> Outgoing:  # fmt: skip
    item = change.item
    changes = tuple(_change(f, measures[f.measure_id or ""]) for f in findings)
    kind = AlertKind.finding if changes else AlertKind.new if change.kind == "new" else AlertKind.update
    sentence = changes[0].evidence if changes else next((h.sentence for h in hits if h.sentence), "")
    extra = {"deadlines": unlinked} if unlinked and hits else {}
    alert = Alert(
        dedup_key=item_dedup_key(item), channel=channel, kind=kind, source=item.source,
        title=item.title or item.link or item.key, link=item.link, rules=tuple(hits), changes=changes,
        sentence=sentence, published=item.published, extra=extra, origin="" if hits else "registry",
    )  # fmt: skip
    return Outgoing(alert, item.key, tuple(f.dedup_key for f in findings), change.kind)


def _change(f: Finding, measure: Measure) -> Change:
    return Change(
        finding_id=0, kind=f.kind, measure_id=measure.id, measure=measure.title, new_kind=f.event.kind,
        new_date=f.event.date, old_kind=f.old_kind, old_date=f.old_date, evidence=f.event.evidence,
    )  # fmt: skip


def _unlinked(findings: Sequence[Finding]) -> str:
    """Deadlines in a rule-matched item that no measure has, for the message's body."""
    return "; ".join(dict.fromkeys(describe_milestone(f.event.kind, f.event.date) for f in findings))


def finalise(message: Outgoing, recorded: Mapping[str, tuple[int, bool, bool]]) -> Alert | None:
    """The message once its findings are recorded (finding key → (id, new, applied)): changes
    whose finding is not new are left out (told before, with the notice that first made the
    claim); None when nothing is left to tell."""
    if not message.finding_keys:
        return message.alert
    alert = message.alert
    kept = []
    for change, key in zip(alert.changes, message.finding_keys, strict=True):
        fid, new, applied = recorded.get(key, (0, False, False))
        if new:
            kept.append(replace(change, finding_id=fid, applied=applied))
    if not kept and not alert.rules:
        return None
    if len(kept) == len(alert.changes):
        return replace(alert, changes=tuple(kept))
    kind = alert.kind if kept else AlertKind.update if message.change == "update" else AlertKind.new
    sentence = kept[0].evidence if kept else next((h.sentence for h in alert.rules if h.sentence), "")
    return replace(alert, changes=tuple(kept), kind=kind, sentence=sentence)


def _quote_what_changed(rules: RuleIndex, change: Changed, match: Match) -> str:
    """For an amended notice, quote a matching sentence that is new rather than one that was there."""
    previous = change.previous_text or ""
    if match.sentence and match.sentence not in previous:
        return match.sentence
    text = change.item.text
    fresh = [text[a:b] for a, b in split_sentences(text) if text[a:b] not in previous]
    if not fresh:
        return match.sentence
    probe = replace(change.item, title="", summary="", text="\n".join(fresh))
    for again in rules.match(probe):
        if again.rule == match.rule and again.sentence:
            return again.sentence
    return match.sentence
