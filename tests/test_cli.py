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
