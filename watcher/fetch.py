"""The one shared HTTP client: conditional GET, size and time limits, SSRF guard, error mapping.

Every httpx failure is translated here, once, into a `FetchError` with a `Reason`; callers never
see an httpx exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import socket
import ssl
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NamedTuple

import httpx

from watcher import __version__
from watcher.errors import FetchError, Reason
from watcher.models import FetchResult
from watcher.netguard import check_host
from watcher.settings import FetchSettings

USER_AGENT = f"watcher/{__version__} (+https://github.com/watcher-alerts/watcher)"
DEFAULT_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/html;q=0.8, */*;q=0.5"
)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_STATUS_REASONS = {4: Reason.http_4xx, 5: Reason.http_5xx}
_DNS_HINTS = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo failed",
    "temporary failure in name resolution",
    "no address associated",
)


class Fetcher:
    """Fetches URLs with one pooled `httpx.AsyncClient`; use as `async with Fetcher(limits) as f:`.

    Redirects are followed here, not by httpx, so that every hop passes `netguard.check_host`
    before a connection is opened. `allow_private` lifts that guard (tests, intranet sources).
    """

    def __init__(
        self,
        limits: FetchSettings,
        allow_private: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.limits = limits
        self.allow_private = allow_private
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._all = asyncio.Semaphore(limits.max_connections)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections; the Fetcher may be used again afterwards."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            pool = httpx.Limits(
                max_connections=self.limits.max_connections,
                max_keepalive_connections=min(20, self.limits.max_connections),
            )
            transport = self._transport or httpx.AsyncHTTPTransport(limits=pool, http2=False)
            self._client = httpx.AsyncClient(
                transport=transport,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            )
        return self._client

    @contextlib.asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """Hold one per-host and one global connection slot (per-host first, so requests queued
        for one busy host never sit on global slots that other hosts could use)."""
        per_host = self._hosts.get(host)
        if per_host is None:
            per_host = self._hosts[host] = asyncio.Semaphore(self.limits.per_host)
        async with per_host, self._all:
            yield

    async def fetch(
        self,
        url: str,
        *,
        timeout: float,
        etag: str | None = None,
        last_modified: str | None = None,
        previous_hash: str | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """Conditional GET of `url`; raise `FetchError` on any failure.

        `timeout` bounds each connect/read/write and also the whole fetch (host checks, all
        hops, the full body), so a server dripping bytes cannot hold a source forever. Time
        spent queueing for a free connection slot does not count against it.
        """
        headers = {"Accept": accept or DEFAULT_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        loop = asyncio.get_running_loop()
        started, current = loop.time(), url
        try:
            async with asyncio.timeout(timeout) as deadline:
                for _hop in range(self.limits.max_redirects + 1):
                    host = await self._check(current)
                    remaining = (deadline.when() or 0.0) - loop.time()
                    deadline.reschedule(None)  # queueing for a free slot is not the server's fault
                    async with self._slot(host):
                        deadline.reschedule(loop.time() + remaining)
                        answer = await self._get(current, headers, timeout)
                    if isinstance(answer, str):
                        current = answer
                        continue
                    elapsed = loop.time() - started
                    return _result(
                        url, current, answer, etag, last_modified, previous_hash, elapsed
                    )
        except TimeoutError:
            raise FetchError(
                f"GET {_shown(current)}: no complete answer within {timeout:g}s", Reason.timeout
            ) from None
        raise FetchError(
            f"GET {_shown(url)}: more than {self.limits.max_redirects} redirects",
            Reason.too_many_redirects,
        )

    async def _check(self, url: str) -> str:
        """Validate the scheme and refuse non-public hosts before any connection is made."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError(f"GET {_shown(url)}: invalid URL ({exc})", Reason.bad_url) from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise FetchError(f"GET {_shown(url)}: only http:// and https:// URLs", Reason.bad_url)
        await check_host(parsed.host, self.allow_private, parsed.port)
        return parsed.host.lower()

    async def _get(self, url: str, headers: dict[str, str], timeout: float) -> _Answer | str:
        """One GET: the final answer, or the next URL when the answer is a redirect."""
        try:
            async with self._http().stream("GET", url, headers=headers, timeout=timeout) as resp:
                if resp.status_code in REDIRECTS:
                    return _location(url, resp)
                body = b""
                if 200 <= resp.status_code < 300:
                    body = await _read_body(url, resp, self.limits)
                return _Answer(resp.status_code, resp.reason_phrase, resp.headers, body)
        except httpx.HTTPError as exc:
            raise _map_error(url, exc, timeout) from None


class _Answer(NamedTuple):
    """The parts of a final response that outlive its stream."""

    status: int
    phrase: str
    headers: httpx.Headers
    body: bytes


