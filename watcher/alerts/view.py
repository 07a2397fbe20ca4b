"""What a message says, before any format: the subject line and a `View` of the body's parts.

Every format renders the same `View`, so the text, chat and e-mail bodies never disagree about
which rules matched, what they matched or what changed.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from urllib.parse import urlsplit

from watcher.models import Alert, AlertKind, Change
from watcher.text import one_line, shown_time, utc_iso

# Slack's header block takes at most 150 characters; the subject stays under it, whole.
SUBJECT_MAX = 149
ELLIPSIS = "…"
UNTITLED = "(untitled notice)"

# The first words of a subject and of a body, per kind of message.
HEADLINES = {
    AlertKind.new: "New notice",
    AlertKind.update: "Updated notice",
    AlertKind.finding: "Deadline change",
    AlertKind.reminder: "Reminder",
    AlertKind.health: "Source health",
    AlertKind.test: "Test",
}
# `extra` keys shown first, in this order; the rest follow sorted by name.
PROMINENT = ("deadlines", "measure", "milestone", "change", "notice", "finding")
# `extra` keys an alert with `changes` already says better (a pipeline may still set them).
SAID_BY_CHANGES = ("measure", "change", "finding")
# Kinds whose sentence is watcher's own words, not evidence quoted from a notice.
OWN_WORDS = (AlertKind.health, AlertKind.test)



@dataclass(frozen=True, slots=True)
class RuleLine:
    name: str
    matched: tuple[str, ...]
    sentence: str  # "" when it is the quote already shown


@dataclass(frozen=True, slots=True)
class ChangeLine:
    measure: str  # "" when the finding names no measure
    text: str  # `effective 2025-12-01 → suspended until 2026-11-10`
    status: str  # `finding #12 proposed:` (then `command`), or `finding #12 applied …`
    command: str  # `watcher findings accept 12`, "" when applied
    evidence: str  # "" when it is the quote already shown


@dataclass(frozen=True, slots=True)
class View:
    """The parts of a message body, one-lined and in reading order (unescaped)."""

    headline: str  # "New notice", "Updated notice", "Deadline change", …
    title: str  # the notice's title ("(untitled notice)" when it has none)
    title_in_subject: bool  # the subject already shows the whole title
    link: str | None  # http(s) only
    changes: tuple[ChangeLine, ...]
    note: str  # watcher's own words (health, test), shown as they are
    quote_label: str  # "What changed" for an amended notice, else ""
    quote: str  # evidence quoted from the notice
    rules: tuple[RuleLine, ...]
    extras: tuple[tuple[str, str], ...]  # (label, value) of `extra`, prominent keys first
    source: str
    published: str | None  # with its zone (`2025-11-07 00:00 Asia/Shanghai`), else UTC ISO 8601

    def facts(self, link: bool = True) -> list[tuple[str, str]]:
        """The small print, in reading order: extras, link, source, published."""
        facts = list(self.extras)
        if link and self.link:
            facts.append(("Link", self.link))
        facts.append(("Source", self.source))
        if self.published:
            facts.append(("Published", self.published))
        return facts


def is_update(alert: Alert) -> bool:
    return alert.kind == AlertKind.update or str(alert.kind).startswith("update:")


def headline(alert: Alert) -> str:
    if is_update(alert):
        return HEADLINES[AlertKind.update]
    return HEADLINES.get(alert.kind, HEADLINES[AlertKind.new])  # type: ignore[call-overload]


def subject(alert: Alert) -> str:
    """The change first, whole and under 150 characters, on one line.

    `Suspended until 2026-11-10: MOFCOM rare-earth export controls (No. 61) (+2 more)` for an
    alert with registry changes; else `New notice: …`, `Updated notice: …`, `Reminder: …`. Only
    the measure or notice title is ever shortened (with an ellipsis), never the change.
    """
    if alert.changes:
        first = alert.changes[0]
        lead = one_line(first.headline())
        name = one_line(first.measure) or one_line(alert.title) or UNTITLED
        more = f" (+{len(alert.changes) - 1} more)" if len(alert.changes) > 1 else ""
    else:
        lead, name, more = headline(alert), one_line(alert.title) or UNTITLED, ""
    return _fit(f"{lead}: ", name, more)


def _fit(prefix: str, name: str, suffix: str) -> str:
    name = _cut(name, SUBJECT_MAX - _width(prefix) - _width(suffix))
    text = prefix + name + suffix if name else prefix.rstrip(": ") + suffix
    return _cut(text, SUBJECT_MAX)


def _cut(text: str, room: int) -> str:
    """`text`, or as much of it as fits in `room` followed by an ellipsis."""
    if _width(text) <= room:
        return text
    text = text[: max(room - 1, 0)]
    while text and _width(text) + 1 > room:
        text = text[:-1]
    # At a word's end when one is near (not in CJK text, which has no spaces).
    space = text.rfind(" ")
    if space > len(text) * 2 // 3:
        text = text[:space]
    return text.rstrip(" ,;:-") + ELLIPSIS if text else ""


def _width(text: str) -> int:
    # Apprise's Slack plugin posts the subject as its header entity-escaped (`&` as `&amp;`), and
    # Slack refuses a header over 150 characters: count the escaped length.
    return len(html.escape(text, quote=False))


def safe_link(link: str | None) -> str | None:
    """`link` when it is an absolute http(s) URL, else None (no javascript:, data:, …)."""
    link = (link or "").strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(c.isspace() or ord(c) < 32 for c in link):
        return None
    return link


def published_utc(alert: Alert) -> str | None:
    """The published time in UTC, ISO 8601 (`2025-11-10T14:30:00Z`); naive times are taken as UTC."""
    return utc_iso(alert.published) if alert.published is not None else None


def published_shown(alert: Alert) -> str | None:
    """The published time for people, in the zone the source publishes in when it is known
    (`2025-11-07 00:00 Asia/Shanghai`: a MOFCOM notice's day, not the UTC day before), else UTC."""
    return shown_time(alert.published) if alert.published is not None else None


def view(alert: Alert) -> View:
    """The body's parts for `alert`: what changed, the quote, the rules, then the facts."""
    title = one_line(alert.title) or UNTITLED
    if alert.kind in OWN_WORDS:
        note, quote = one_line(alert.sentence), ""
    else:
        note, quote = "", _quote(alert)
    rules = tuple(
        RuleLine(
            one_line(r.rule),
            tuple(one_line(m) for m in r.matched if one_line(m)),
            "" if one_line(r.sentence) == quote else one_line(r.sentence),
        )
        for r in alert.rules
    )
    return View(
        headline=headline(alert),
        title=title,
        title_in_subject=title in subject(alert),
        link=safe_link(alert.link),
        changes=tuple(change_line(c, quote) for c in alert.changes),
        note=note,
        quote_label="What changed" if is_update(alert) and quote else "",
        quote=quote,
        rules=rules,
        extras=_extras(alert),
        source=one_line(alert.source),
        published=published_shown(alert),
    )


def _quote(alert: Alert) -> str:
    """The evidence quoted first: the alert's sentence, else the first rule's."""
    return one_line(alert.sentence) or next(
        (one_line(r.sentence) for r in alert.rules if one_line(r.sentence)), ""
    )


def change_line(change: Change, quote: str = "") -> ChangeLine:
    if change.applied:
        status, command = f"finding #{change.finding_id} applied to the registry", ""
    else:
        status = f"finding #{change.finding_id} proposed:"
        command = f"watcher findings accept {change.finding_id}"
    evidence = one_line(change.evidence)
    return ChangeLine(
        measure=one_line(change.measure),
        text=one_line(change.text()),
        status=status,
        command=command,
        evidence="" if evidence == quote else evidence,
    )


def _extras(alert: Alert) -> tuple[tuple[str, str], ...]:
    """(label, value) of `extra`, prominent keys first, the rest sorted; empty values left out."""
    hidden = set(SAID_BY_CHANGES if alert.changes else ())
    if one_line(alert.extra.get("source")) == one_line(alert.source):
        hidden.add("source")  # shown as the Source fact anyway
    shown = {k: one_line(v) for k, v in alert.extra.items() if k not in hidden and one_line(v)}
    keys = [k for k in PROMINENT if k in shown] + sorted(k for k in shown if k not in PROMINENT)
    return tuple((k.replace("_", " ").capitalize(), shown[k]) for k in keys)
