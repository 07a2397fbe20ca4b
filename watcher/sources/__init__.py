"""Source kinds: a config `kind` picks a parser from this plain dict, one module per kind.

A source turns a `FetchResult` into `Item`s: `parse(result, source_config) -> list[Item]`, pure.
Kinds that need more than the one conditional GET of `source.url` (following each new article of
a list page, paginating an API) also have a collector in `COLLECTORS`:
`async collect(poll, source) -> Collected`, which fetches through `poll` and keeps its parsing in
pure functions. `collect()` below is what the pipeline (and `watcher sources test`) calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import structlog

from watcher.models import FetchResult, Item, Match
from watcher.sources import federal_register, feed, html_list
from watcher.sources.base import Parsed, Skipped, skipped_of

if TYPE_CHECKING:
    from watcher.fetch import Fetcher

Parser = Callable[[FetchResult, Any], list[Item]]
# Which of these item keys are stored already, and with which content hash.
Known = Callable[[list[str]], Awaitable[dict[str, str]]]


# Run a pure, CPU-bound function (a parser) with these arguments, e.g. in a worker process:
# (its result, and when the result is Items and the worker holds the rules, each one's matches).
Offload = Callable[..., Awaitable[tuple[Any, "list[list[Match]] | None"]]]


async def nothing_known(keys: list[str]) -> dict[str, str]:
    return {}


async def inline(fn: Callable[..., Any], *args: Any) -> tuple[Any, None]:
    return fn(*args), None


@dataclass(frozen=True)
class Poll:
    """What one poll of a source needs besides its config: the HTTP client, the source's stored
    state (validators, cursor) and a way to ask which items are stored already."""

    fetcher: Fetcher
    timeout: float
    now: dt.datetime
    etag: str | None = None
    last_modified: str | None = None
    previous_hash: str | None = None
    cursor: str | None = None  # a kind's own bookmark, e.g. the newest publication date seen
    quiet_before: dt.datetime | None = None  # first poll: older items are history (not followed)
    known: Known = nothing_known
    offload: Offload = inline  # the pipeline's worker pool (`workers.CpuPool.run_matched`)
    # Rule matches made where items were parsed: item key → (content hash, matches).
    made: dict[str, tuple[str, list[Match]]] = field(default_factory=dict)

    async def parse(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` (a parser) through `offload`, keeping the rule matches made with it."""
        out, matches = await self.offload(fn, *args)
        if matches is not None:
            for item, found in zip(out, matches, strict=True):
                self.made[item.key] = (item.content_hash, found)
        return out

    async def fetch(
        self, url: str, *, conditional: bool = False, accept: str | None = None, min_delay: float | None = None
    ) -> FetchResult:
        """GET `url` (conditionally with the stored validators); with `min_delay`, politely: one
        request at a time per host and at least `min_delay` seconds between two of them."""
        validators: dict[str, Any] = {}
        if conditional:
            validators = dict(etag=self.etag, last_modified=self.last_modified, previous_hash=self.previous_hash)
        if min_delay is None:
            return await self.fetcher.fetch(url, timeout=self.timeout, accept=accept, **validators)
        async with _pace(self.fetcher, url, min_delay):
            return await self.fetcher.fetch(url, timeout=self.timeout, accept=accept, **validators)


@dataclass(frozen=True)
class Collected:
    """What one poll of a source produced: its main fetch (for validators and status), the items,
    and the kind's new cursor (None: keep the stored one)."""

    result: FetchResult
    items: list[Item] = field(default_factory=list)
    cursor: str | None = None
    # Each item's rule matches when they were made where it was parsed (None: match them here).
    matches: dict[str, list[Match]] | None = None
    # Parts of the pages left out (an unreadable entry or document, an unreadable extra page).
    skipped: tuple[Skipped, ...] = ()


Collector = Callable[[Poll, Any], Awaitable[Collected]]
__all__ = ["COLLECTORS", "SOURCES", "Collected", "Parsed", "Poll", "Skipped", "collect"]
log = structlog.get_logger("watcher.sources")

SOURCES: dict[str, Parser] = {
    "feed": feed.parse,
    "federal_register": federal_register.parse,
    "html_list": html_list.parse,
}

COLLECTORS: dict[str, Collector] = {
    "feed": feed.collect,
    "federal_register": federal_register.collect,
    "html_list": html_list.collect,
}


async def collect(poll: Poll, source: Any) -> Collected:
    """Everything one poll of `source` yields: its kind's collector, else a conditional GET of
    `source.url` parsed by its kind's parser; with the rule matches made where the items were
    parsed, when every item has them (an item completed since, e.g. with its article's text, has not)."""
    collector = COLLECTORS.get(source.kind)
    if collector is not None:
        collected = await collector(poll, source)
    else:
        result = await poll.fetch(source.url, conditional=True)
        items = [] if result.not_modified or result.unchanged else await poll.parse(SOURCES[source.kind], result, source)
        collected = Collected(result, items, skipped=skipped_of(items))
    for part in collected.skipped:
        log.warning("source.part_skipped", source=source.name, part=part.part, reason=part.reason.value, error=part.error)
    made = poll.made
    if collected.items and all(made.get(i.key, ("",))[0] == i.content_hash for i in collected.items):
        return replace(collected, matches={i.key: made[i.key][1] for i in collected.items})
    return collected


class _HostPace:
    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.last = float("-inf")


# Per fetcher (one per running configuration), per host: shared by every source on that host.
_paces: weakref.WeakKeyDictionary[Any, dict[str, _HostPace]] = weakref.WeakKeyDictionary()


class _pace:
    """Hold `host`'s turn: wait for the request before it, then `min_delay` after it ended."""

    def __init__(self, fetcher: Any, url: str, min_delay: float) -> None:
        from urllib.parse import urlsplit

        host = (urlsplit(url).hostname or "").lower()
        self.pace = _paces.setdefault(fetcher, {}).setdefault(host, _HostPace())
        self.min_delay = min_delay

    async def __aenter__(self) -> None:
        await self.pace.lock.acquire()
        loop = asyncio.get_running_loop()
        wait = self.pace.last + self.min_delay - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)

    async def __aexit__(self, *exc_info: object) -> None:
        self.pace.last = asyncio.get_running_loop().time()
        self.pace.lock.release()
