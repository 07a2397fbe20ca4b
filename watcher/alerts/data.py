"""The structured body of a JSON webhook: every field of an alert, JSON-able, beside apprise's
title and message."""

from __future__ import annotations

from typing import Any

from watcher.alerts.view import published_utc, safe_link, subject
from watcher.models import Alert, Change
from watcher.text import zone_name


def structured(alert: Alert, delivery_id: str) -> dict[str, Any]:
    """Every field of `alert` as plain JSON values (dates as ISO strings, missing ones as None),
    with the `delivery_id` a receiver uses to drop a repeat of the same delivery."""
    return {
        "delivery_id": delivery_id,
        "dedup_key": alert.dedup_key,
        "channel": alert.channel,
        "kind": str(alert.kind),
        "subject": subject(alert),
        "title": alert.title,
        "link": safe_link(alert.link),
        "source": alert.source,
        "published": published_utc(alert),
        "published_tz": zone_name(alert.published),  # the zone the source publishes in, if known
        "sentence": alert.sentence,
        "rules": [
            {"rule": r.rule, "matched": list(r.matched), "sentence": r.sentence}
            for r in alert.rules
        ],
        "changes": [_change(c) for c in alert.changes],
        "extra": {str(k): str(v) for k, v in alert.extra.items()},
        "origin": alert.origin or None,
    }


def _change(c: Change) -> dict[str, Any]:
    return {
        "finding_id": c.finding_id,
        "kind": c.kind,
        "measure_id": c.measure_id,
        "measure": c.measure,
        "old_kind": c.old_kind,
        "old_date": c.old_date.isoformat() if c.old_date else None,
        "new_kind": c.new_kind,
        "new_date": c.new_date.isoformat(),
        "applied": c.applied,
        "evidence": c.evidence,
        "text": c.text(),
    }
