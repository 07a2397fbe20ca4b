"""First use: on a fresh database every command that reads the registry imports the file first
(idempotently), so a new user sees the shipped registry, with its as-of date, at once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from watcher.db import registry as registry_db
from watcher.db.engine import make_engine, sessions
from watcher.registry_file import load_file

REPO = Path(__file__).resolve().parents[1]
SHIPPED_IDS = {m.id for m in load_file(REPO / "config" / "deadlines.yaml")}


def fresh_clone(tmp_path: Path) -> Path:
    """The shipped config/ as a fresh clone has it (the database is given by WATCHER_DATABASE_URL)."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    return tmp_path / "config" / "watcher.yaml"


def watcher(config: Path, db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WATCHER_DATABASE_URL": db_url, "PYTHONPATH": str(REPO)}  # this checkout's watcher
    return subprocess.run([sys.executable, "-m", "watcher", *args, "--config", str(config)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=config.parent.parent)  # fmt: skip


def stored(db_url: str) -> tuple[set[str], int]:
    engine = make_engine(db_url)
    with sessions(engine)() as session:
        ids = {m.id for m in registry_db.get_measures(session)}
        history = sum(len(registry_db.measure_history(session, i)) for i in ids)
    engine.dispose()
    return ids, history


def test_deadlines_list_on_a_fresh_clone_shows_the_current_registry_with_its_as_of_date(tmp_path, db_url):
    config = fresh_clone(tmp_path)
    assert watcher(config, db_url, "check-config").returncode == 0
    listed = watcher(config, db_url, "deadlines", "list")
    assert listed.returncode == 0, listed.stderr
    assert "as of 2026-12-06" in listed.stdout
    for measure_id in ("cn-mofcom-2025-rare-earth", "us-bis-affiliates-rule", "cn-mofcom-2024-46-us-dual-use"):
        assert measure_id in listed.stdout
    assert "suspension ends 2026-11-27 (passed, unconfirmed" in " ".join(listed.stdout.split())
    ids, history = stored(db_url)
    assert ids == SHIPPED_IDS and history == len(SHIPPED_IDS)  # one "created" row each

    again = watcher(config, db_url, "deadlines", "list", "--json")  # idempotent: nothing new
    assert {m["id"] for m in json.loads(again.stdout)} == SHIPPED_IDS
    assert stored(db_url) == (SHIPPED_IDS, len(SHIPPED_IDS))


@pytest.mark.parametrize("command", [
    ("deadlines", "show", "cn-mofcom-2025-rare-earth", "--json"),
    ("deadlines", "export"),
    ("deadlines", "export", "--ics", "{tmp}/deadlines.ics"),
    ("findings", "list", "--json"),
    ("reminders", "--at", "2026-12-06T08:00Z"),
], ids=["show", "export", "ics", "findings", "reminders"])  # fmt: skip
def test_every_command_that_reads_the_registry_shows_it_on_a_fresh_database(tmp_path, db_url, command):
    config = fresh_clone(tmp_path)
    done = watcher(config, db_url, *(c.replace("{tmp}", str(tmp_path)) for c in command))
    assert done.returncode == 0, done.stderr
    assert stored(db_url)[0] == SHIPPED_IDS
    if command[:2] == ("deadlines", "show"):
        shown = json.loads(done.stdout)
        assert shown["status"] == "suspended" and shown["history"][0]["actor"] == "file:deadlines.yaml"
    if command == ("deadlines", "export"):
        assert "cn-mofcom-2025-rare-earth/suspension_end/1" in done.stdout and "state: suspended" in done.stdout
    if "--ics" in command:
        assert "SUMMARY:MOFCOM" in (tmp_path / "deadlines.ics").read_text(encoding="utf-8")
