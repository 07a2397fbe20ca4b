"""What admins do with the registry from the CLI: list, show, add, edit, import and export
measures; list, accept and reject findings. Every change is written with its history."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from watcher.db import registry as registry_db
from watcher.db.engine import make_engine, sessions, upgrade
from watcher.errors import WatcherError
from watcher.models import Measure, Milestone, describe_milestone
from watcher.registry.reconcile import apply
from watcher.registry_file import dump_file, measure_to_dict, parse_registry
from watcher.settings import CONSOLE, Settings


class AdminError(WatcherError):
    """A request the registry can't carry out (unknown id, wrong state); exit status 1."""


def default_actor() -> str:
    return os.environ.get("WATCHER_ACTOR") or f"cli:{getpass.getuser()}"


@contextmanager
def session_for(settings: Settings, sync: bool = False) -> Iterator[Session]:
    """A session in a transaction on the migrated database. `sync`: apply the registry file first
    (as `watcher run` does at start; idempotent), so a command that reads the registry shows it
    on a fresh database too."""
    engine = make_engine(settings.database)
    upgrade(engine)
    try:
        with sessions(engine)() as session, session.begin():
            if sync:
                sync_registry(session, settings)
            yield session
    finally:
        engine.dispose()


def sync_registry(session: Session, settings: Settings) -> dict[str, int]:
    """Import the config's registry file: entries unchanged since their last import are skipped."""
    if not settings.registry:
        return {}
    return registry_db.import_measures(session, settings.measures, f"file:{settings.registry}", _now())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _console() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=200)


