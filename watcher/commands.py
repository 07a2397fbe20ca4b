"""What the CLI commands do, kept out of cli.py so that it stays argument parsing and printing."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from watcher.deliver import DeliveryReport, deliver_due
from watcher.models import SourceOutcome
from watcher.pipeline import run_source
from watcher.runtime import Context, build_context, close_context
from watcher.settings import Settings


class UsageError(Exception):
    """A command asked for something that is not there (`alerts retry 999`): exit status 2."""

    @property
    def message(self) -> str:
        return str(self.args[0])


async def poll_once(
    settings: Settings, names: Sequence[str], progress: bool = False
) -> tuple[list[SourceOutcome], DeliveryReport]:
    """Poll the chosen (else every enabled) source now, then deliver what is due."""
    from watcher.db import repo

    chosen = [s for s in settings.sources if (s.name in names if names else s.enabled)]
    # Parsing runs in threads, as in the service: worker processes (`fetch.parse_workers: N`)
    # make a cold poll of many sources faster on several cores, at ≈30-40 MB each, and a poll
    # must stay within 150 MB over all its processes.
    ctx = await build_context(settings, parse_workers=settings.fetch.parse_workers or 0)
    try:
        lease = max(settings.defaults.timeout, 30.0) * 2 + 60

        claimed = await ctx.db.write(repo.claim_for_poll, [s.name for s in chosen], ctx.owner, ctx.clock(), lease)
        busy = [SourceOutcome(s.name, "busy", error="polled by another process right now") for s in chosen if s.name not in claimed]
        outcomes = await _run_all(ctx, [(s, claimed[s.name]) for s in chosen if s.name in claimed], progress)
        report = await deliver_due(ctx)
        return outcomes + busy, report
    finally:
        await close_context(ctx)


async def _run_all(ctx: Context, chosen: list[tuple[Any, Any]], progress: bool) -> list[SourceOutcome]:
    """Run every (source, stored state) pair concurrently; the fetcher bounds the connections."""
    if not progress or not chosen:
        return list(await asyncio.gather(*(run_source(ctx, s, state) for s, state in chosen)))
    from rich.progress import Progress

    with Progress(transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("polling", total=len(chosen))

        async def one(source: Any, state: Any) -> SourceOutcome:
            outcome = await run_source(ctx, source, state)
            bar.advance(task)
            return outcome

        return list(await asyncio.gather(*(one(s, state) for s, state in chosen)))


def _count(n: int, noun: str) -> str:
    """`1 source`, `2 sources`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _console() -> Console:
    # Piped output is read by people too: don't squeeze tables into 80 columns there.
    return Console() if sys.stdout.isatty() else Console(width=200)


def _table(title: str, columns: Sequence[str], right: Sequence[str] = ()) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in right else "left", overflow="fold")
    return table


def print_poll_summary(outcomes: list[SourceOutcome], report: DeliveryReport, as_json: bool) -> None:
    if as_json:
        data = {
            "sources": [dataclasses.asdict(o) for o in outcomes],
            "delivery": {"sent": report.sent, "retrying": report.retrying, "dead": report.dead, "errors": report.errors},
        }
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return
    numbers = ("items", "new", "updated", "alerts", "time")
    table = _table("Poll", ("source", "status", *numbers, "error"), right=numbers)
    for o in outcomes:
        table.add_row(
            o.name, o.status, str(o.items), str(o.new), str(o.updated), str(o.alerts), f"{o.elapsed:.2f}s",
            f"{o.reason}: {o.error}" if o.error and o.reason else (o.error or ""),
        )  # fmt: skip
    console = _console()
    console.print(table)
    failed = sum(1 for o in outcomes if not o.ok)
    console.print(
        f"{_count(len(outcomes), 'source')}, {failed} failed; {_count(sum(o.new for o in outcomes), 'new item')}, "
        f"{_count(sum(o.alerts for o in outcomes), 'alert')} queued; delivered {report.sent}, "
        f"retrying {report.retrying}, dead {report.dead}",
        highlight=False,
    )
    for line in report.errors:
        console.print(f"  {line}", highlight=False, markup=False)


