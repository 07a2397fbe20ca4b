"""Shared fixtures: databases (SQLite and a fresh PostgreSQL database per run), local servers,
config files. A test that needs PostgreSQL skips with the reason on a laptop without one, and
fails instead when CI=true."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

PG_URL = os.environ.get("WATCHER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def skip_outside_ci(reason: str) -> None:
    """Skip with the reason printed on a laptop that lacks a dependency; with CI=true, fail."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)  # reached only when not in CI


def _pg_admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A fresh database on the test PostgreSQL for this run, dropped afterwards."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"watcher_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = _pg_admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {PG_URL} ({exc.__class__.__name__}); see README 'PostgreSQL for tests'"
        skip_outside_ci(reason)
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.dispose()
        with _pg_admin_engine().connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(postgres_server_url: str) -> str:
    """The run's PostgreSQL database with a clean schema for this test."""
    from sqlalchemy import create_engine, text

    schema_reset = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with schema_reset.connect() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    schema_reset.dispose()
    return postgres_server_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each database test runs on SQLite and on PostgreSQL (a clean schema per test)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'watcher.db'}"
        return
    yield request.getfixturevalue("pg_url")


@pytest.fixture
def feed_server() -> Iterator[Any]:
    from tests.servers import serve

    with serve() as server:
        yield server


@pytest.fixture
def smtp_sink() -> Iterator[Any]:
    from tests.sinks import SmtpSink

    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def webhook_sink() -> Iterator[Any]:
    from tests.sinks import WebhookSink

    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def write_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write a config dict as YAML and return its path."""

    def write(data: dict[str, Any], name: str = "watcher.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    return write
