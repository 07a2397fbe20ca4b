"""The registry as an iCalendar file (RFC 5545), for Outlook, Google Calendar and Thunderbird.

One VEVENT per milestone, including moved, suspended and cancelled ones: UID is the milestone's
stable uid and SEQUENCE the count of its changes (raised by `save_measure`), so a subscribed
calendar updates its event in place instead of adding a second one, and drops it when the
STATUS becomes CANCELLED (a suspended, superseded or cancelled milestone, or a revoked measure).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar

from watcher.models import Measure, Milestone, describe_milestone
from watcher.settings import Settings

PRODID = "-//watcher//deadline registry//EN"
CALNAME = "watcher deadlines"
UID_DOMAIN = "watcher"


def event_uid(milestone: Milestone) -> str:
    return f"{milestone.uid}@{UID_DOMAIN}"


def is_cancelled(measure: Measure, milestone: Milestone) -> bool:
    """Events calendars should drop: milestones no longer standing, or of a revoked measure."""
    return milestone.state not in ("active", "unconfirmed") or measure.status == "revoked"


def _start(ms: Milestone) -> dt.date | dt.datetime:
    if not ms.time:
        return ms.date
    try:
        zone = ZoneInfo(ms.tz) if ms.tz else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None  # a zone label no calendar knows: a floating local time is the honest choice
    return dt.datetime.combine(ms.date, dt.time.fromisoformat(ms.time), zone)


def _description(measure: Measure, ms: Milestone) -> str:
    lines = [ms.note] if ms.note else []
    if measure.reference:
        lines.append(f"Reference: {measure.reference}")
    status = f"Status: {measure.status}" + (
        f" (this milestone: {ms.state})" if ms.state != "active" else ""
    )
    lines += [status, f"Measure: {measure.id}"]
    link = ms.source or measure.source
    if link:
        lines.append(f"Source: {link}")
    return "\n".join(lines)


def milestone_event(measure: Measure, ms: Milestone, stamp: dt.datetime) -> icalendar.Event:
    """The VEVENT of one milestone: all-day when it has no time, else timed in its zone."""
    event = icalendar.Event()
    event.add("uid", event_uid(ms))
    event.add("sequence", ms.sequence)
    event.add("dtstamp", stamp)
    start = _start(ms)
    event.add("dtstart", start)
    if not isinstance(start, dt.datetime):
        event.add("dtend", start + dt.timedelta(days=1))  # all-day: one day, end exclusive
    event.add("summary", f"{measure.title}: {describe_milestone(ms.kind, ms.date)}")
    event.add("description", _description(measure, ms))
    link = ms.source or measure.source
    if link:
        event.add("url", link)
    if measure.tags:
        event.add("categories", list(measure.tags))
    # A date that passed with nothing heard stays in calendars, marked tentative.
    event.add("status", "CANCELLED" if is_cancelled(measure, ms) else "TENTATIVE" if ms.state == "unconfirmed" else "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
    if not is_cancelled(measure, ms):
        alarm = icalendar.Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{measure.title}: {describe_milestone(ms.kind, ms.date, long=True)}")
        alarm.add("trigger", dt.timedelta(days=-1))
        event.add_component(alarm)
    return event


def build_ics(measures: Sequence[Measure], now: dt.datetime | None = None) -> bytes:
    """The iCalendar file of every milestone of `measures`, with the VTIMEZONEs its events use."""
    stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", CALNAME)
    for measure in measures:
        for ms in measure.milestones:
            cal.add_component(milestone_event(measure, ms, stamp))
    cal.add_missing_timezones()
    return cal.to_ical()


def export_ics(settings: Settings, path: str | os.PathLike[str]) -> int:
    """Write the registry's calendar to `path` (atomically); returns the number of events."""
    from watcher.db import registry as registry_db
    from watcher.registry.admin import session_for

    with session_for(settings, sync=True) as session:
        measures = registry_db.get_measures(session)
    data = build_ics(measures)
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return sum(len(m.milestones) for m in measures)
