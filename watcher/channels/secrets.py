"""The secret parts of apprise URLs: find them, scrub them from text and from log records.

Apprise logs some URLs in full (`Could not load Slack URL: slack://T…/B…/`), so while a URL is
being loaded or notified (`scrubbing(url)`), a filter on apprise's and urllib3's loggers replaces
its secrets in every record before any handler sees it.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import traceback
from collections.abc import Iterator
from urllib.parse import unquote, unquote_plus

URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:(?P<userinfo>[^@/?#]*)@)?"
    r"(?P<hostport>[^/?#]*)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?$",
    re.DOTALL,
)
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.%]+\]$")
MASK = "***"
# Path segments and query values shorter than this are words like `yes` or `v1`, not secrets;
# the userinfo is always treated as secret, whatever its length.
_MIN_SECRET = 4
_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "watcher_channel_secrets", default=()
)


def shorten(url: str, trust_host: bool) -> str:
    m = URL.match(url.strip())
    if not m:
        scheme = url.split(":", 1)[0] if ":" in url else ""
        return f"{scheme}://…" if scheme.isalnum() else "(unparseable URL)"
    host = m["hostport"]
    if not trust_host and not looks_like_host(host):
        host = MASK
    rest = "/…" if (m["path"].strip("/") or m["query"] or m["fragment"]) else ""
    return f"{m['scheme'].lower()}://{host}{rest}"


def looks_like_host(hostport: str) -> bool:
    host, _, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
    if not host:
        host, port = hostport, ""
    if port and not port.isdigit():
        return False
    return host == "localhost" or "." in host or bool(_IPV6.match(host))


def secrets_of(url: str) -> tuple[str, ...]:
    """Every part of `url` that may be secret, longest first, raw and percent-decoded:
    user and password, a host that is not a host name (a token), path segments, query values."""
    m = URL.match(url.strip())
    if not m:
        return (url,) if url else ()
    parts: set[str] = set()
    userinfo = m["userinfo"] or ""
    for piece in userinfo.split(":", 1):
        if piece:
            parts.add(piece)
    if m["hostport"] and not looks_like_host(m["hostport"]):
        parts.add(m["hostport"])
        parts.update(p for p in m["hostport"].split(":") if len(p) >= _MIN_SECRET)
    for segment in (m["path"] or "").split("/"):
        if len(segment) >= _MIN_SECRET:
            parts.add(segment)
    for pair in re.split(r"[&;]", m["query"] or ""):
        value = pair.split("=", 1)[1] if "=" in pair else ""
        if len(value) >= _MIN_SECRET:
            parts.add(value)
    if m["fragment"] and len(m["fragment"]) >= _MIN_SECRET:
        parts.add(m["fragment"])
    variants = parts | {unquote(p) for p in parts} | {unquote_plus(p) for p in parts}
    return tuple(sorted((v for v in variants if v), key=len, reverse=True))


def scrub(text: str, url: str) -> str:
    """`text` with every secret part of `url` replaced by ***."""
    return mask(text, secrets_of(url))


def mask(text: str, secrets: tuple[str, ...]) -> str:
    """Each secret replaced by ***: a long one wherever it occurs, a short one (a user name `u`)
    only where it stands alone, so that it does not mangle every word it happens to be in."""
    for secret in secrets:
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, MASK)
        elif secret in text:
            text = re.sub(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])", MASK, text)
    return text


@contextlib.contextmanager
def scrubbing(url: str) -> Iterator[None]:
    """While active (in this thread, and in threads apprise starts with a copy of its context),
    log records from apprise and urllib3 have `url`'s secrets replaced by ***."""
    token = _secrets.set(_secrets.get() + secrets_of(url))
    try:
        yield
    finally:
        _secrets.reset(token)


class ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secrets.get()
        if not secrets:
            return True
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info = None
            record.exc_text = None
        message = mask(message, secrets)
        record.msg, record.args = message, None
        return True


def _install_filter() -> None:
    # A logger's own filters run only for records logged on it, so name each logger that may
    # print a URL: apprise (all plugins share it) and urllib3's pool (request lines with query).
    for name in ("apprise", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, ScrubFilter) for f in logger.filters):
            logger.addFilter(ScrubFilter())


_install_filter()