def check_channels(settings: Settings) -> list[str]:
    """Every channel URL must be one apprise understands (and, unless allowed, public)."""
    from watcher.channels import check_channel_url, redact
    from watcher.errors import DeliveryError, FetchError

    problems = []
    for i, channel in enumerate(settings.channels):
        for j, url in enumerate(channel.urls()):
            try:
                check_channel_url(url, settings.allow_private_networks)
            except (DeliveryError, FetchError) as exc:
                where = f"channels[{i}].url" + (f"[{j}]" if isinstance(channel.url, list) else "")
                problems.append(f"{settings.path}: {where}: {exc.message} ({redact(url)})")
    return problems


def send_test(settings: Settings, channel_name: str) -> str | None:
    from watcher import channels
    from watcher.errors import DeliveryError
    from watcher.models import Alert

    now = dt.datetime.now(dt.UTC)
    alert = Alert(
        dedup_key=f"test|{now.isoformat()}", channel=channel_name, kind="test", origin="notify-test", source="watcher",
        title="watcher test message", link="https://example.com/watcher-test",
        sentence="If you can read this, watcher can reach this channel.", published=now,
    )  # fmt: skip
    try:
        channels.send(settings.channel(channel_name), alert, allow_private=settings.allow_private_networks,
                      timeout=settings.delivery.timeout)  # fmt: skip
    except DeliveryError as exc:
        return exc.message
    return None


def _ago(when: dt.datetime | None) -> str:
    if when is None:
        return "never"
    seconds = (dt.datetime.now(dt.UTC) - when).total_seconds()
    future = seconds < 0
    seconds = abs(seconds)
    text = f"{seconds:.0f}s" if seconds < 90 else f"{seconds / 60:.0f}m" if seconds < 5400 else f"{seconds / 3600:.1f}h"
    return f"in {text}" if future else f"{text} ago"


def print_sources(settings: Settings, as_json: bool) -> None:
    from watcher.db import repo
    from watcher.db.engine import make_engine, sessions, upgrade

    engine = make_engine(settings.database)
    upgrade(engine)
    with sessions(engine)() as session:
        health = repo.source_health(session)
    rows = []
    for s in settings.sources:
        h = health.get(s.name)
        rows.append({
            "name": s.name, "kind": s.kind, "url": s.url, "interval": settings.source_interval(s), "tags": list(s.tags),
            "enabled": s.enabled, "last_success": h.last_success_at if h else None,
            "last_error": h.last_error if h else None, "reason": h.last_error_reason if h else None,
            "failures": h.consecutive_failures if h else 0, "next_due": h.next_due_at if h else None,
            "items": h.items_total if h else 0, "ops_alert": h.health_alert if h else None,
        })  # fmt: skip
    if as_json:
        print(json.dumps(rows, default=str, ensure_ascii=False, indent=2))
        return
    columns = ("name", "kind", "interval", "tags", "health", "last success", "failures", "next poll", "items", "last error")
    table = _table("Sources", columns, right=("failures", "items"))
    for r in rows:
        health_word = "new" if r["last_success"] is None and not r["failures"] else "failing" if r["failures"] else "ok"
        if r["ops_alert"]:  # ops were told: failing past its threshold, layout changed, or silent
            health_word = "blind" if "|failing|" in r["ops_alert"] else "silent"
        table.add_row(
            r["name"], r["kind"], f"{r['interval'] / 60:g}m", ",".join(r["tags"]), health_word, _ago(r["last_success"]),
            str(r["failures"]), _ago(r["next_due"]), str(r["items"]), f"{r['reason']}: {r['last_error']}" if r["last_error"] else "",
        )  # fmt: skip
    _console().print(table)


