"""Reminders before each upcoming milestone: once per offset (default 30, 7, 1 and 0 days), at
`reminders.at` in the milestone's own zone, delivered through the outbox.

`due_reminders()` is pure: which reminder each active milestone is owed at `now`. After downtime
only the most urgent due offset is sent, never a burst of stale ones. The dedup key names the
milestone's uid, its date and the offset, so the outbox sends each one exactly once across runs
and replicas, and a milestone that moves gets fresh reminders while its old date's never fire.
Suspended, superseded and cancelled milestones, and those of revoked or expired measures, get none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy.orm import Session

from watcher import settings as settings_mod
from watcher.db import outbox
from watcher.db import registry as registry_db
from watcher.models import Alert, Measure, Milestone, describe_milestone

log = structlog.get_logger("watcher.reminders")
RULE = "reminder"
SOURCE = "registry"


@dataclass(frozen=True, slots=True)
class Reminder:
    """The reminder a milestone is owed: its offset (days before), when it fell due (UTC) and how
    many days are really left in the milestone's zone (less than `offset` after downtime)."""

    measure: Measure
    milestone: Milestone
    offset: int
    due_at: dt.datetime
    days_left: int

    @property
    def dedup_key(self) -> str:
        return f"reminder|{self.milestone.uid}|{self.milestone.date.isoformat()}|{self.offset}"


def milestone_zone(milestone: Milestone, reminders: settings_mod.Reminders) -> ZoneInfo:
    """The milestone's zone, else `reminders.tz`; a label that is no IANA zone falls back too."""
    for name in (milestone.tz, reminders.tz):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                log.warning("reminder.unknown_zone", milestone=milestone.uid, tz=name)
    return ZoneInfo("UTC")


def due_reminders(
    pairs: Sequence[tuple[Measure, Milestone]], now: dt.datetime, reminders: settings_mod.Reminders
) -> list[Reminder]:
    """At most one reminder per active milestone: the smallest offset whose moment (`at` on
    milestone date − offset, local time) has passed, as long as the milestone's day has not."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    at = dt.time.fromisoformat(reminders.at)
    out = []
    for measure, ms in pairs:
        if ms.state != "active" or measure.status in ("revoked", "expired") or not ms.uid:
            continue
        zone = milestone_zone(ms, reminders)
        local_now = now.astimezone(zone)
        if local_now.date() > ms.date:
            continue  # the day is over: a late reminder would be noise
        due = [
            (d, moment)
            for d in reminders.offsets
            if d >= 0
            and (moment := dt.datetime.combine(ms.date - dt.timedelta(days=d), at, zone))
            <= local_now
        ]
        if not due:
            continue
        offset, moment = min(due)
        days_left = (ms.date - local_now.date()).days
        out.append(Reminder(measure, ms, offset, moment.astimezone(dt.UTC), days_left))
    return out


def when_text(days_left: int) -> str:
    """`Today`, `Tomorrow`, `In 7 days`."""
    return "Today" if days_left <= 0 else "Tomorrow" if days_left == 1 else f"In {days_left} days"


def milestone_text(ms: Milestone) -> str:
    """`effective 2025-12-01 00:01 America/New_York`."""
    return " ".join(p for p in (describe_milestone(ms.kind, ms.date, long=True), ms.time, ms.tz) if p)


def reminder_alerts(reminders: Sequence[Reminder], settings: settings_mod.Settings) -> list[Alert]:
    """One alert per reminder per channel: the measure's channels, else `defaults.channels`."""
    alerts = []
    for r in reminders:
        m, ms = r.measure, r.milestone
        channels = list(m.channels) if m.channels else settings.default_channels()
        extra = {
            "measure": f"{m.title} ({m.id})",
            "milestone": milestone_text(ms),
            "reference": m.reference,
        }
        title = f"{when_text(r.days_left)}: {m.title} — {describe_milestone(ms.kind, ms.date)}"
        alerts.extend(
            Alert(dedup_key=r.dedup_key, channel=channel, kind="reminder", origin=RULE, source=SOURCE, title=title,
                  link=ms.source or m.source, sentence=ms.note, extra=extra)
            for channel in channels
        )  # fmt: skip
    return alerts


def pending_reminders(
    session: Session, settings: settings_mod.Settings, now: dt.datetime
) -> list[Reminder]:
    """The reminders due at `now` for the registry's active milestones (sent or not)."""
    offsets = settings.reminders.offsets or [0]
    # A day of margin each side: the milestone's zone may be ahead of or behind UTC.
    start = now.date() - dt.timedelta(days=1)
    end = now.date() + dt.timedelta(days=max(offsets) + 1)
    return due_reminders(
        registry_db.upcoming_milestones(session, start, end), now, settings.reminders
    )


def send_reminders(
    session: Session, settings: settings_mod.Settings, now: dt.datetime, targets: outbox.Targets | None = None
) -> int:
    """Enqueue the reminders due at `now` in the caller's transaction, with a delivery per target
    of each channel (`targets`); returns how many alerts were new (the outbox's unique
    (dedup key, channel) drops those enqueued before)."""
    return len(enqueue_reminders(session, settings, now, targets or {}))


