"""One exception tree for the whole pipeline.

Library failures are translated once, where the library is called (httpx in fetch.py, apprise in
deliver.py, pydantic/yaml in settings.py), into these types, each carrying a `Reason`.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any


class Reason(enum.StrEnum):
    """Why something failed: a stable, machine-readable word for logs, metrics and the CLI."""

    timeout = "timeout"
    connect = "connect"
    tls = "tls"
    dns = "dns"
    http_4xx = "http_4xx"
    http_5xx = "http_5xx"
    rate_limited = "rate_limited"
    too_large = "too_large"
    too_many_redirects = "too_many_redirects"
    blocked_address = "blocked_address"
    bad_url = "bad_url"
    parse = "parse"
    structure = "structure"
    access_denied = "access_denied"  # a 200 answer that is a bot wall ("Request Access"), not the data
    config = "config"
    delivery = "delivery"
    database = "database"  # the database refused a write (locked, full, unreachable)
    unknown = "unknown"


class WatcherError(Exception):
    """Base of every error watcher raises on purpose."""

    reason: Reason = Reason.unknown

    def __init__(self, message: str, reason: Reason | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(WatcherError):
    """A configuration problem, rendered as one line: `FILE: KEY.PATH: reason`."""

    reason = Reason.config

    def __init__(self, reason_text: str, file: str | None = None, path: str | None = None) -> None:
        self.file = file
        self.path = path
        self.reason_text = reason_text
        super().__init__(self.render())

    def render(self) -> str:
        return ": ".join(p for p in (self.file, self.path, self.reason_text) if p)


class FetchError(WatcherError):
    """A source could not be fetched. `retry_after` (seconds) comes from a 429/503 answer."""

    def __init__(
        self,
        message: str,
        reason: Reason = Reason.unknown,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, reason)
        self.status = status
        self.retry_after = retry_after


class ParseError(WatcherError):
    reason = Reason.parse


class DeliveryError(WatcherError):
    """A channel did not accept an alert. `permanent` errors are not retried."""

    reason = Reason.delivery

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def format_validation_error(exc: Any, kinds: Sequence[str] = ()) -> str:
    """The first error of a pydantic ValidationError as `key.path: reason`. `kinds`: the tags of
    a discriminated union, left out of key paths (pydantic adds them; the file has no such key)."""
    err = exc.errors(include_url=False)[0]
    where = ""
    loc = tuple(err["loc"])
    for i, part in enumerate(loc):
        if isinstance(part, int):
            where += f"[{part}]"
        elif not (i > 0 and isinstance(loc[i - 1], int) and part in kinds):
            where = f"{where}.{part}" if where else str(part)
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "union_tag_invalid":
        tag = (err.get("ctx") or {}).get("tag")
        msg = f"unknown source kind {tag!r} (one of: {', '.join(kinds)})"
    elif err["type"] == "union_tag_not_found":
        msg = f"missing key 'kind' (one of: {', '.join(kinds)})"
    msg = msg.removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg
