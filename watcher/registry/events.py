"""The deadline events of an item: the structured ones its source gave plus those the extractor
finds in its text. Pure and light (no database code), so it also runs in the parse workers."""

from __future__ import annotations

from watcher.extract import extract_deadlines
from watcher.models import Event, Item


def item_events(item: Item) -> list[Event]:
    """Structured events a source gave (e.g. Federal Register dates) plus those found in the text."""
    given = list(getattr(item, "events", ()) or ())
    text = "\n".join(dict.fromkeys(p for p in (item.title, item.summary, item.text) if p))
    published = item.published.date() if item.published else None
    found = extract_deadlines(text, published)
    have = {(e.date, e.kind) for e in given}
    return given + [e for e in found if (e.date, e.kind) not in have]


def items_events(items: list[Item]) -> list[list[Event]]:
    """`item_events` of each item, in one call (one trip to a worker process for a whole feed)."""
    return [item_events(item) for item in items]
