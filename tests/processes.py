"""Helpers for tests that run `watcher run` as real processes: start one, read its JSON log, wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def start_service(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """`watcher run --config CONFIG`, its JSON log lines written to `log`."""
    env = dict(os.environ, WATCHER_LOG_FORMAT="json")
    return subprocess.Popen([sys.executable, "-m", "watcher", "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=env)  # fmt: skip


def log_events(log: Path) -> list[dict[str, Any]]:
    """The JSON events a service wrote so far (other lines, such as tracebacks, are skipped)."""
    out = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def wait_until(predicate: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns something true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