def _dump(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


# ---------------------------------------------------------------- measures


def list_measures(settings: Settings, as_json: bool) -> None:
    with session_for(settings, sync=True) as session:
        measures = registry_db.get_measures(session)
    if as_json:
        _dump([measure_to_dict(m) for m in measures])
        return
    table = Table(title=registry_title(settings), title_justify="left")
    for col in ("id", "status", "jurisdiction", "reference", "next milestone"):
        table.add_column(col, overflow="fold")
    today = dt.date.today()
    for m in measures:
        active = sorted((ms for ms in m.milestones if ms.state in ("active", "unconfirmed")), key=lambda ms: ms.date)
        upcoming = [ms for ms in active if ms.date >= today]
        nxt = describe_milestone(upcoming[0].kind, upcoming[0].date) if upcoming else "—"
        if not upcoming and active:  # say what was last due rather than nothing
            last = active[-1]
            told = "passed, unconfirmed: nothing heard since" if last.state == "unconfirmed" else "passed"
            nxt = f"{describe_milestone(last.kind, last.date)} ({told})"
        table.add_row(m.id, m.status, m.jurisdiction, m.reference, nxt)
    _console().print(table)


def registry_title(settings: Settings) -> str:
    """`Deadline registry (config/deadlines.yaml, as of 2026-12-06)`: how current the file says it is."""
    if not settings.registry:
        return "Deadline registry"
    as_of = settings.registry_as_of
    shown = os.path.relpath(settings.registry_path() or settings.registry)
    return f"Deadline registry ({shown}, {'as of ' + as_of.isoformat() if as_of else 'no as_of date'})"


def show_measure(settings: Settings, measure_id: str, as_json: bool) -> None:
    with session_for(settings, sync=True) as session:
        m = registry_db.get_measure(session, measure_id)
        if m is None:
            raise AdminError(f"no measure {measure_id!r} (see `watcher deadlines list`)")
        history = registry_db.measure_history(session, measure_id)
    if as_json:
        _dump({**measure_to_dict(m), "milestones": [_milestone_json(ms) for ms in m.milestones], "history": history})
        return
    out = _console()
    out.print(f"[bold]{m.title}[/bold]  ({m.id})", highlight=False)
    out.print(f"status {m.status} · {m.jurisdiction} · {m.authority} · {m.reference}", highlight=False, markup=False)
    for ms in m.milestones:
        when = ms.date.isoformat() + (f" {ms.time}" if ms.time else "") + (f" {ms.tz}" if ms.tz else "")
        out.print(f"  {when:<32} {ms.kind:<16} {ms.state:<10} {ms.note[:80]}", highlight=False, markup=False)
    out.print("history:", highlight=False)
    for h in history:
        out.print(f"  {h['at']:%Y-%m-%d %H:%M} {h['actor']:<24} {h['action']:<20} {h['evidence'][:80]}",
                  highlight=False, markup=False)  # fmt: skip


def _milestone_json(ms: Milestone) -> dict[str, Any]:
    return {"uid": ms.uid, "kind": ms.kind, "date": ms.date, "time": ms.time, "tz": ms.tz, "note": ms.note,
            "source": ms.source, "state": ms.state, "sequence": ms.sequence}  # fmt: skip


def import_file(settings: Settings, path: str, actor: str) -> dict[str, int]:
    """Apply a registry file now (as the service does at start), recording history."""
    from watcher.registry_file import load_file

    measures = load_file(path, {c.name for c in settings.channels} | {CONSOLE})
    with session_for(settings) as session:
        return registry_db.import_measures(session, measures, actor, _now())


def add_measure(settings: Settings, yaml_text: str, actor: str) -> list[str]:
    """Add measures given in the file format (a mapping or a `measures:` list)."""
    import yaml

    raw = yaml.safe_load(yaml_text) or {}
    raw = raw if isinstance(raw, dict) and "measures" in raw else {"measures": raw if isinstance(raw, list) else [raw]}
    measures = parse_registry(raw, "<input>", {c.name for c in settings.channels} | {CONSOLE})
    with session_for(settings) as session:
        for m in measures:
            if registry_db.get_measure(session, m.id) is not None:
                raise AdminError(f"measure {m.id!r} exists already: use `watcher deadlines edit`")
            registry_db.save_measure(session, m, actor=actor, action="created", now=_now())
    return [m.id for m in measures]


def edit_measure(
    settings: Settings, measure_id: str, actor: str, *, status: str | None = None, title: str | None = None,
    add_milestone: tuple[str, dt.date] | None = None, move: tuple[str, dt.date] | None = None, note: str = "",
) -> Measure:  # fmt: skip
    """Change fields of a measure; `move` is (milestone uid, new date); history records it."""
    from watcher.models import MEASURE_STATUSES

    with session_for(settings) as session:
        m = registry_db.get_measure(session, measure_id)
        if m is None:
            raise AdminError(f"no measure {measure_id!r} (see `watcher deadlines list`)")
        if status is not None:
            if status not in MEASURE_STATUSES:
                raise AdminError(f"status must be one of {', '.join(MEASURE_STATUSES)}, not {status!r}")
            m = replace(m, status=status)
        if title:
            m = replace(m, title=title)
        if add_milestone:
            kind, day = add_milestone
            n = sum(1 for x in m.milestones if x.kind == kind) + 1
            m = replace(m, milestones=m.milestones + (Milestone(kind, day, note=note, uid=f"{m.id}/{kind}/cli-{n}"),))
        if move:
            uid, day = move
            if uid not in {x.uid for x in m.milestones}:
                raise AdminError(f"measure {measure_id!r} has no milestone {uid!r} (see `watcher deadlines show`)")
            m = replace(m, milestones=tuple(replace(x, date=day) if x.uid == uid else x for x in m.milestones))
        registry_db.save_measure(session, m, actor=actor, action="edited", now=_now(), evidence=note)
        return registry_db.get_measure(session, measure_id) or m


def export_file(settings: Settings) -> str:
    with session_for(settings, sync=True) as session:
        return dump_file(registry_db.get_measures(session))


# ---------------------------------------------------------------- findings


def list_findings(settings: Settings, status: str | None, as_json: bool) -> None:
    with session_for(settings, sync=True) as session:
        found = registry_db.list_findings(session, status)
    rows = [
        {"id": s.id, "kind": s.finding.kind, "status": s.status, "measure": s.finding.measure_id,
         "event": s.finding.event.kind, "date": s.finding.event.date.isoformat(), "change": s.finding.change_text(),
         "evidence_sentence": s.finding.event.evidence, "link": s.finding.link, "source": s.finding.source,
         "decided_by": s.decided_by, "created": s.created_at, "evidence": list(s.evidence)}
        for s in found
    ]  # fmt: skip
    if as_json:
        _dump(rows)
        return
    table = Table(title=f"Findings ({status or 'all'})", title_justify="left")
    for col in ("id", "status", "kind", "measure", "change", "seen in", "evidence"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(str(r["id"]), r["status"], r["kind"], r["measure"] or "—", r["change"],
                      str(len(r["evidence"])), r["evidence_sentence"][:120])  # fmt: skip
    _console().print(table)


def decide(settings: Settings, finding_id: int, accept: bool, actor: str, measure_id: str | None = None) -> str:
    """Accept (apply to the registry, with history) or reject a proposed finding."""
    with session_for(settings) as session:
        found = registry_db.list_findings(session, ids=[finding_id])
        if not found:
            raise AdminError(f"no finding #{finding_id} (see `watcher findings list`)")
        stored = found[0]
        if stored.status == "superseded":
            raise AdminError(f"finding #{finding_id} is superseded by a later notice about the same milestone "
                             f"({stored.decided_by}): accept that one, or `watcher findings reopen {finding_id}` first")  # fmt: skip
        if stored.status not in ("proposed", "conflict"):
            raise AdminError(f"finding #{finding_id} is {stored.status} already")
        now = _now()
        if not accept:
            registry_db.set_finding_status(session, finding_id, "rejected", actor, now)
            return f"finding #{finding_id} rejected"
        mine = registry_db.finding_time(session, finding_id)
        newer = [i for i, _, when in registry_db.same_milestone(session, finding_id, ("accepted", "applied")) if when > mine]
        if newer:
            raise AdminError(f"finding #{finding_id} is older than #{newer[0]}, already applied to the same milestone: "
                             "nothing to do (reject it, or edit the milestone with `watcher deadlines edit`)")  # fmt: skip
        f = stored.finding
        target = measure_id or f.measure_id
        if target is None:
            raise AdminError(f"finding #{finding_id} names no measure: give --measure ID to add it to one")
        m = registry_db.get_measure(session, target)
        if m is None:
            raise AdminError(f"no measure {target!r} (see `watcher deadlines list`)")
        updated = apply(m, replace(f, measure_id=target), finding_id)
        registry_db.save_measure(session, updated, actor=actor, action=f"finding:{f.kind}", now=now,
                                 evidence=f.event.evidence, link=f.link, finding_id=finding_id)  # fmt: skip
        registry_db.set_finding_status(session, finding_id, "accepted", actor, now)
        for other, _, _ in registry_db.same_milestone(session, finding_id, ("proposed", "conflict")):
            registry_db.set_finding_status(session, other, "superseded", f"finding:#{finding_id}", now)
        return f"finding #{finding_id} accepted: {m.id} {f.change_text()}"


def reopen(settings: Settings, finding_id: int, actor: str) -> str:
    """Put a rejected, superseded or conflicting finding back to proposed (history keeps who)."""
    with session_for(settings) as session:
        found = registry_db.list_findings(session, ids=[finding_id])
        if not found:
            raise AdminError(f"no finding #{finding_id} (see `watcher findings list`)")
        status = found[0].status
        if status in ("accepted", "applied"):
            raise AdminError(f"finding #{finding_id} is {status}: its change is in the registry; undo it with "
                             "`watcher deadlines edit`")  # fmt: skip
        if status == "proposed":
            raise AdminError(f"finding #{finding_id} is proposed already")
        registry_db.set_finding_status(session, finding_id, "proposed", actor, _now())
        return f"finding #{finding_id} reopened (was {status})"
