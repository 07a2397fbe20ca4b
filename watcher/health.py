"""Source health: when ops hear that a source has gone blind, and that it is back. Pure functions.

A source is in trouble when it has failed for longer than `health_after` (default 6 h), at once
when its page's structure stopped yielding notices (a redesign is not "no news"), or when it has
found nothing new for longer than `silent_after`. Ops get ONE alert when that starts and ONE when
it ends, on the `ops` channel if there is one, else `defaults.channels`. Exactly once holds by
construction: the dedup key names the source and the start of the episode
(`health|<source>|failing|<since>`), and the outbox refuses a second (dedup key, channel); the key
of the open episode is kept with the source's state so that its recovery is told once too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from watcher.models import Alert

RULE = "source-health"
OPS_CHANNEL = "ops"


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    failing_after: float  # seconds
    silent_after: float | None  # seconds, None: silence is fine
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The alerts to enqueue and the dedup key of the episode still open afterwards (None: healthy)."""

    alerts: tuple[Alert, ...]
    open_alert: str | None


def policy(settings: Any, source: Any) -> HealthPolicy:
    """The thresholds and channels for `source` (its own settings, else `defaults`)."""
    names = {c.name for c in settings.channels}
    channels = (OPS_CHANNEL,) if OPS_CHANNEL in names else tuple(settings.default_channels())
    failing = source.health_after if source.health_after is not None else settings.defaults.health_after
    silent = source.silent_after if source.silent_after is not None else settings.defaults.silent_after
    return HealthPolicy(failing, silent, channels)


def after_failure(
    source: Any, state: Any, now: dt.datetime, reason: str, error: str, rules: HealthPolicy
) -> Verdict:
    """A poll failed: open a `failing` episode once the streak is long enough, or at once for a
    structure change. `state` is the source's state before this poll (None on its first)."""
    open_alert = getattr(state, "health_alert", None)
    if open_alert and _kind(open_alert) == "failing":
        return Verdict((), open_alert)  # already told
    since = getattr(state, "failing_since", None) or now
    if reason != "structure" and (now - since).total_seconds() < rules.failing_after:
        return Verdict((), open_alert)
    key = f"health|{source.name}|failing|{_stamp(since)}"
    why = "its page no longer yields notices (structure changed)" if reason == "structure" else (
        f"failing since {_stamp(since)} ({reason})")  # fmt: skip
    title = f"Source {source.name} is blind: {why}"
    return Verdict(_alerts(key, source, title, error, now, rules, since, reason), key)


def after_success(source: Any, state: Any, now: dt.datetime, new_items: int, rules: HealthPolicy) -> Verdict:
    """A poll succeeded: close a `failing` episode (one recovery alert), and open or close a
    `silent` one."""
    open_alert = getattr(state, "health_alert", None)
    kind = _kind(open_alert) if open_alert else None
    if open_alert and (kind == "failing" or (kind == "silent" and new_items)):
        closed = open_alert.replace(f"|{kind}|", "|recovered|", 1)
        word = "works again" if kind == "failing" else "has news again"
        title = f"Source {source.name} {word}"
        return Verdict(_alerts(closed, source, title, title + ".", now, rules, None, "recovered"), None)
    last_new = getattr(state, "last_new_at", None)
    if kind is None and not new_items and rules.silent_after and last_new is not None:
        if (now - last_new).total_seconds() >= rules.silent_after:
            key = f"health|{source.name}|silent|{_stamp(last_new)}"
            title = f"Source {source.name} has found nothing new since {_stamp(last_new)}"
            why = f"No new notice for longer than expected ({rules.silent_after / 3600:g} h): check that it still publishes where watcher looks."
            return Verdict(_alerts(key, source, title, why, now, rules, last_new, "silent"), key)
    return Verdict((), open_alert)


def _alerts(
    key: str, source: Any, title: str, sentence: str, now: dt.datetime, rules: HealthPolicy,
    since: dt.datetime | None, reason: str,
) -> tuple[Alert, ...]:  # fmt: skip
    extra = {"source": source.name, "reason": reason}
    if since is not None:
        extra["since"] = _stamp(since)
    return tuple(
        Alert(dedup_key=key, channel=channel, kind="health", origin=RULE, source=source.name, title=title,
              link=source.url, sentence=sentence, published=now, extra=extra)  # fmt: skip
        for channel in rules.channels
    )


def _kind(key: str) -> str:
    parts = key.split("|")
    return parts[2] if len(parts) > 3 else ""


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
