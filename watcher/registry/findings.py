"""The pipeline's registry stage, pure: which changed items are worth extracting, and the findings
their deadlines propose against one snapshot of the measures. Recording and applying them is the
write transaction's part (`watcher.commit`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from watcher.models import Event, Finding, Item, Match, Measure
from watcher.registry.reconcile import link_measures, reconcile


def needs_events(item: Item, rule_matched: bool, measures: Sequence[Measure]) -> bool:
    """Whether the item's deadlines can make a finding: only when a rule matched it or it names a
    measure (see `reconcile`), so the extractor skips the rest of a feed."""
    return rule_matched or bool(item.events) or bool(link_measures(item, measures))


def wanted(items: Sequence[Item], matches: Mapping[str, Sequence[Match]], measures: Sequence[Measure]) -> list[Item]:
    """The items whose deadlines to extract (in a worker: `registry.events.items_events`)."""
    return [i for i in items if needs_events(i, bool(matches.get(i.key)), measures)]


def propose(
    items: Sequence[Item], events: Mapping[str, Sequence[Event]], measures: Sequence[Measure],
    matches: Mapping[str, Sequence[Match]],
) -> dict[str, list[Finding]]:  # fmt: skip
    """Findings per item key: each item's deadline events reconciled with the measures."""
    out: dict[str, list[Finding]] = {}
    for item in items:
        found = events.get(item.key)
        if found:
            findings = reconcile(item, list(found), list(measures), bool(matches.get(item.key)))
            if findings:
                out[item.key] = findings
    return out
