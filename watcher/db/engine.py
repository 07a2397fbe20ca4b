"""Connections and migrations. SQLite (WAL) is the embedded default; PostgreSQL via psycopg 3."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from watcher.errors import ConfigError

MIGRATIONS = Path(__file__).with_name("migrations")
# The newest revision under migrations/versions (a test checks it against alembic's head): a
# database already there needs no alembic at start, whose import costs a poll ~0.1 s.
HEAD = "0005_suspension_end"


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ConfigError(f"invalid database URL: {exc}", path="database") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r} (use sqlite:/// or postgresql://)",
            path="database",
        )
    # connect_timeout: an unreachable server fails a probe or a claim in seconds, not minutes
    return create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True, connect_args={"connect_timeout": 10})


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations (`watcher db upgrade`, and at start), one replica at a time."""
    if revision == "head" and _stamped(engine) == HEAD:
        return  # what alembic would do here: nothing
    from alembic import command

    from watcher.db.locks import migration_lock

    with migration_lock(engine):
        command.upgrade(_alembic_config(engine), revision)


def _stamped(engine: Engine) -> str | None:
    """The revision the database is stamped with, read without alembic (None: not stamped)."""
    from sqlalchemy import inspect, text

    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()
