"""Build and tear down what the stages share (database, HTTP client, compiled rules)."""

from __future__ import annotations

import asyncio

from watcher.db import repo
from watcher.db.engine import make_engine, sessions, upgrade
from watcher.fetch import Fetcher
from watcher.pipeline import Context, utcnow, worker_id
from watcher.rules import RuleIndex
from watcher.settings import Settings


async def build_context(settings: Settings, owner: str | None = None, migrate: bool = True) -> Context:
    """Open the database (migrating it to head unless told not to), sync the source rows, compile rules."""

    def prepare():  # type: ignore[no-untyped-def]
        engine = make_engine(settings.database)
        if migrate:
            upgrade(engine)
        maker = sessions(engine)
        with maker() as session, session.begin():
            repo.sync_sources(session, {s.name: s.url for s in settings.sources}, utcnow())
        return maker

    maker = await asyncio.to_thread(prepare)
    return Context(
        settings=settings,
        sessions=maker,
        fetcher=Fetcher(settings.fetch, allow_private=settings.allow_private_networks),
        rules=RuleIndex.from_settings(settings),
        owner=owner or worker_id(),
    )


async def close_context(ctx: Context) -> None:
    await ctx.fetcher.aclose()
    bind = ctx.sessions.kw.get("bind")
    if bind is not None:
        bind.dispose()
