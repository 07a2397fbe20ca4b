"""Commands only: parse arguments, call the stages, print. Heavy modules are imported lazily so
`watcher --help` stays fast."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from watcher.settings import Settings

app = typer.Typer(
    help="watcher: alerts on export-control and tariff notices and the deadlines they set.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
alerts_app = typer.Typer(help="List alerts in the outbox, or retry them.", invoke_without_command=True)
app.add_typer(alerts_app, name="alerts")
sources_app = typer.Typer(help="Sources: their health, or `sources test NAME`.", invoke_without_command=True)
app.add_typer(sources_app, name="sources")

ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", help="Config file (else $WATCHER_CONFIG, else config/watcher.yaml).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
FINDING_STATUSES = ("proposed", "accepted", "rejected", "applied")


def _version(value: bool) -> None:
    if value:
        from watcher import __version__

        typer.echo(f"watcher {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:  # fmt: skip
    # No docstring: the app's help stays the one given to typer.Typer above.
    pass


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _group_config(ctx: typer.Context, config: str | None) -> str | None:
    """`--config` of the subcommand, else the one given before it (`watcher alerts -c FILE retry`)."""
    before = ctx.parent.params.get("config") if ctx.parent is not None else None
    if before and config and before != config:
        _fail(f"--config given twice, as {before!r} and as {config!r}: give it once")
    return config or before


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"watcher: {message}" if not message.startswith(("config", "/")) else message, err=True)
    raise typer.Exit(code)


def _settings(config: str | None) -> Settings:
    from watcher.errors import ConfigError
    from watcher.settings import load

    try:
        return load(config)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _logs(level: str = "warning") -> None:
    from watcher.logs import configure

    configure(level)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@app.command()
def run(config: ConfigOpt = None) -> None:
    """Run the service: poll due sources, deliver alerts, keep house, until SIGTERM."""
    _logs("info")
    _settings(config)  # fail fast, with exit 2, on a bad file
    from watcher.scheduler import Service

    asyncio.run(Service(config).serve_forever())


@app.command()
def poll(
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit (required).")] = False,
    source: Annotated[list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")] = None,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One cycle: poll sources, match rules, deliver due alerts, print a summary.

    Exit status: 0 when every source succeeded, 1 when some failed (the rest were processed),
    2 on a configuration or usage error."""
    if not once:
        _fail("poll needs --once (use `watcher run` for the service)")
    settings = _settings(config)
    _logs()
    from watcher.commands import poll_once

    names = source or []
    unknown = [n for n in names if n not in {s.name for s in settings.sources}]
    if unknown:
        _fail(f"unknown source {unknown[0]!r} (see `watcher sources`)")
    outcomes, report = asyncio.run(poll_once(settings, names, progress=sys.stdout.isatty() and not as_json))
    from watcher.commands import print_poll_summary

    print_poll_summary(outcomes, report, as_json)
    raise typer.Exit(0 if all(o.ok for o in outcomes) else 1)


@app.command("check-config")
def check_config(config: ConfigOpt = None) -> None:
    """Validate the config file (and the channels' URLs) without touching the database."""
    settings = _settings(config)
    from watcher.commands import check_channels

    problems = check_channels(settings)
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        raise typer.Exit(2)
    typer.echo(
        f"{settings.path}: OK ({_plural(len(settings.sources), 'source')}, {_plural(len(settings.rules), 'rule')}, "
        f"{_plural(len(settings.channels), 'channel')})"
    )


@app.command("notify-test")
def notify_test(
    channel: Annotated[str, typer.Argument(help="Name of a channel in the config.")],
    config: ConfigOpt = None,
) -> None:
    """Send a test message to CHANNEL now and report whether it really arrived."""
    settings = _settings(config)
    _logs()
    from watcher.commands import send_test

    try:
        settings.channel(channel)
    except KeyError:
        _fail(f"unknown channel {channel!r} (configured: {', '.join(c.name for c in settings.channels) or 'none'})")
    error = send_test(settings, channel)
    if error:
        _fail(f"test message not delivered: {error}", 1)
    typer.echo(f"channel {channel!r}: test message delivered")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None) -> None:
    """Apply database migrations up to the newest revision."""
    settings = _settings(config)
    from watcher.db.engine import current_revision, make_engine, upgrade

    engine = make_engine(settings.database)
    before = current_revision(engine)
    upgrade(engine)
    typer.echo(f"database at revision {current_revision(engine)} (was {before or 'empty'})")