def enqueue_reminders(
    session: Session, settings: settings_mod.Settings, now: dt.datetime, targets: outbox.Targets
) -> list[Alert]:
    """Like `send_reminders`, but returns the alerts that were new in the outbox."""
    if not settings.reminders.enabled:
        return []
    new = []
    for alert in reminder_alerts(pending_reminders(session, settings, now), settings):
        if outbox.enqueue(session, [(alert, None)], targets, now):  # one by one: to know which were new
            new.append(alert)
            log.info("reminder.enqueued", alert=alert.dedup_key, channel=alert.channel)
    return new


def run_reminders(
    settings: settings_mod.Settings, now: dt.datetime, dry_run: bool = False, targets: outbox.Targets | None = None
) -> list[Alert]:
    """`watcher reminders`: apply the registry file (as `watcher run` does at start), then enqueue
    what is due; with `dry_run` roll both back and only tell what would have been enqueued."""
    from watcher.db.engine import make_engine, sessions, upgrade

    engine = make_engine(settings.database)
    try:
        upgrade(engine)
        with sessions(engine)() as session:
            session.begin()
            if settings.registry:
                registry_db.import_measures(session, settings.measures, f"file:{settings.registry}",
                                         dt.datetime.now(dt.UTC))  # fmt: skip
            new = enqueue_reminders(session, settings, now, targets or {})
            new += tell_passed(session, settings, now, targets or {})
            if dry_run:
                session.rollback()
            else:
                session.commit()
            return new
    finally:
        engine.dispose()


# --- milestones that passed with nothing heard ------------------------------------------------

# A notice about a milestone from this long before its date on counts as hearing about it.
HEARD_WINDOW = dt.timedelta(days=7)


def passed_unconfirmed(
    measures: Sequence[Measure], heard: dict[str, dt.date], known: dict[str, dt.date], now: dt.datetime,
    reminders: settings_mod.Reminders,
) -> list[tuple[Measure, Milestone]]:  # fmt: skip
    """Pure: active milestones whose day is over (in their zone) with no finding about them
    (`heard`: milestone uid → date of the latest finding about it) since shortly before it. Only
    milestones watcher knew before their day (`known`: uid → date it entered the registry): a
    registry imported today says nothing new about dates long past."""
    out = []
    for m in measures:
        if m.status in ("revoked", "expired"):
            continue
        for ms in m.milestones:
            if ms.state != "active" or not ms.uid:
                continue
            if now.astimezone(milestone_zone(ms, reminders)).date() <= ms.date or known.get(ms.uid, ms.date) >= ms.date:
                continue
            last = heard.get(ms.uid)
            if last is None or last < ms.date - HEARD_WINDOW:
                out.append((m, ms))
    return out


def tell_passed(
    session: Session, settings: settings_mod.Settings, now: dt.datetime, targets: outbox.Targets | None = None
) -> list[Alert]:
    """Mark each milestone that passed unconfirmed (state `unconfirmed`, with history) and tell
    the measure's channels once: a suspension's end passing silently is the case that matters
    (did the measure resume, or was the suspension extended?). Returns the alerts that were new."""
    measures = registry_db.get_measures(session)
    heard = registry_db.latest_findings_by_milestone(session)
    known = registry_db.milestones_known_since(session)
    told: list[Alert] = []
    for m, ms in passed_unconfirmed(measures, heard, known, now, settings.reminders):
        updated = replace(m, milestones=tuple(replace(x, state="unconfirmed") if x.uid == ms.uid else x
                                              for x in m.milestones))  # fmt: skip
        registry_db.save_measure(session, updated, actor="watcher", action="passed_unconfirmed", now=now,
                                 evidence=f"{describe_milestone(ms.kind, ms.date)} passed; no notice seen since")  # fmt: skip
        alerts = [_passed_alert(m, ms, channel) for channel in (m.channels or settings.default_channels())]
        told += [a for a in alerts if outbox.enqueue(session, [(a, None)], targets or {}, now)]
        log.info("milestone.passed_unconfirmed", measure=m.id, milestone=ms.uid, date=ms.date.isoformat())
    return told


def _passed_alert(m: Measure, ms: Milestone, channel: str) -> Alert:
    what = describe_milestone(ms.kind, ms.date)
    if ms.kind == "suspension_end":
        ask = "Did the measure resume, or was the suspension extended? No notice about it has been seen."
    else:
        ask = "Did it take place as planned, or was it moved? No notice about it has been seen."
    return Alert(
        dedup_key=f"passed|{ms.uid}|{ms.date.isoformat()}", channel=channel, kind="reminder", origin=RULE,
        source=SOURCE, title=f"Passed, unconfirmed: {m.title} — {what}", link=ms.source or m.source, sentence=ask,
        extra={"measure": f"{m.title} ({m.id})", "milestone": milestone_text(ms), "reference": m.reference},
    )  # fmt: skip