def print_alerts(settings: Settings, status: str | None, limit: int, as_json: bool) -> None:
    """`watcher alerts`: the outbox, newest first, with each target's state and last error."""
    from watcher.db import outbox
    from watcher.db.engine import make_engine, sessions, upgrade

    engine = make_engine(settings.database)
    upgrade(engine)
    with sessions(engine)() as session:
        alerts = outbox.list_alerts(session, status, limit)
    if as_json:
        data = [
            {"id": a.id, "status": a.status, "channel": a.alert.channel, "kind": a.alert.kind, "rule": a.alert.rule,
             "rules": [r.rule for r in a.alert.rules],
             "source": a.alert.source, "title": a.alert.title, "link": a.alert.link, "attempts": a.attempts,
             "next_attempt": a.next_attempt_at, "last_error": a.last_error, "created": a.created_at, "sent": a.sent_at,
             "deliveries": [
                 {"id": d.id, "target": d.label or d.target or "(all targets, before 0.4)", "target_key": d.target,
                  "status": d.status,
                  "attempts": d.attempts, "next_attempt": d.next_attempt_at, "last_error": d.last_error,
                  "sent": d.sent_at, "reclaims": d.reclaims}
                 for d in a.deliveries
             ]}
            for a in alerts
        ]  # fmt: skip
        print(json.dumps(data, default=str, ensure_ascii=False, indent=2))
        return
    columns = ("id", "status", "channel", "rule", "title", "target", "state", "tries", "next / sent", "last error")
    table = _table(f"Alerts ({status or 'all'})", columns, right=("id", "tries"))
    for a in alerts:
        rows = a.deliveries or (None,)
        for n, d in enumerate(rows):
            head = (str(a.id), a.status, a.alert.channel, a.alert.rule, a.alert.title[:60]) if n == 0 else ("",) * 5
            state = d.status if d else a.status
            when_at = (d.sent_at if d else a.sent_at) if state == "sent" else (d.next_attempt_at if d else a.next_attempt_at)
            when = _ago(when_at) if state in ("sent", "pending") else ""
            error = (d.last_error if d else a.last_error) or ""
            target = f"{d.label} [{d.target[:6]}]" if d and d.label and d.label != d.target else (d.target or "all") if d else ""
            table.add_row(*head, target, state, str(d.attempts if d else a.attempts),
                          when, error[:80])  # fmt: skip
    _console().print(table)


async def retry_alerts(settings: Settings, alert_id: int | None, all_: bool) -> DeliveryReport:
    """Put the alert (or every pending and dead one) back in the queue and send now each of its
    deliveries that has not succeeded."""
    from watcher.db import outbox

    ctx = await build_context(settings)
    try:
        ids = None if all_ else [alert_id] if alert_id is not None else []

        requeued = await ctx.db.write(outbox.requeue_alerts, ids, ctx.clock())
        if alert_id is not None and not requeued:
            raise UsageError(f"no pending or dead alert #{alert_id} (see `watcher alerts`)")
        return await deliver_due(ctx, ids=ids, ignore_backoff=True, limit=10_000)
    finally:
        await close_context(ctx)


def run_extract(stdin: IO[str], published: str | None, as_json: bool, jsonl: bool) -> int:
    from watcher.extract import extract_deadlines
    from watcher.extract.batch import events_to_dicts, extract_jsonl

    if jsonl:
        for line in extract_jsonl(stdin):
            sys.stdout.write(line + "\n")
        return 0
    try:
        day = dt.date.fromisoformat(published) if published else None
    except ValueError:
        print(f"watcher: --published must be YYYY-MM-DD, not {published!r}", file=sys.stderr)
        return 2
    events = extract_deadlines(stdin.read(), day)
    if as_json:
        print(json.dumps(events_to_dicts(events), ensure_ascii=False, indent=2))
        return 0
    if not events:
        print("no deadlines found")
    for e in events:
        when = e.date.isoformat() + (f" {e.time}" if e.time else "") + (f" {e.tz}" if e.tz else "")
        print(f"{when}  {e.kind:<16} {e.confidence:.2f}  {e.evidence}")
    return 0


