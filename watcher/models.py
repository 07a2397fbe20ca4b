"""Small frozen types passed between the pipeline's stages.

sources → fetch (FetchResult) → parse (Item) → extract (Event) → match rules (Match)
→ reconcile (Finding) → route (Alert) → outbox → deliver
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one conditional GET of a source produced.

    `not_modified` is True on a 304 (then `body` is empty); `unchanged` is True when the body's
    hash equals the one seen last time (the caller skips parsing in both cases).
    """

    url: str
    status: int
    body: bytes
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None
    body_hash: str
    not_modified: bool = False
    unchanged: bool = False
    elapsed: float = 0.0
    final_url: str | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One notice (a feed entry, a list-page article, a Federal Register document)."""

    source: str
    key: str
    title: str
    link: str
    published: dt.datetime | None
    summary: str
    text: str
    content_hash: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Match:
    """A watch rule matched an item: which phrases, and the sentence around the first match."""

    rule: str
    phrases: tuple[str, ...]
    sentence: str
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Event:
    """A deadline found in a text: an ISO date, one of `EVENT_KINDS`, the evidence sentence."""

    date: dt.date
    kind: str
    evidence: str
    confidence: float
    time: str | None = None  # "00:01" when the text gives a time of day
    tz: str | None = None  # an IANA zone or the text's own label, e.g. "America/New_York"


EVENT_KINDS = (
    "effective",
    "comment_deadline",
    "compliance",
    "suspension",
    "expiry",
    "other_deadline",
)


@dataclass(frozen=True, slots=True)
class Alert:
    """A message waiting in the outbox for one channel.

    `dedup_key` is `rule|source|item key|kind` (kind `new`, or `update:<content hash>`); the pair
    (`dedup_key`, `channel`) is unique in the database, so re-runs never enqueue twice.
    """

    dedup_key: str
    channel: str
    kind: str
    rule: str
    source: str
    title: str
    link: str
    phrases: tuple[str, ...] = ()
    sentence: str = ""
    published: dt.datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)
