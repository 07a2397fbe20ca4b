"""Send one `Alert` to one configured channel through apprise; translate its failures once.

`apprise.notify()` does not raise: it returns a falsy result and logs why. `send()` turns that into a
`DeliveryError` carrying the reason apprise logged, scrubbed of every secret part of the URL (a
password, a token in the host or path, query values), and names the URL only in its redacted form.
Apprise itself logs some URLs in full (`Could not load Slack URL: slack://T…/B…/`), so while a
channel is being loaded or notified, a filter on apprise's and urllib3's loggers scrubs the same
secrets from every record before any handler sees it.

Sends are blocking; callers on the event loop run `send` in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import traceback
from collections.abc import Iterator
from typing import Literal
from urllib.parse import unquote, unquote_plus

import apprise

from watcher import alerts, netguard
from watcher.errors import DeliveryError, FetchError, Reason
from watcher.models import Alert
from watcher.settings import Channel

Format = Literal["markdown", "html", "text"]

log = logging.getLogger(__name__)

_ASSET = apprise.AppriseAsset(app_id="watcher", app_desc="watcher alerts")
_FORMATS: dict[str, Format] = {"markdown": "markdown", "html": "html", "text": "text"}
_URL = re.compile(
    r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?:(?P<userinfo>[^@/?#]*)@)?"
    r"(?P<hostport>[^/?#]*)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?$",
    re.DOTALL,
)
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.%]+\]$")
_MASK = "***"
# Path segments and query values shorter than this are words like `yes` or `v1`, not secrets;
# the userinfo is always treated as secret, whatever its length.
_MIN_SECRET = 4
_REASON_MAX = 600
_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "watcher_channel_secrets", default=()
)


def target_format(url: str) -> Format:
    """The body format the URL's apprise plugin wants: slack → markdown, mailto → html, …"""
    with _scrubbing(url):
        plugin = _instantiate(url)
    return _FORMATS.get(str(plugin.resolve_format(None).value), "text")


def check_channel_url(url: str, allow_private: bool) -> None:
    """Raise DeliveryError(permanent=True) when apprise can't load `url`, or when it would
    connect to a loopback/private address and `allow_private` is False."""
    with _scrubbing(url):
        plugin = _instantiate(url)
    _check_host(plugin, url, allow_private)


def send(channel: Channel, alert: Alert, *, allow_private: bool, timeout: float = 30) -> None:
    """Deliver `alert` to every URL of `channel`, each rendered in its own format.

    All URLs must succeed; the DeliveryError lists each (redacted) URL that failed and why. A
    channel without URLs prints the alert to stdout. Every URL is checked before anything is sent.
    """
    urls = channel.urls()
    if not urls:
        _print_to_console(alert)
        return
    plugins = []
    for url in urls:
        try:
            with _scrubbing(url):
                plugin = _instantiate(url)
            _check_host(plugin, url, allow_private)
        except DeliveryError as exc:
            raise _for_channel(channel, [exc]) from None
        _apply_timeout(plugin, url, timeout)
        plugins.append((url, plugin))
    failures = []
    for url, plugin in plugins:
        try:
            _notify(plugin, url, alert)
        except DeliveryError as exc:
            failures.append(exc)
    if failures:
        raise _for_channel(channel, failures)


def _for_channel(channel: Channel, failures: list[DeliveryError]) -> DeliveryError:
    message = f"channel {channel.name!r}: " + "; ".join(e.message for e in failures)
    error = DeliveryError(message, permanent=all(e.permanent for e in failures))
    error.reason = failures[0].reason
    return error


def redact(url: str) -> str:
    """`scheme://host/…` for logs and errors: no credentials, tokens, path or query values.

    The host comes from apprise's privacy URL (`plugin.url(privacy=True)`), which masks a host
    that is really a token (Slack's `T…A`); for a URL apprise can't load, a host that does not
    look like a host name is masked here.
    """
    with _scrubbing(url), contextlib.suppress(Exception):
        plugin = apprise.Apprise.instantiate(url, asset=_ASSET)
        if plugin is not None:
            return _redacted(plugin)
    return _shorten(url, trust_host=False)


def _redacted(plugin: apprise.NotifyBase) -> str:
    return _shorten(plugin.url(privacy=True), trust_host=True)


def _shorten(url: str, trust_host: bool) -> str:
    m = _URL.match(url.strip())
    if not m:
        scheme = url.split(":", 1)[0] if ":" in url else ""
        return f"{scheme}://…" if scheme.isalnum() else "(unparseable URL)"
    host = m["hostport"]
    if not trust_host and not _looks_like_host(host):
        host = _MASK
    rest = "/…" if (m["path"].strip("/") or m["query"] or m["fragment"]) else ""
    return f"{m['scheme'].lower()}://{host}{rest}"


def _looks_like_host(hostport: str) -> bool:
    host, _, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
    if not host:
        host, port = hostport, ""
    if port and not port.isdigit():
        return False
    return host == "localhost" or "." in host or bool(_IPV6.match(host))


def _instantiate(url: str) -> apprise.NotifyBase:
    try:
        plugin = apprise.Apprise.instantiate(url, asset=_ASSET)
    except Exception:  # a plugin's constructor may raise; apprise has already logged why
        plugin = None
    if plugin is None:
        # Not redact(url): loading the URL again would only repeat apprise's complaint in the logs.
        error = DeliveryError(
            f"{_shorten(url, trust_host=False)}: apprise cannot use this URL (unknown scheme or missing/invalid parts)",
            permanent=True,
        )
        error.reason = Reason.bad_url
        raise error
    return plugin


