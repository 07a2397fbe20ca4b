"""The CLI as a newcomer meets it: help for every command, clear errors, tables and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.servers import feed_xml
from tests.test_pipeline import config, entry, mailto
from watcher.settings import SOURCE_KINDS, SourceConfig
from watcher.sources import SOURCES


def watcher(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args], capture_output=True, text=True,
                          input=stdin, timeout=120)  # fmt: skip


def test_help_lists_every_command_with_its_help_text():
    out = watcher("--help").stdout
    for command in ("run", "poll", "check-config", "notify-test", "db", "sources", "alerts", "extract"):
        assert command in out
    assert "retry" in watcher("alerts", "--help").stdout
    assert "upgrade" in watcher("db", "--help").stdout


def test_every_source_kind_in_the_config_schema_has_a_parser_and_back():
    assert set(SOURCE_KINDS) == set(SOURCES)
    assert SourceConfig  # the discriminated union the kinds come from


def test_a_missing_config_file_is_one_line_and_exit_2(tmp_path: Path):
    proc = watcher("sources", "--config", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{tmp_path / 'nope.yaml'}: file not found (give --config PATH or set WATCHER_CONFIG)"


def test_an_unknown_source_for_poll_is_a_usage_error(write_config, tmp_path):
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", [], "json://example.com/x"))
    proc = watcher("poll", "--once", "--source", "nope", "--config", str(path))
    assert proc.returncode == 2 and "unknown source 'nope'" in proc.stderr


def test_sources_shows_health_and_alerts_lists_the_outbox(write_config, tmp_path, feed_server, smtp_sink):
    feed_server.set("/feed", feed_xml([entry(1)]))
    sources = [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed"), "tags": ["cn"]},
               {"name": "down", "kind": "feed", "url": "http://127.0.0.1:9/feed"}]  # fmt: skip
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", sources, mailto(smtp_sink)))
    assert watcher("poll", "--once", "--config", str(path)).returncode == 1  # one source is down

    table = watcher("sources", "--config", str(path))
    assert table.returncode == 0
    assert "mofcom" in table.stdout and "failing" in table.stdout and "connect" in table.stdout
    rows = {r["name"]: r for r in json.loads(watcher("sources", "--json", "--config", str(path)).stdout)}
    assert rows["mofcom"]["failures"] == 0 and rows["mofcom"]["tags"] == ["cn"]
    assert rows["down"]["failures"] == 1 and rows["down"]["reason"] == "connect"

    listed = json.loads(watcher("alerts", "--json", "--config", str(path)).stdout)
    assert [(a["status"], a["rule"], a["channel"]) for a in listed] == [("sent", "rare-earths", "email")]
    assert "rare-earths" in watcher("alerts", "--status", "sent", "--config", str(path)).stdout
    bad = watcher("alerts", "--status", "lost", "--config", str(path))
    assert bad.returncode == 2 and "--status must be pending, sent or dead" in bad.stderr


def test_notify_test_reports_a_real_failure_and_a_real_success(write_config, tmp_path, smtp_sink):
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", [], mailto(smtp_sink)))
    ok = watcher("notify-test", "email", "--config", str(path))
    assert ok.returncode == 0 and "delivered" in ok.stdout
    assert "watcher test message" in smtp_sink.wait_for(1)[0]["Subject"]
    smtp_sink.stop()
    failed = watcher("notify-test", "email", "--config", str(path))
    assert failed.returncode == 1 and "not delivered" in failed.stderr


def test_db_upgrade_reports_the_revision(write_config, tmp_path):
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", [], "json://example.com/x"))
    proc = watcher("db", "upgrade", "--config", str(path))
    from watcher.db.engine import head_revision

    assert proc.returncode == 0 and f"database at revision {head_revision()} (was empty)" in proc.stdout


# -- papercuts a newcomer meets ---------------------------------------------------------------


def watcher_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`watcher ARGS` run in `cwd`, with no WATCHER_CONFIG: a config not passed on is not found."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "WATCHER_CONFIG"}
    return subprocess.run([sys.executable, "-m", "watcher", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})  # fmt: skip


def test_config_given_before_the_subcommand_is_the_one_used(write_config, tmp_path, feed_server):
    # `watcher alerts -c FILE retry --all` used to act on the default config's database.
    feed_server.set("/feed", feed_xml([entry(1)]))
    sources = [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}]
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", sources, "json://127.0.0.1:9/hook"))  # nobody listens
    assert watcher("poll", "--once", "--config", str(path)).returncode == 0  # the alert waits, pending

    retried = watcher_in(tmp_path, "alerts", "-c", str(path), "retry", "--all")
    assert retried.stdout.strip() == "sent 0, still failing 1, dead 0", retried.stderr
    tested = watcher_in(tmp_path, "sources", "-c", str(path), "--json", "test", "mofcom")
    assert tested.returncode == 0 and json.loads(tested.stdout)[0]["key"] == "urn:notice:1"

    twice = watcher_in(tmp_path, "alerts", "-c", str(path), "retry", "--all", "-c", str(tmp_path / "other.yaml"))
    assert twice.returncode == 2 and twice.stderr.strip().endswith("give it once")
    listing = watcher_in(tmp_path, "alerts", "--status", "dead", "-c", str(path), "retry", "--all")
    assert listing.returncode == 2
    assert listing.stderr.strip() == "watcher: --status and --json list alerts: they do not apply to `alerts retry`"


def test_an_unknown_alert_to_retry_or_finding_status_is_one_line_and_exit_2(write_config, tmp_path):
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", [], "json://127.0.0.1:9/hook"))
    retried = watcher("alerts", "retry", "999", "--config", str(path))
    assert (retried.returncode, retried.stdout) == (2, "")
    assert retried.stderr.strip() == "watcher: no pending or dead alert #999 (see `watcher alerts`)"
    listed = watcher("findings", "list", "--status", "bogus", "--config", str(path))
    assert (listed.returncode, listed.stdout) == (2, "")
    assert listed.stderr.strip() == "watcher: --status must be one of proposed, accepted, rejected, applied, not 'bogus'"


def test_usage_errors_exit_2():
    for args in (("nosuch",), ("alerts", "--bogus"), ("alerts", "--limit", "x"), ("sources", "test"),
                 ("poll",), ("alerts", "retry"), ("db", "-c", "x.yaml", "upgrade")):  # fmt: skip
        assert watcher(*args).returncode == 2, args


def test_version_prints_the_version():
    from watcher import __version__

    proc = watcher("--version")
    assert (proc.returncode, proc.stdout) == (0, f"watcher {__version__}\n")


def test_counts_are_written_in_the_singular_for_one(write_config, tmp_path, feed_server, smtp_sink):
    feed_server.set("/feed", feed_xml([entry(1)]))
    sources = [{"name": "mofcom", "kind": "feed", "url": feed_server.url("/feed")}]
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", sources, mailto(smtp_sink)))
    checked = watcher("check-config", "--config", str(path))
    assert checked.stdout.strip() == f"{path}: OK (1 source, 1 rule, 1 channel)"
    polled = watcher("poll", "--once", "--config", str(path))
    assert "1 source, 0 failed; 1 new item, 1 alert queued; delivered 1" in polled.stdout
