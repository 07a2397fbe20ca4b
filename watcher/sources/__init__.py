"""Source kinds: a config `kind` picks a parser from this plain dict, one module per kind.

A source turns a `FetchResult` into `Item`s: `parse(result, source_config) -> list[Item]`, pure.
"""

from __future__ import annotations

from collections.abc import Callable

from watcher.models import FetchResult, Item
from watcher.sources import feed

Parser = Callable[[FetchResult, object], list[Item]]

SOURCES: dict[str, Parser] = {
    "feed": feed.parse,
}