def _check_host(plugin: apprise.NotifyBase, url: str, allow_private: bool) -> None:
    """Check the host the plugin connects to; token-as-host plugins (Slack) call a fixed service."""
    if "host" not in plugin.template_tokens:
        return
    host = getattr(plugin, "smtp_host", None) or plugin.host
    if not host:
        return
    try:
        netguard.check_host_sync(str(host).strip("[]"), allow_private)
    except FetchError as exc:
        error = DeliveryError(
            f"{_redacted(plugin)}: {exc.message}", permanent=exc.reason is not Reason.dns
        )
        error.reason = exc.reason
        raise error from None


def _apply_timeout(plugin: apprise.NotifyBase, url: str, timeout: float) -> None:
    """The same as adding `cto=`/`rto=` to the URL, unless the URL already sets them."""
    m = _URL.match(url.strip())
    query = (m["query"] or "") if m else ""
    keys = {part.split("=", 1)[0].lower() for part in query.split("&")}
    if "cto" not in keys:
        plugin.socket_connect_timeout = float(timeout)
    if "rto" not in keys:
        plugin.socket_read_timeout = float(timeout)


def _notify(plugin: apprise.NotifyBase, url: str, alert: Alert) -> None:
    fmt = _FORMATS.get(str(plugin.resolve_format(None).value), "text")
    title, body = alerts.render(alert, fmt)
    sender = apprise.Apprise(asset=_ASSET)
    sender.add(plugin)
    with _scrubbing(url):
        try:
            result = sender.notify(body=body, title=title, body_format=fmt, log_level=logging.DEBUG)
        except Exception as exc:  # apprise raises only for bad arguments; don't leak its text raw
            raise DeliveryError(f"{_redacted(plugin)} failed: {scrub(str(exc), url)}") from None
        if result:
            log.info(
                "alert delivered channel=%s alert=%s url=%s",
                alert.channel,
                alert.dedup_key,
                _redacted(plugin),
            )
            return
        reason_text = _reason_text(result, url)
    error = DeliveryError(f"{_redacted(plugin)} failed: {reason_text}")
    error.reason = _classify(reason_text, str(getattr(result.status, "name", "")))
    raise error


def _reason_text(result: apprise.AppriseResult, url: str) -> str:
    """What apprise logged about the failure: warnings and errors, plus socket exceptions,
    which apprise logs at DEBUG (present when the apprise logger lets DEBUG records through)."""
    lines: list[str] = []
    for entry in result.logs():
        text = entry.message.strip()
        if entry.level in ("WARNING", "ERROR", "CRITICAL") or text.startswith("Socket Exception"):
            text = scrub(text, url)
            if text and text not in lines:
                lines.append(text)
    status = str(getattr(result.status, "name", "FAILURE"))
    if status == "TIMEOUT":
        lines.insert(0, "timed out")
    if not lines:
        lines.append(f"apprise reported {status} without a reason")
    text = " | ".join(lines)
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"


def _classify(text: str, status: str) -> Reason:
    code = re.search(r"\berror=(\d{3})\b", text)
    if code:
        n = int(code.group(1))
        if n == 429:
            return Reason.rate_limited
        return Reason.http_5xx if n >= 500 else Reason.http_4xx
    lower = text.lower()
    if status == "TIMEOUT" or "timed out" in lower or "timeout" in lower:
        return Reason.timeout
    if "connection" in lower or "refused" in lower:
        return Reason.connect
    return Reason.delivery


def _print_to_console(alert: Alert) -> None:
    """With no channel configured, alerts go to the console."""
    title, body = alerts.render(alert, "text")
    rule = "-" * min(len(title), 72)
    sys.stdout.write(f"{title}\n{rule}\n{body}\n\n")
    sys.stdout.flush()


# --- secrets --------------------------------------------------------------------------------


def secrets_of(url: str) -> tuple[str, ...]:
    """Every part of `url` that may be secret, longest first, raw and percent-decoded:
    user and password, a host that is not a host name (a token), path segments, query values."""
    m = _URL.match(url.strip())
    if not m:
        return (url,) if url else ()
    parts: set[str] = set()
    userinfo = m["userinfo"] or ""
    for piece in userinfo.split(":", 1):
        if piece:
            parts.add(piece)
    if m["hostport"] and not _looks_like_host(m["hostport"]):
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
    for secret in secrets_of(url):
        text = text.replace(secret, _MASK)
    return text


@contextlib.contextmanager
def _scrubbing(url: str) -> Iterator[None]:
    """While active (in this thread, and in threads apprise starts with a copy of its context),
    log records from apprise and urllib3 have `url`'s secrets replaced by ***."""
    token = _secrets.set(_secrets.get() + secrets_of(url))
    try:
        yield
    finally:
        _secrets.reset(token)


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        secrets = _secrets.get()
        if not secrets:
            return True
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            record.exc_info = None
            record.exc_text = None
        for secret in secrets:
            message = message.replace(secret, _MASK)
        record.msg, record.args = message, None
        return True


def _install_filter() -> None:
    # A logger's own filters run only for records logged on it, so name each logger that may
    # print a URL: apprise (all plugins share it) and urllib3's pool (request lines with query).
    for name in ("apprise", "urllib3.connectionpool"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _ScrubFilter) for f in logger.filters):
            logger.addFilter(_ScrubFilter())


_install_filter()