def _result(
    url: str,
    final: str,
    ans: _Answer,
    etag: str | None,
    last_modified: str | None,
    previous_hash: str | None,
    elapsed: float,
) -> FetchResult:
    """Turn the final answer into a FetchResult, or raise for a non-success status."""
    status, headers = ans.status, ans.headers
    if status == 304 or 200 <= status < 300:
        body_hash = hashlib.sha256(ans.body).hexdigest() if status != 304 else (previous_hash or "")
        return FetchResult(
            url=url,
            status=status,
            body=ans.body,
            headers=dict(headers),
            etag=headers.get("etag") or etag,
            last_modified=headers.get("last-modified") or last_modified,
            body_hash=body_hash,
            not_modified=status == 304,
            unchanged=status != 304 and body_hash == previous_hash,
            elapsed=elapsed,
            final_url=final if final != url else None,
        )
    message = f"GET {_shown(final)}: HTTP {status} {ans.phrase}".rstrip()
    if status in (429, 503):
        retry_after = parse_retry_after(headers.get("retry-after"))
        raise FetchError(message, Reason.rate_limited, status=status, retry_after=retry_after)
    raise FetchError(message, _STATUS_REASONS.get(status // 100, Reason.unknown), status=status)


def _location(url: str, resp: httpx.Response) -> str:
    location = resp.headers.get("location")
    if not location:
        raise FetchError(
            f"GET {_shown(url)}: HTTP {resp.status_code} without a Location header",
            Reason.unknown,
            status=resp.status_code,
        )
    try:
        return str(httpx.URL(url).join(location))
    except httpx.InvalidURL:
        raise FetchError(
            f"GET {_shown(url)}: bad redirect Location {location!r}", Reason.bad_url
        ) from None


async def _read_body(url: str, resp: httpx.Response, limits: FetchSettings) -> bytes:
    """Stream the body, counting wire bytes against max_body and decoded bytes against
    max_decompressed, so neither a huge download nor a gzip bomb is ever held in memory."""
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body:
        raise _too_large(url, f"Content-Length {declared} exceeds max_body {limits.max_body}")
    decoder = _Decoder(url, resp.headers.get("content-encoding"), limits.max_decompressed)
    received = 0
    async for chunk in resp.aiter_raw():
        received += len(chunk)
        if received > limits.max_body:
            raise _too_large(url, f"body exceeds max_body {limits.max_body} bytes")
        decoder.feed(chunk)
    return decoder.finish()


class _Decoder:
    """Incremental gzip/deflate decoding whose output never exceeds `limit` (+1) bytes."""

    def __init__(self, url: str, encoding: str | None, limit: int) -> None:
        names = [e.strip().lower() for e in (encoding or "").split(",")]
        names = [n for n in names if n and n != "identity"]
        if len(names) > 1 or (names and names[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(
                f"GET {_shown(url)}: unsupported Content-Encoding {encoding!r}", Reason.parse
            )
        self.url, self.limit, self.kind = url, limit, names[0] if names else None
        self.parts: list[bytes] = []
        self.size = 0
        wbits = zlib.MAX_WBITS | 16 if self.kind in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self.zobj = zlib.decompressobj(wbits) if self.kind else None
        self.started = False

    def _append(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise _too_large(self.url, f"decoded body exceeds max_decompressed {self.limit} bytes")
        self.parts.append(data)

    def feed(self, data: bytes) -> None:
        if self.zobj is None:
            return self._append(data)
        try:
            self._inflate(data)
        except zlib.error as exc:
            if self.kind != "deflate" or self.started:
                raise FetchError(
                    f"GET {_shown(self.url)}: corrupt {self.kind} body ({exc})", Reason.parse
                ) from None
            # "deflate" is sent both zlib-wrapped (per the RFC) and raw (by some servers).
            self.zobj = zlib.decompressobj(-zlib.MAX_WBITS)
            self.feed(data)
        self.started = True

    def _inflate(self, data: bytes) -> None:
        assert self.zobj is not None
        while data and not self.zobj.eof:
            self._append(self.zobj.decompress(data, self.limit - self.size + 1))
            data = self.zobj.unconsumed_tail

    def finish(self) -> bytes:
        if self.zobj is not None:
            self._append(self.zobj.flush())
        return b"".join(self.parts)


def _too_large(url: str, why: str) -> FetchError:
    return FetchError(f"GET {_shown(url)}: {why}", Reason.too_large)


def _map_error(url: str, exc: httpx.HTTPError, timeout: float) -> FetchError:
    """Translate an httpx exception into a FetchError with the right Reason."""
    shown = _shown(url)
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(
            f"GET {shown}: timed out after {timeout:g}s ({type(exc).__name__})", Reason.timeout
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return FetchError(f"GET {shown}: {exc}", Reason.bad_url)
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(str(c) for c in chain).lower()
    if any(isinstance(c, ssl.SSLError) for c in chain):
        return FetchError(f"GET {shown}: TLS error: {exc}", Reason.tls)
    if any(isinstance(c, socket.gaierror) for c in chain) or any(h in text for h in _DNS_HINTS):
        return FetchError(f"GET {shown}: cannot resolve host: {exc}", Reason.dns)
    return FetchError(f"GET {shown}: {type(exc).__name__}: {exc}".rstrip(": "), Reason.connect)


def _shown(url: str) -> str:
    """The URL without user:password, for messages and logs."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return url
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url


def backoff_delay(
    failures: int,
    *,
    base: float = 60.0,
    cap: float = 6 * 3600,
    retry_after: float | None = None,
    rand: random.Random | None = None,
) -> float:
    """Seconds to wait after `failures` consecutive failures: base·2^(failures-1), capped at `cap`,
    jittered to 50–100 % of that, and never less than the server's `retry_after`, itself capped
    at `cap` (a server's `Retry-After: 315360000` must not silence a source for ten years).
    There is no "give up": a source keeps being retried at the cap."""
    floor = min(max(retry_after or 0.0, 0.0), cap)
    if failures <= 0:
        return floor
    value = min(cap, base * 2.0 ** min(failures - 1, 60))
    jittered = (rand or random).uniform(value / 2, value)
    return max(jittered, floor)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A Retry-After header (delta-seconds or an HTTP-date) as seconds from `now`; None if absent
    or unreadable. A date in the past gives 0."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
