"""Send one `Alert` to the targets (apprise URLs) of a channel; translate apprise's failures once.

The outbox delivers an alert once per target: `targets()` names them by a stable key and
`send_to()` sends to one of them, carrying a stable delivery id to the receiver (`Message-ID` in
e-mail, the `X-Watcher-Delivery-Id` header and a structured body in webhooks). `send()` sends to
all of them (`watcher notify-test`).

`apprise.notify()` does not raise: it returns a falsy result and logs why. The send turns that into
a `DeliveryError` carrying the reason apprise logged, scrubbed of every secret part of the URL (a
password, a token in the host or path, query values), and names the URL only in its redacted form
(`secrets.py`; it also scrubs apprise's own log records). E-mail gets our Message-ID and text part
through `mail.py`.

Sends are blocking; callers on the event loop run them in a thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import logging
import re
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import apprise
from apprise.plugins.custom_form import NotifyForm
from apprise.plugins.custom_json import NotifyJSON
from apprise.plugins.custom_xml import NotifyXML
from apprise.plugins.email import NotifyEmail

from watcher import alerts, netguard
from watcher.channels.mail import Mail, mailing, message_id
from watcher.channels.secrets import URL, scrub, scrubbing, secrets_of, shorten
from watcher.errors import DeliveryError, FetchError, Reason
from watcher.models import Alert
from watcher.settings import Channel

__all__ = [
    "CONSOLE",
    "DELIVERY_HEADER",
    "PAYLOAD_KEY",
    "Target",
    "check_channel_url",
    "message_id",
    "redact",
    "scrub",
    "secrets_of",
    "send",
    "send_to",
    "target_format",
    "target_key",
    "targets",
]

Format = Literal["markdown", "html", "text"]

log = logging.getLogger(__name__)

CONSOLE = "console"  # the key and label of the one target of a channel without URLs
DELIVERY_HEADER = "X-Watcher-Delivery-Id"
PAYLOAD_KEY = "watcher"  # the structured alert in a JSON webhook's body
_KEY_ROUNDS = 20_000

_ASSET = apprise.AppriseAsset(app_id="watcher", app_desc="watcher alerts")
_FORMATS: dict[str, Format] = {"markdown": "markdown", "html": "html", "text": "text"}
_REASON_MAX = 600
_PARSED: dict[str, dict[str, Any]] = {}  # url → apprise's parse of it (`_parsed`)
_LABELS: dict[tuple[str, float, float], str] = {}  # (url, timeouts) → its redacted label (`_label`)


def target_format(url: str) -> Format:
    """The body format the URL's apprise plugin wants: slack → markdown, mailto → html, …"""
    with scrubbing(url):
        plugin = _instantiate(url)
    return _FORMATS.get(str(plugin.resolve_format(None).value), "text")


def check_channel_url(url: str, allow_private: bool) -> None:
    """Raise DeliveryError(permanent=True) when apprise can't load `url`, or when it would
    connect to a loopback/private address and `allow_private` is False."""
    with scrubbing(url):
        plugin = _instantiate(url)
    _check_host(plugin, url, allow_private)


@dataclass(frozen=True, slots=True)
class Target:
    """One apprise URL of a channel, as the outbox stores its deliveries: a stable `key`, the
    redacted `label` for people (`watcher alerts`), and the secret `url`, never repr'd."""

    key: str
    label: str
    url: str = field(repr=False)


def targets(channel: Channel) -> list[Target]:
    """One target per distinct URL of `channel`, in order; a channel without URLs has one
    console target (key `console`)."""
    pairs = _pairs(channel)
    if not pairs:
        return [Target(CONSOLE, CONSOLE, "")]
    return [Target(key, redact(url), url) for key, url in pairs]