async def test_source(settings: Settings, name: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """Fetch `name` now, as a first poll with nothing stored, and say what each item would give,
    through the pipeline's own stages: its deadline events, the rules it matches, the findings
    against the registry file and the messages each channel would get; and the parts skipped
    as unreadable (`sources.Skipped`). Nothing is written."""
    from watcher import sources
    from watcher.fetch import Fetcher
    from watcher.models import Changed
    from watcher.registry import findings
    from watcher.registry.events import items_events
    from watcher.route import route
    from watcher.rules import RuleIndex

    source = next(s for s in settings.sources if s.name == name)
    fetcher = Fetcher(settings.fetch, allow_private=settings.allow_private_networks)
    try:
        poll = sources.Poll(fetcher=fetcher, timeout=settings.source_timeout(source), now=dt.datetime.now(dt.UTC))
        collected = await sources.collect(poll, source)
    finally:
        await fetcher.aclose()
    rules = RuleIndex.from_settings(settings)
    changes = [Changed(i, "new") for i in collected.items]
    items = [c.item for c in changes]
    matches = collected.matches or {i.key: rules.match(i) for i in items}
    events = {i.key: e for i, e in zip(items, items_events(items), strict=True)}  # every item's, to show them
    proposed = findings.propose(items, events, settings.measures, matches)
    messages = route(changes, matches, proposed, settings.measures, rules, settings.default_channels())
    reports = [_test_report(i, events[i.key], matches.get(i.key, []), proposed.get(i.key, []),
                            [m.alert for m in messages if m.item_key == i.key]) for i in items]  # fmt: skip
    return reports, list(collected.skipped)


def _test_report(item: Any, events: list[Any], matches: list[Any], found: list[Any], messages: list[Any]) -> dict[str, Any]:
    from watcher.alerts import subject
    from watcher.text import shown_time, utc_iso, zone_name

    when = item.published
    return {
        "key": item.key, "title": item.title, "link": item.link,
        # UTC in JSON, with the zone the source publishes in beside it; people read it in that zone
        "published": utc_iso(when) if when else None, "published_tz": zone_name(when),
        "published_shown": shown_time(when) if when else None,
        "events": [
            {"date": e.date.isoformat(), "kind": e.kind, "time": e.time, "tz": e.tz, "confidence": e.confidence,
             "flags": list(e.flags), "evidence": e.evidence}
            for e in events
        ],
        "rules": [{"rule": m.rule, "matched": list(m.matched), "channels": list(m.channels)} for m in matches],
        "findings": [{"kind": f.kind, "measure": f.measure_id, "change": f.change_text()} for f in found],
        "messages": [{"channel": a.channel, "subject": subject(a)} for a in messages],
        "extra": dict(item.extra), "text": item.text[:2000],
    }  # fmt: skip


def print_source_test(settings: Settings, name: str, as_json: bool) -> int:
    """`watcher sources test NAME`: 0 when the source answered and parsed, 1 when it failed."""
    from rich.markup import escape

    from watcher.errors import FetchError, ParseError

    try:
        report, skipped = asyncio.run(test_source(settings, name))
    except (FetchError, ParseError) as exc:
        print(f"watcher: source {name!r} failed ({exc.reason.value}): {exc.message}", file=sys.stderr)
        return 1
    for part in skipped:  # on stderr, so that --json stays the items alone
        print(f"watcher: source {name!r}: skipped {part.part} ({part.reason.value}): {part.error}", file=sys.stderr)
    if as_json:
        print(json.dumps(report, default=str, ensure_ascii=False, indent=2))
        return 0
    console = _console()
    for r in report:
        console.print(f"[bold]{escape(r['title'])}[/bold]", highlight=False)
        console.print(f"  {r['link'] or r['key']}  published {r['published_shown'] or 'unknown'}", highlight=False, markup=False)
        for e in r["events"]:
            when = e["date"] + (f" {e['time']}" if e["time"] else "") + (f" {e['tz']}" if e["tz"] else "")
            flags = f" [{', '.join(e['flags'])}]" if e["flags"] else ""
            console.print(f"  deadline {when} {e['kind']} ({e['confidence']:.2f}){flags}: {e['evidence'][:160]}",
                          highlight=False, markup=False)  # fmt: skip
        for m in r["rules"]:
            console.print(f"  rule {m['rule']} ({', '.join(m['matched'])}) → {', '.join(m['channels'])}",
                          highlight=False, markup=False)  # fmt: skip
        for f in r["findings"]:
            console.print(f"  finding {f['kind']} {f['measure'] or '(no measure)'}: {f['change']}",
                          highlight=False, markup=False)  # fmt: skip
        for a in r["messages"]:
            console.print(f"  message to {a['channel']}: {a['subject']}", highlight=False, markup=False)
    matched = sum(1 for r in report if r["rules"])
    console.print(f"{_count(len(report), 'item')}, {_count(sum(len(r['events']) for r in report), 'deadline event')}, "
                  f"{_count(matched, 'item')} matching a rule, {_count(sum(len(r['findings']) for r in report), 'finding')}, "
                  f"{len(skipped)} skipped as unreadable (nothing was written)", highlight=False)  # fmt: skip
    return 0