@sources_app.callback()
def sources(ctx: typer.Context, config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Health of every configured source: last success, last error, failures, next poll."""
    if ctx.invoked_subcommand:
        return  # its --config and --json are passed on to the subcommand
    settings = _settings(config)
    from watcher.commands import print_sources

    print_sources(settings, as_json)


@sources_app.command("test")
def sources_test(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="A source in the config.")],
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fetch one source now and print its items, deadline events and rules matched; writes nothing.

    For checking a source you are adding: nothing is stored, no alert is queued."""
    settings = _settings(_group_config(ctx, config))
    as_json = as_json or bool(ctx.parent and ctx.parent.params.get("as_json"))
    _logs()
    if name not in {s.name for s in settings.sources}:
        _fail(f"unknown source {name!r} (see `watcher sources`)")
    from watcher.commands import print_source_test

    raise typer.Exit(print_source_test(settings, name, as_json))


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, sent or dead.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List alerts (newest first), or `alerts retry ID|--all`."""
    if ctx.invoked_subcommand:  # its --config is passed on; the listing's options are not its own
        if status is not None or as_json:
            _fail(f"--status and --json list alerts: they do not apply to `alerts {ctx.invoked_subcommand}`")
        return
    if status not in (None, "pending", "sent", "dead"):
        _fail(f"--status must be pending, sent or dead, not {status!r}")
    settings = _settings(config)
    from watcher.commands import print_alerts

    print_alerts(settings, status, limit, as_json)


@alerts_app.command("retry")
def alerts_retry(
    ctx: typer.Context,
    alert_id: Annotated[int | None, typer.Argument(metavar="ID", help="The alert to send again.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every pending and dead alert.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Send pending or dead alerts now, ignoring their backoff."""
    if (alert_id is None) == (not all_):
        _fail("give an alert ID or --all")
    settings = _settings(_group_config(ctx, config))
    _logs()
    from watcher.commands import UsageError, retry_alerts

    try:
        report = asyncio.run(retry_alerts(settings, alert_id, all_))
    except UsageError as exc:
        _fail(exc.message)
    typer.echo(f"sent {report.sent}, still failing {report.retrying}, dead {report.dead}")
    for line in report.errors:
        typer.echo(f"  {line}", err=True)
    raise typer.Exit(0 if not report.errors else 1)


@app.command()
def extract(
    published: Annotated[str | None, typer.Option(help="Publication date YYYY-MM-DD of the text.")] = None,
    as_json: JsonOpt = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help='Batch: read {"id","text","published"} lines.')] = False,
) -> None:
    """Print the deadlines found in a text read on stdin."""
    from watcher.commands import run_extract

    code = run_extract(sys.stdin, published, as_json, jsonl)
    raise typer.Exit(code)


# ---------------------------------------------------------------- the deadline registry

deadlines_app = typer.Typer(help="The deadline registry: measures, their milestones and history.", no_args_is_help=True)
app.add_typer(deadlines_app, name="deadlines")
findings_app = typer.Typer(help="Proposed registry changes found in notices: list, accept, reject.", no_args_is_help=True)
app.add_typer(findings_app, name="findings")
ActorOpt = Annotated[str | None, typer.Option("--by", help="Who makes the change (default: cli:$USER).")]


def _admin(call, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-untyped-def]
    """Run a registry command: its own errors exit 1 with one line, config errors exit 2."""
    from watcher.errors import ConfigError
    from watcher.registry.admin import AdminError

    try:
        return call(*args, **kwargs)
    except AdminError as exc:
        _fail(exc.message, 1)
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


