"""Small frozen types passed between the pipeline's stages.

sources → fetch (FetchResult) → parse (Item) → extract (Event) → match rules (Match)
→ reconcile (Finding) → route (Alert: one per item version and channel) → outbox → deliver
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


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

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (FetchResult, (self.url, self.status, self.body, self.headers, self.etag, self.last_modified,
                              self.body_hash, self.not_modified, self.unchanged, self.elapsed, self.final_url))  # fmt: skip


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
    # Deadlines the source states in structured fields (a Federal Register document's
    # `effective_on`): known without text extraction.
    events: tuple[Event, ...] = ()
    # Source-specific facts for reconciliation and display (document number, type, agencies…).
    extra: dict[str, str] = field(default_factory=dict)
    # An update that is the same notice again (the Federal Register's published version of a
    # public-inspection document): its findings are told, its rule matches are not told again.
    quiet_update: bool = False

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Items travel back from the parse workers by the thousand: a plain tuple of the fields
        # pickles and loads several times faster than a slotted dataclass's default state.
        return (Item, (self.source, self.key, self.title, self.link, self.published, self.summary,
                       self.text, self.content_hash, self.tags, self.events, self.extra, self.quiet_update))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Changed:
    """An item that is new (`kind="new"`) or whose content changed (`kind="update"`)."""

    item: Item
    kind: str
    previous_text: str | None = None  # an update's text before the change


@dataclass(frozen=True, slots=True)
class Match:
    """A watch rule matched an item: the text each phrase or regex matched, as written in the
    item, and the sentence around the first match."""

    rule: str
    matched: tuple[str, ...]
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
    # Doubts about the date, e.g. "before_publication": an effective date typed earlier than the
    # document's publication is kept but never treated as a new future deadline.
    flags: tuple[str, ...] = ()


EVENT_KINDS = (
    "effective",
    "comment_deadline",
    "compliance",
    "suspension",
    "expiry",
    "other_deadline",
)
# A measure's milestones: the extractor's kinds, plus the end of a suspension, which is a period
# of the measure (from its `suspension` milestone until this one), not an expiry of the measure:
# on that day the measure resumes unless the suspension is extended.
MILESTONE_KINDS = (*EVENT_KINDS, "suspension_end")


class AlertKind(StrEnum):
    """What a message is about."""

    new = "new"  # a new notice a rule matched
    update = "update"  # an amended notice
    finding = "finding"  # a notice that changes the deadline registry (with or without a rule)
    reminder = "reminder"  # a milestone is near
    health = "health"  # a source went blind or came back
    test = "test"  # `watcher notify-test`


class Status(StrEnum):
    """Where an alert, or one of its deliveries, stands in the outbox."""

    pending = "pending"  # to be sent (again): due at its next attempt
    sent = "sent"
    dead = "dead"  # given up (`watcher alerts retry` sends it again)


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One watch rule that matched the notice: its name, the text it matched (as written in the
    notice, never a raw regex) and the sentence quoted for it."""

    rule: str
    matched: tuple[str, ...] = ()
    sentence: str = ""


@dataclass(frozen=True, slots=True)
class Change:
    """One change a notice makes to the deadline registry (a finding), as the message tells it."""

    finding_id: int
    kind: str  # one of FINDING_KINDS
    measure_id: str | None
    measure: str  # the measure's title ("" when the finding names no measure)
    new_kind: str
    new_date: dt.date
    old_kind: str | None = None
    old_date: dt.date | None = None
    evidence: str = ""
    applied: bool = False  # applied at once (trusted source), else proposed
    note: str = ""  # e.g. "on display before publication on 2025-09-30"

    def text(self) -> str:
        """`effective 2025-12-01 → suspended until 2026-11-10`, `new: comments due 2025-12-01`."""
        told = change_text(self.kind, self.new_kind, self.new_date, self.old_kind, self.old_date)
        return f"{told} ({self.note})" if self.note else told

    def headline(self) -> str:
        """The change first, for a subject: `Suspended until 2026-11-10`, `Moved to 2026-01-05`."""
        new = describe_milestone(self.new_kind, self.new_date, suspended=self.kind == "suspended")
        if self.kind == "date_changed" and self.old_date is not None:
            new = f"{describe_milestone(self.new_kind, self.new_date)} (was {self.old_date.isoformat()})"
        elif self.kind == "new_deadline":
            new = f"new deadline: {new}"
        return new[:1].upper() + new[1:]


