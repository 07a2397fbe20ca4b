"""`watcher deadlines …` as an admin uses it: every change keeps its history; export round-trips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# the registry as it stood on 26 October 2025 (a fixture: the shipped one is current)
OCTOBER_2025 = REPO / "tests" / "data" / "registry_2025-10-26.yaml"
GALLIUM = """
id: cn-gallium-germanium-2023
title: China export controls on gallium and germanium
jurisdiction: CN
authority: MOFCOM
reference: MOFCOM Announcement No. 23 of 2023
aliases: [gallium, germanium, 镓, 锗]
milestones:
  - {kind: effective, date: 2023-08-01, source: "https://www.mofcom.gov.cn/"}
"""


def watcher(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "watcher", *args], capture_output=True, text=True, input=stdin,
                          timeout=120)  # fmt: skip


def setup(tmp_path: Path, db_url: str) -> Path:
    (tmp_path / "deadlines.yaml").write_text((OCTOBER_2025).read_text(encoding="utf-8"))
    cfg = {"database": db_url, "registry": "deadlines.yaml",
           "channels": [{"name": "compliance", "url": ""}], "defaults": {"channels": ["compliance"]}}  # fmt: skip
    path = tmp_path / "watcher.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    assert watcher("deadlines", "import", str(tmp_path / "deadlines.yaml"), "--config", str(path)).returncode == 0
    return path


def test_add_edit_show_keep_a_history_with_who_before_and_after(tmp_path, db_url):
    path = setup(tmp_path, db_url)
    added = watcher("deadlines", "add", "--by", "bob", "--config", str(path), stdin=GALLIUM)
    assert added.returncode == 0 and "cn-gallium-germanium-2023" in added.stdout
    again = watcher("deadlines", "add", "--config", str(path), stdin=GALLIUM)
    assert again.returncode == 1 and "exists already" in again.stderr

    moved = watcher("deadlines", "edit", "cn-gallium-germanium-2023", "--move", "cn-gallium-germanium-2023/effective/1",
                    "2023-09-01", "--note", "typo in the date", "--by", "carol", "--config", str(path))  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    shown = json.loads(watcher("deadlines", "show", "cn-gallium-germanium-2023", "--json", "--config", str(path)).stdout)
    assert shown["milestones"][0]["date"] == "2023-09-01" and shown["milestones"][0]["sequence"] == 1
    [created, edited] = shown["history"]
    assert (created["actor"], created["action"], created["before"]) == ("bob", "created", None)
    assert (edited["actor"], edited["evidence"]) == ("carol", "typo in the date")
    assert edited["before"]["milestones"][0]["date"] == "2023-08-01"
    assert edited["after"]["milestones"][0]["date"] == "2023-09-01"

    bad = watcher("deadlines", "edit", "cn-gallium-germanium-2023", "--status", "paused", "--config", str(path))
    assert bad.returncode == 1 and "status must be one of" in bad.stderr


def test_export_writes_the_file_format_and_importing_it_changes_nothing(tmp_path, db_url):
    path = setup(tmp_path, db_url)
    out = tmp_path / "exported.yaml"
    assert watcher("deadlines", "export", str(out), "--config", str(path)).returncode == 0
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert {m["id"] for m in data["measures"]} >= {"cn-mofcom-2025-rare-earth", "us-ustr-section-301-ships"}
    again = watcher("deadlines", "import", str(out), "--config", str(path))
    assert again.returncode == 0 and "0 created, 0 updated" in again.stdout


def test_a_bad_registry_file_is_one_line_with_file_and_key_path(tmp_path, db_url):
    path = setup(tmp_path, db_url)
    bad = tmp_path / "bad.yaml"
    bad.write_text("measures:\n  - id: x\n    title: X\n    milestones:\n      - {kind: effectve, date: 2026-01-01}\n")
    proc = watcher("deadlines", "import", str(bad), "--config", str(path))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{bad}: measures[0].milestones[0].kind: Input should be")


def test_findings_accept_needs_a_measure_for_an_unlinked_finding_and_reports_unknown_ids(tmp_path, db_url):
    path = setup(tmp_path, db_url)
    proc = watcher("findings", "accept", "999", "--config", str(path))
    assert proc.returncode == 1 and "no finding #999" in proc.stderr