def target_key(url: str) -> str:
    """A stable short id of `url`: 16 hex digits, the same in every process and release.

    It is stored and shown beside deliveries, and the URL holds secrets (an SMTP password, a
    webhook token), so it is a slow salted hash (PBKDF2), not a bare SHA-256 that would let a
    weak password be guessed from it offline; cached, so each URL costs the hashing once.
    """
    return _target_key(url.strip())


@functools.lru_cache(maxsize=1024)
def _target_key(url: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", url.encode(), b"watcher target key", _KEY_ROUNDS)
    return digest[:8].hex()


def send_to(
    channel: Channel,
    target_key: str,
    alert: Alert,
    delivery_id: str,
    *,
    allow_private: bool,
    timeout: float = 30,
) -> None:
    """Deliver `alert` to the one target of `channel` whose key is `target_key`.

    `delivery_id` (stable across retries) reaches the receiver so that it can drop a repeat: in
    e-mail as the Message-ID, in webhooks as the `X-Watcher-Delivery-Id` header (and in a JSON
    webhook's body). Raises DeliveryError, permanent when the target is no longer configured.
    """
    pairs = _pairs(channel)
    if not pairs and target_key == CONSOLE:
        _print_to_console(alert)
        return
    url = next((u for k, u in pairs if k == target_key), None)
    if url is None:
        error = DeliveryError(
            f"channel {channel.name!r}: target {target_key} is no longer configured", permanent=True
        )
        error.reason = Reason.config
        raise error
    try:
        _notify(_prepare(url, allow_private, timeout), url, alert, delivery_id)
    except DeliveryError as exc:
        raise _for_channel(channel, [exc]) from None


def send(
    channel: Channel,
    alert: Alert,
    *,
    allow_private: bool,
    timeout: float = 30,
    delivery_id: str | None = None,
) -> None:
    """Deliver `alert` to every target of `channel` (`watcher notify-test`), each in its format.

    Every URL is checked before anything is sent; then all are tried, and the DeliveryError lists
    each (redacted) URL that failed and why. A channel without URLs prints the alert to stdout.
    Without a `delivery_id`, each target gets a fresh one.
    """
    pairs = _pairs(channel)
    if not pairs:
        _print_to_console(alert)
        return
    try:
        prepared = [(url, _prepare(url, allow_private, timeout)) for _, url in pairs]
    except DeliveryError as exc:
        raise _for_channel(channel, [exc]) from None
    failures = []
    for url, plugin in prepared:
        try:
            _notify(plugin, url, alert, delivery_id or f"send-{uuid.uuid4().hex}")
        except DeliveryError as exc:
            failures.append(exc)
    if failures:
        raise _for_channel(channel, failures)


def _pairs(channel: Channel) -> list[tuple[str, str]]:
    """(key, url) of each distinct URL of `channel`, in order."""
    seen: dict[str, str] = {}
    for url in channel.urls():
        seen.setdefault(target_key(url), url)
    return list(seen.items())


def _prepare(url: str, allow_private: bool, timeout: float) -> apprise.NotifyBase:
    """A fresh plugin for `url` (never shared across sends or threads), host checked."""
    with scrubbing(url):
        plugin = _instantiate(url)
    _check_host(plugin, url, allow_private)
    _apply_timeout(plugin, url, timeout)
    return plugin


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
    with scrubbing(url), contextlib.suppress(Exception):
        plugin = apprise.Apprise.instantiate(url, asset=_ASSET)
        if plugin is not None:
            return _redacted(plugin)
    return shorten(url, trust_host=False)


def _redacted(plugin: apprise.NotifyBase) -> str:
    return shorten(plugin.url(privacy=True), trust_host=True)


def _instantiate(url: str) -> apprise.NotifyBase:
    try:
        plugin = apprise.Apprise.instantiate(_parsed(url), asset=_ASSET)
    except Exception:  # a plugin's constructor may raise; apprise has already logged why
        plugin = None
    if plugin is None:
        # Not redact(url): loading the URL again would only repeat apprise's complaint in the logs.
        error = DeliveryError(
            f"{shorten(url, trust_host=False)}: apprise cannot use this URL (unknown scheme or missing/invalid parts)",
            permanent=True,
        )
        error.reason = Reason.bad_url
        raise error
    return plugin


def _parsed(url: str) -> dict[str, Any] | str:
    """What apprise parses `url` into (its plugin's constructor arguments), parsed once per URL:
    parsing is most of the cost of a plugin. Each call gets its own deep copy, so that no two
    plugins (sends, threads) share a mutable argument. A URL apprise cannot parse is returned as
    it is, for `instantiate` to fail on (and log) again."""
    parsed = _PARSED.get(url)
    if parsed is None:
        parsed = apprise.plugins.url_to_dict(url, secure_logging=_ASSET.secure_logging)
        if parsed is None:
            return url
        if len(_PARSED) >= 1024:
            _PARSED.clear()
        _PARSED[url] = parsed
    return copy.deepcopy(parsed)


def _label(plugin: apprise.NotifyBase, url: str) -> str:
    """`_redacted(plugin)` of a plugin fresh from `url` (before `_stamp`), computed once per URL
    and timeouts (apprise lists non-default timeouts in a plugin's URL)."""
    key = (url, plugin.socket_connect_timeout, plugin.socket_read_timeout)
    label = _LABELS.get(key)
    if label is None:
        if len(_LABELS) >= 1024:
            _LABELS.clear()
        label = _LABELS[key] = _redacted(plugin)
    return label


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
    m = URL.match(url.strip())
    query = (m["query"] or "") if m else ""
    keys = {part.split("=", 1)[0].lower() for part in query.split("&")}
    if "cto" not in keys:
        plugin.socket_connect_timeout = float(timeout)
    if "rto" not in keys:
        plugin.socket_read_timeout = float(timeout)


def _notify(plugin: apprise.NotifyBase, url: str, alert: Alert, delivery_id: str) -> None:
    fmt = _FORMATS.get(str(plugin.resolve_format(None).value), "text")
    title, body = alerts.render(alert, fmt)
    label = _label(plugin, url)  # before _stamp: a plugin's URL lists its headers and payload extras
    mail = _stamp(plugin, alert, delivery_id)
    sender = apprise.Apprise(asset=_ASSET)
    sender.add(plugin)
    with scrubbing(url), mailing(mail):
        try:
            result = sender.notify(body=body, title=title, body_format=fmt, log_level=logging.DEBUG)
        except Exception as exc:  # apprise raises only for bad arguments; don't leak its text raw
            raise DeliveryError(f"{label} failed: {scrub(str(exc), url)}") from None
        if result:
            log.info(
                "alert delivered channel=%s alert=%s delivery=%s url=%s",
                alert.channel,
                alert.dedup_key,
                delivery_id,
                label,
            )
            return
        reason_text = _reason_text(result, url)
    error = DeliveryError(f"{label} failed: {reason_text}")
    error.reason = _classify(reason_text, str(getattr(result.status, "name", "")))
    raise error


def _stamp(plugin: apprise.NotifyBase, alert: Alert, delivery_id: str) -> Mail | None:
    """Put the delivery id where the receiver sees it; for e-mail, return the Message-ID and the
    text/plain part to use. `plugin` is this send's own instance, so changing it is safe."""
    if isinstance(plugin, (NotifyJSON, NotifyForm, NotifyXML, NotifyEmail)):
        plugin.headers[DELIVERY_HEADER] = delivery_id
    if isinstance(plugin, NotifyJSON):
        # Merged into the payload beside apprise's version, title, message and type.
        plugin.payload_extras[PAYLOAD_KEY] = alerts.structured(alert, delivery_id)
    if isinstance(plugin, NotifyEmail):
        domain = str(plugin.from_addr[1]).rpartition("@")[2] or str(plugin.smtp_host)
        return Mail(message_id(delivery_id, alert, domain), alerts.render(alert, "text")[1])
    return None


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