@dataclass(frozen=True, slots=True)
class Alert:
    """One message about one notice (or finding, reminder, health event) for one channel.

    Everything that happened to one item version goes into one message per channel: every rule
    that matched (with the text it matched) and every registry change it makes. `dedup_key`
    names the item version (`item|source|key hash|content hash`; reminders and health events
    have their own), and (`dedup_key`, `channel`) is unique in the outbox, so re-polls and
    restarts never enqueue twice. The outbox fans an alert out to one delivery per target URL.
    """

    dedup_key: str
    channel: str
    kind: str  # an AlertKind
    source: str
    title: str
    link: str
    rules: tuple[RuleHit, ...] = ()
    changes: tuple[Change, ...] = ()
    sentence: str = ""  # the evidence quoted first (a finding's sentence, else the first rule's)
    published: dt.datetime | None = None
    # Display facts beside the ones above, label → value (e.g. `deadlines`, `notice`, `finding`).
    extra: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # what made an alert without rules: `registry`, `reminders`, `health`, `test`

    @property
    def rule(self) -> str:
        """The rules' names (`a, b`), else the origin: a short label for tables and logs."""
        return ", ".join(r.rule for r in self.rules) or self.origin or self.kind

    @property
    def matched(self) -> tuple[str, ...]:
        """Every text the rules matched, in order, once each."""
        return tuple(dict.fromkeys(m for r in self.rules for m in r.matched))


@dataclass(frozen=True, slots=True)
class SourceOutcome:
    """What one poll of a source came to (`pipeline.run_source`)."""

    name: str
    status: str  # "fetched", "not_modified", "unchanged", "failed", "busy"
    items: int = 0
    new: int = 0
    updated: int = 0
    alerts: int = 0
    error: str | None = None
    reason: str | None = None
    elapsed: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"


MEASURE_STATUSES = ("announced", "in_force", "suspended", "revoked", "expired")
MILESTONE_STATES = ("active", "suspended", "superseded", "cancelled", "unconfirmed")  # unconfirmed: passed, nothing heard
FINDING_KINDS = ("new_deadline", "date_changed", "suspended", "extended", "revoked", "confirmed")


@dataclass(frozen=True, slots=True)
class Milestone:
    """One dated step of a measure. `uid` is stable across edits (the calendar's UID);
    `sequence` rises with every change (the calendar's SEQUENCE); `state` is `active`,
    `suspended` (held by a suspension), `superseded` (moved) or `cancelled` (revoked)."""

    kind: str
    date: dt.date
    time: str | None = None
    tz: str | None = None
    note: str = ""
    source: str = ""
    uid: str = ""
    sequence: int = 0
    state: str = "active"
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Measure:
    """A legal measure whose deadlines the registry tracks."""

    id: str
    title: str
    jurisdiction: str = ""
    authority: str = ""
    reference: str = ""
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    status: str = "announced"
    milestones: tuple[Milestone, ...] = ()
    channels: tuple[str, ...] | None = None
    source: str = ""  # where the measure itself was announced


@dataclass(frozen=True, slots=True)
class Finding:
    """What a notice says about the registry: a proposal until someone (or a trusted source) accepts it.

    `dedup_key` identifies the claim itself, not the notice that made it, so the same claim seen
    in the news and later in the official notice is one finding with two pieces of evidence."""

    kind: str
    dedup_key: str
    measure_id: str | None
    event: Event
    old_kind: str | None = None
    old_date: dt.date | None = None
    milestone_uid: str | None = None
    item_title: str = ""
    link: str = ""
    source: str = ""
    # A date no measure could be told for sure: the measures it may belong to (ask, don't guess).
    candidates: tuple[str, ...] = ()

    def change_text(self) -> str:
        """One line for people: `effective 2025-12-01 → suspended until 2026-11-10`."""
        return change_text(self.kind, self.event.kind, self.event.date, self.old_kind, self.old_date)


def change_text(kind: str, new_kind: str, new_date: dt.date, old_kind: str | None, old_date: dt.date | None) -> str:
    """A finding of `kind` in words: `effective 2025-12-01 → suspended until 2026-11-10`."""
    new = describe_milestone(new_kind, new_date, suspended=kind == "suspended")
    if old_date is None:
        return f"new: {new}"
    old = describe_milestone(old_kind or new_kind, old_date)
    return f"{old} (confirmed)" if kind == "confirmed" else f"{old} → {new}"


def describe_milestone(kind: str, day: dt.date, suspended: bool = False, long: bool = False) -> str:
    """`effective 2025-12-01`, `suspended from 2025-11-10`, `suspended until 2026-11-10`,
    `suspension ends 2026-11-10` (`long`: `…: the measure resumes unless the suspension is extended`)."""
    if kind == "suspension":
        return f"suspended from {day.isoformat()}"
    if kind == "suspension_end":
        if suspended:
            return f"suspended until {day.isoformat()}"
        end = f"suspension ends {day.isoformat()}"
        return f"{end}: the measure resumes unless the suspension is extended" if long else end
    if kind == "expiry":
        return f"{'suspended until' if suspended else 'expires'} {day.isoformat()}"
    if kind == "comment_deadline":
        return f"comments due {day.isoformat()}"
    return f"{kind.replace('_', ' ')} {day.isoformat()}"
