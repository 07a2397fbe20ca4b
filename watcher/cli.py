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

ConfigOpt = Annotated[
    str | None,
    typer.Option("--config", "-c", help="Config file (else $WATCHER_CONFIG, else config/watcher.yaml).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


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
        f"{settings.path}: OK ({len(settings.sources)} sources, {len(settings.rules)} rules, "
        f"{len(settings.channels)} channels)"
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


@app.command()
def sources(config: ConfigOpt = None, as_json: JsonOpt = False) -> None:
    """Health of every configured source: last success, last error, failures, next poll."""
    settings = _settings(config)
    from watcher.commands import print_sources

    print_sources(settings, as_json)


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, sent or dead.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    config: ConfigOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List alerts (newest first), or `alerts retry ID|--all`."""
    if ctx.invoked_subcommand:
        return
    if status not in (None, "pending", "sent", "dead"):
        _fail(f"--status must be pending, sent or dead, not {status!r}")
    settings = _settings(config)
    from watcher.commands import print_alerts

    print_alerts(settings, status, limit, as_json)


@alerts_app.command("retry")
def alerts_retry(
    alert_id: Annotated[int | None, typer.Argument(metavar="ID", help="The alert to send again.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every pending and dead alert.")] = False,
    config: ConfigOpt = None,
) -> None:
    """Send pending or dead alerts now, ignoring their backoff."""
    if (alert_id is None) == (not all_):
        _fail("give an alert ID or --all")
    settings = _settings(config)
    _logs()
    from watcher.commands import retry_alerts

    report = asyncio.run(retry_alerts(settings, alert_id, all_))
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


def main() -> None:  # pragma: no cover
    app()