def _date(value: str, what: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        _fail(f"{what} must be YYYY-MM-DD, not {value!r}")


@deadlines_app.command("list")
def deadlines_list(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Every measure with its status and next milestone."""
    from watcher.registry import admin

    _admin(admin.list_measures, _settings(config), as_json)


@deadlines_app.command("show")
def deadlines_show(measure: Annotated[str, typer.Argument(help="Measure id.")], config: ConfigOpt = None,
                   as_json: JsonOpt = False) -> None:  # fmt: skip
    """One measure: milestones (with their state) and its full history."""
    from watcher.registry import admin

    _admin(admin.show_measure, _settings(config), measure, as_json)


@deadlines_app.command("add")
def deadlines_add(
    file: Annotated[str, typer.Option("--file", "-f", help="YAML in the registry format ('-' for stdin).")] = "-",
    by: ActorOpt = None, config: ConfigOpt = None,
) -> None:  # fmt: skip
    """Add measures written in the registry file format."""
    from watcher.registry import admin

    text = sys.stdin.read() if file == "-" else open(file, encoding="utf-8").read()
    ids = _admin(admin.add_measure, _settings(config), text, by or admin.default_actor())
    typer.echo(f"added {', '.join(ids)}")


@deadlines_app.command("edit")
def deadlines_edit(
    measure: Annotated[str, typer.Argument(help="Measure id.")],
    status: Annotated[str | None, typer.Option(help="announced, in_force, suspended, revoked or expired.")] = None,
    title: Annotated[str | None, typer.Option(help="A new title.")] = None,
    add: Annotated[tuple[str, str] | None, typer.Option(help="Add a milestone: KIND YYYY-MM-DD.")] = None,
    move: Annotated[tuple[str, str] | None, typer.Option(help="Move a milestone: UID YYYY-MM-DD.")] = None,
    note: Annotated[str, typer.Option(help="Why (kept in the history).")] = "",
    by: ActorOpt = None, config: ConfigOpt = None,
) -> None:  # fmt: skip
    """Change a measure; the history keeps who, when, before and after."""
    from watcher.models import MILESTONE_KINDS
    from watcher.registry import admin

    if add and add[0] not in MILESTONE_KINDS:
        _fail(f"--add KIND must be one of {', '.join(MILESTONE_KINDS)}, not {add[0]!r}")
    m = _admin(admin.edit_measure, _settings(config), measure, by or admin.default_actor(), status=status,
               title=title, add_milestone=(add[0], _date(add[1], "--add date")) if add else None,
               move=(move[0], _date(move[1], "--move date")) if move else None, note=note)  # fmt: skip
    typer.echo(f"{m.id}: {m.status}, {_plural(len(m.milestones), 'milestone')}")


@deadlines_app.command("import")
def deadlines_import(file: Annotated[str, typer.Argument(help="A registry YAML file.")], by: ActorOpt = None,
                     config: ConfigOpt = None) -> None:  # fmt: skip
    """Apply a registry file now (entries unchanged since their last import are skipped)."""
    from watcher.registry import admin

    counts = _admin(admin.import_file, _settings(config), file, by or f"file:{file}")
    typer.echo(", ".join(f"{n} {k}" for k, n in counts.items()))


@deadlines_app.command("export")
def deadlines_export(
    file: Annotated[str | None, typer.Argument(help="Write the registry YAML here (default: stdout).")] = None,
    ics: Annotated[str | None, typer.Option("--ics", help="Write an iCalendar file of every milestone.")] = None,
    config: ConfigOpt = None,
) -> None:  # fmt: skip
    """Write the registry as YAML (for git), or as an iCalendar file with --ics."""
    settings = _settings(config)
    if ics:
        from watcher.registry.calendar import export_ics

        count = _admin(export_ics, settings, ics)
        typer.echo(f"wrote {count} events to {ics}")
        return
    from watcher.registry import admin

    text = _admin(admin.export_file, settings)
    if file:
        with open(file, "w", encoding="utf-8") as out:
            out.write(text)
        typer.echo(f"wrote {file}")
    else:
        typer.echo(text, nl=False)


@findings_app.command("list")
def findings_list(
    status: Annotated[str | None, typer.Option(help="proposed, conflict, accepted, applied, rejected or superseded.")] = None,
    config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Findings with the change they propose and the notices that made the claim."""
    from watcher.registry import admin

    if status is not None and status not in FINDING_STATUSES:
        _fail(f"--status must be one of {', '.join(FINDING_STATUSES)}, not {status!r}")

    _admin(admin.list_findings, _settings(config), status, as_json)


@findings_app.command("accept")
def findings_accept(
    finding: Annotated[int, typer.Argument(metavar="ID", help="The finding to apply.")],
    measure: Annotated[str | None, typer.Option(help="The measure, for a finding that names none.")] = None,
    by: ActorOpt = None, config: ConfigOpt = None,
) -> None:  # fmt: skip
    """Apply a finding to the registry (with history)."""
    from watcher.registry import admin

    typer.echo(_admin(admin.decide, _settings(config), finding, True, by or admin.default_actor(), measure))


@findings_app.command("reject")
def findings_reject(
    finding: Annotated[int, typer.Argument(metavar="ID", help="The finding to reject.")],
    by: ActorOpt = None, config: ConfigOpt = None,
) -> None:  # fmt: skip
    """Reject a finding: the registry stays as it is."""
    from watcher.registry import admin

    typer.echo(_admin(admin.decide, _settings(config), finding, False, by or admin.default_actor()))


@findings_app.command("reopen")
def findings_reopen(
    finding: Annotated[int, typer.Argument(metavar="ID", help="The finding to propose again.")],
    by: ActorOpt = None, config: ConfigOpt = None,
) -> None:  # fmt: skip
    """Put a rejected, superseded or conflicting finding back in the review queue."""
    from watcher.registry import admin

    typer.echo(_admin(admin.reopen, _settings(config), finding, by or admin.default_actor()))


@app.command()
def reminders(
    at: Annotated[str | None, typer.Option("--at", help="Run as if at this ISO time (UTC unless it has an offset).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would be enqueued.")] = False,
    config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Enqueue the milestone reminders due now (the service does this every 15 minutes)."""
    import datetime as dt

    settings = _settings(config)
    _logs()
    now = dt.datetime.now(dt.UTC)
    if at:
        try:
            now = dt.datetime.fromisoformat(at)
        except ValueError:
            _fail(f"--at must be an ISO date and time such as 2025-11-24T08:00Z, not {at!r}")
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    from watcher.registry.reminders import run_reminders
    from watcher.runtime import channel_targets

    alerts = _admin(run_reminders, settings, now, dry_run, channel_targets(settings))
    if as_json:
        _print_json([{"dedup_key": a.dedup_key, "channel": a.channel, "title": a.title, "link": a.link,
                      **a.extra} for a in alerts])  # fmt: skip
        return
    verb = "would enqueue" if dry_run else "enqueued"
    typer.echo(f"{verb} {len(alerts)} reminder alert{'s' if len(alerts) != 1 else ''} (as of {now.isoformat()})")
    for a in alerts:
        typer.echo(f"  {a.channel}: {a.title}")


def main() -> None:  # pragma: no cover
    app()
