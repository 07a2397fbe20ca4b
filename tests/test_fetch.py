"""fetch.py against a real local HTTP server (tests/servers.py); nothing is mocked."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.servers import LocalServer, Route, feed_xml, gzip_bomb, redirect, serve
from watcher import __version__
from watcher.errors import FetchError, Reason
from watcher.fetch import USER_AGENT, Fetcher, backoff_delay, parse_retry_after
from watcher.settings import FetchSettings

FEED = feed_xml(
    [
        {
            "guid": "1",
            "title": "Entity List additions",
            "link": "http://x.example/1",
            "pubDate": datetime(2024, 5, 1, tzinfo=UTC),
        }
    ]
)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serve() as s:
        yield s


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    # The test server listens on loopback, which the SSRF guard refuses unless allowed.
    async with Fetcher(FetchSettings(), allow_private=True) as f:
        yield f


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real transport, noting every URL it is asked to connect to."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.urls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def fetch_error(fetcher: Fetcher, url: str, timeout: float = 5.0) -> FetchError:
    with pytest.raises(FetchError) as info:
        await fetcher.fetch(url, timeout=timeout)
    return info.value


# -- conditional GET ------------------------------------------------------------------------------


async def test_a_second_fetch_with_an_etag_gets_304_and_no_body(server, fetcher):
    server.set("/feed", FEED, etag='"v1"')
    first = await fetcher.fetch(server.url("/feed"), timeout=5)
    assert first.status == 200 and first.body == FEED and first.etag == '"v1"'
    assert first.body_hash == hashlib.sha256(FEED).hexdigest()

    second = await fetcher.fetch(
        server.url("/feed"), timeout=5, etag=first.etag, previous_hash=first.body_hash
    )
    assert second.not_modified and second.status == 304
    assert second.body == b"" and second.etag == '"v1"' and second.body_hash == first.body_hash
    assert server.requests("/feed")[1][1]["if-none-match"] == '"v1"'


async def test_a_second_fetch_with_last_modified_gets_304_and_keeps_the_date(server, fetcher):
    stamp = "Wed, 01 May 2024 12:00:00 GMT"
    server.set("/feed", FEED, last_modified=stamp)
    first = await fetcher.fetch(server.url("/feed"), timeout=5)
    assert first.last_modified == stamp and not first.not_modified

    second = await fetcher.fetch(server.url("/feed"), timeout=5, last_modified=first.last_modified)
    assert second.not_modified and second.last_modified == stamp and second.body == b""
    assert server.requests("/feed")[1][1]["if-modified-since"] == stamp


async def test_a_304_carries_over_the_validators_the_server_did_not_repeat(server, fetcher):
    server.set("/feed", Route(status=304))
    result = await fetcher.fetch(
        server.url("/feed"), timeout=5, etag='"old"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT"
    )
    assert result.not_modified
    assert result.etag == '"old"' and result.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"


async def test_a_body_with_the_previous_hash_is_marked_unchanged(server, fetcher):
    server.set("/feed", FEED)
    first = await fetcher.fetch(server.url("/feed"), timeout=5)
    assert not first.unchanged
    second = await fetcher.fetch(server.url("/feed"), timeout=5, previous_hash=first.body_hash)
    assert second.unchanged and not second.not_modified and second.body == FEED


async def test_a_gzipped_body_is_decoded_and_hashed_decoded(server, fetcher):
    server.set("/feed", FEED, gzip=True)
    result = await fetcher.fetch(server.url("/feed"), timeout=5)
    assert result.body == FEED and result.body_hash == hashlib.sha256(FEED).hexdigest()
    assert "gzip" in server.requests("/feed")[0][1]["accept-encoding"]


# -- headers ------------------------------------------------------------------------------------


async def test_requests_name_watcher_and_its_version_and_ask_for_feeds(server, fetcher):
    server.set("/feed", FEED)
    await fetcher.fetch(server.url("/feed"), timeout=5)
    headers = server.requests("/feed")[0][1]
    assert headers["user-agent"] == USER_AGENT
    assert headers["user-agent"].startswith(f"watcher/{__version__} ")
    assert headers["accept"].startswith("application/rss+xml")
    await fetcher.fetch(server.url("/feed"), timeout=5, accept="application/json")
    assert server.requests("/feed")[1][1]["accept"] == "application/json"


# -- limits ---------------------------------------------------------------------------------------


async def test_a_body_over_max_body_is_refused_as_too_large(server):
    server.set("/big", b"x" * 200_000)
    server.set("/big-chunked", b"x" * 200_000, chunked=True)  # no Content-Length to go by
    async with Fetcher(FetchSettings(max_body=100_000), allow_private=True) as f:
        for path in ("/big", "/big-chunked"):
            err = await fetch_error(f, server.url(path))
            assert err.reason is Reason.too_large and "max_body" in str(err)


async def test_a_gzip_bomb_is_stopped_by_the_decompressed_cap_quickly(server):
    bomb = gzip_bomb(200 * 1024 * 1024)  # 200 MiB of zeros in about 200 KB
    server.set("/bomb", Route(body=bomb, headers={"Content-Encoding": "gzip"}))
    limits = FetchSettings(max_body=1024 * 1024, max_decompressed=5 * 1024 * 1024)
    async with Fetcher(limits, allow_private=True) as f:
        started = time.monotonic()
        err = await fetch_error(f, server.url("/bomb"))
    assert err.reason is Reason.too_large and "max_decompressed" in str(err)
    assert time.monotonic() - started < 2


# -- redirects and the SSRF guard -------------------------------------------------------------


def redirect_chain(server: LocalServer, hops: int) -> str:
    for i in range(hops):
        server.set(f"/hop{i}", redirect(f"/hop{i + 1}" if i % 2 else server.url(f"/hop{i + 1}")))
    server.set(f"/hop{hops}", FEED)
    return server.url("/hop0")


async def test_five_redirects_are_followed_to_the_feed(server, fetcher):
    result = await fetcher.fetch(redirect_chain(server, 5), timeout=5)
    assert result.body == FEED and result.final_url == server.url("/hop5")
    assert result.url == server.url("/hop0")


async def test_six_redirects_are_too_many(server, fetcher):
    err = await fetch_error(fetcher, redirect_chain(server, 6))
    assert err.reason is Reason.too_many_redirects
    assert server.hits("/hop5") == 1 and server.hits("/hop6") == 0


async def test_a_loopback_url_is_refused_when_private_networks_are_not_allowed(server):
    server.set("/feed", FEED)
    async with Fetcher(FetchSettings()) as f:
        err = await fetch_error(f, server.url("/feed"))
    assert err.reason is Reason.blocked_address
    assert server.hits("/feed") == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/feed",
        "http://[::ffff:192.168.1.1]/feed",
    ],
)
async def test_a_private_literal_address_is_refused_without_connecting(url):
    transport = RecordingTransport()
    async with Fetcher(FetchSettings(), transport=transport) as f:
        err = await fetch_error(f, url)
    assert err.reason is Reason.blocked_address
    assert transport.urls == []


async def test_a_redirect_to_a_private_address_is_refused_before_connecting(server, monkeypatch):
    # The first hop is the test server, on loopback; let only that through the guard so the
    # redirect target meets the real check.
    import watcher.fetch as fetch_module
    from watcher.netguard import check_host

    async def guard_except_test_server(host: str, allow_private: bool, port: int | None = None):
        await check_host(host, allow_private or port == server.port, port)

    monkeypatch.setattr(fetch_module, "check_host", guard_except_test_server)
    server.set("/feed", redirect("http://169.254.169.254/latest/meta-data/"))
    transport = RecordingTransport()
    async with Fetcher(FetchSettings(), transport=transport) as f:
        err = await fetch_error(f, server.url("/feed"))
    assert err.reason is Reason.blocked_address and "169.254.169.254" in str(err)
    assert transport.urls == [server.url("/feed")]


@pytest.mark.parametrize("url", ["ftp://example.com/feed", "file:///etc/passwd", "not a url"])
async def test_only_http_and_https_urls_are_fetched(url, fetcher):
    err = await fetch_error(fetcher, url)
    assert err.reason is Reason.bad_url


async def test_a_redirect_to_another_scheme_is_refused(server, fetcher):
    server.set("/feed", redirect("file:///etc/passwd"))
    err = await fetch_error(fetcher, server.url("/feed"))
    assert err.reason is Reason.bad_url


# -- error mapping -------------------------------------------------------------------------------


async def test_429_with_retry_after_is_rate_limited_with_the_delay(server, fetcher):
    server.set("/feed", Route(status=429, headers={"Retry-After": "120"}))
    err = await fetch_error(fetcher, server.url("/feed"))
    assert err.reason is Reason.rate_limited and err.retry_after == 120 and err.status == 429


async def test_503_is_rate_limited_too(server, fetcher):
    server.set("/feed", Route(status=503, headers={"Retry-After": "30"}))
    err = await fetch_error(fetcher, server.url("/feed"))
    assert err.reason is Reason.rate_limited and err.retry_after == 30


async def test_500_is_http_5xx_and_the_message_names_url_and_status(server, fetcher):
    server.set("/feed", Route(status=500))
    err = await fetch_error(fetcher, server.url("/feed"))
    assert err.reason is Reason.http_5xx and err.status == 500
    assert str(err) == f"GET {server.url('/feed')}: HTTP 500 Internal Server Error"


async def test_404_is_http_4xx(server, fetcher):
    err = await fetch_error(fetcher, server.url("/missing"))
    assert err.reason is Reason.http_4xx and err.status == 404


async def test_a_server_slower_than_the_timeout_is_a_timeout(server, fetcher):
    server.set("/slow", FEED, delay=3)
    started = time.monotonic()
    err = await fetch_error(fetcher, server.url("/slow"), timeout=0.3)
    assert err.reason is Reason.timeout
    assert time.monotonic() - started < 2


async def test_a_slow_drip_body_cannot_outlast_the_overall_deadline(server, fetcher):
    # Each chunk arrives well within the read timeout; only the overall deadline stops it.
    server.set("/drip", b"x" * 100, drip=0.1, chunk_size=1)
    started = time.monotonic()
    err = await fetch_error(fetcher, server.url("/drip"), timeout=0.5)
    assert err.reason is Reason.timeout
    assert time.monotonic() - started < 2


async def test_a_closed_port_is_a_connect_error(fetcher):
    with LocalServer() as gone:
        url = gone.url("/feed")
    err = await fetch_error(fetcher, url)
    assert err.reason is Reason.connect


async def test_https_to_a_plain_http_port_is_a_tls_error(server, fetcher):
    server.set("/feed", FEED)
    err = await fetch_error(fetcher, server.url("/feed").replace("http://", "https://"))
    assert err.reason is Reason.tls


@pytest.mark.parametrize("allow_private", [True, False])
async def test_a_name_that_does_not_resolve_is_a_dns_error(allow_private):
    # .invalid never resolves (RFC 6761); with the guard on, netguard resolves it first.
    async with Fetcher(FetchSettings(), allow_private=allow_private) as f:
        err = await fetch_error(f, "http://no-such-host.invalid/feed")
    assert err.reason is Reason.dns


async def test_credentials_in_the_url_stay_out_of_error_messages(server, fetcher):
    server.set("/feed", Route(status=500))
    err = await fetch_error(fetcher, server.url("/feed").replace("http://", "http://user:s3cret@"))
    assert "s3cret" not in str(err)


# -- concurrency -----------------------------------------------------------------------------------


async def test_no_more_than_per_host_requests_reach_one_host_at_once(server):
    server.set("/feed", FEED, delay=0.1)
    async with Fetcher(FetchSettings(per_host=3), allow_private=True) as f:
        await asyncio.gather(*(f.fetch(server.url("/feed"), timeout=10) for _ in range(12)))
    assert server.hits("/feed") == 12
    assert server.max_concurrent("/feed") == 3


async def test_a_busy_host_does_not_hold_slots_another_host_needs():
    # 127.0.0.2 is a different host to the per-host limit, though the same machine.
    with serve() as busy, serve("127.0.0.2") as other:
        busy.set("/feed", FEED, delay=0.3)
        other.set("/feed", FEED)
        async with Fetcher(FetchSettings(max_connections=4, per_host=2), allow_private=True) as f:
            queued = [
                asyncio.ensure_future(f.fetch(busy.url("/feed"), timeout=10)) for _ in range(4)
            ]
            await asyncio.sleep(0)  # one turn of the loop: the queued fetches claim their slots
            await f.fetch(other.url("/feed"), timeout=10)
            assert not any(t.done() for t in queued)  # it did not wait behind the busy host
            await asyncio.gather(*queued)


async def test_two_hundred_slow_sources_are_fetched_concurrently_in_well_under_20s(server):
    # Sequentially this takes 200 × 0.1 s = 20 s.
    for i in range(200):
        server.set(f"/feed{i}", FEED, delay=0.1)
    async with Fetcher(FetchSettings(per_host=64), allow_private=True) as f:
        started = time.monotonic()
        results = await asyncio.gather(
            *(f.fetch(server.url(f"/feed{i}"), timeout=10) for i in range(200))
        )
        elapsed = time.monotonic() - started
    assert all(r.body == FEED for r in results)
    assert elapsed < 5
    assert server.max_concurrent() > 1


# -- backoff and Retry-After -----------------------------------------------------------------------


def test_backoff_doubles_with_each_failure_within_a_jitter_band():
    rand = random.Random(1)
    for failures in range(1, 8):
        nominal = 60.0 * 2 ** (failures - 1)
        delays = [backoff_delay(failures, rand=rand) for _ in range(50)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert len(set(delays)) > 1  # jittered, so many sources don't retry in lockstep


def test_backoff_is_capped_and_never_gives_up():
    rand = random.Random(2)
    for failures in (20, 100, 10_000):
        assert 3 * 3600 <= backoff_delay(failures, rand=rand) <= 6 * 3600
    assert backoff_delay(50, cap=600, rand=rand) <= 600


def test_backoff_waits_at_least_as_long_as_retry_after():
    rand = random.Random(3)
    assert backoff_delay(1, retry_after=3600, rand=rand) == 3600
    assert backoff_delay(10, base=60, retry_after=1, rand=rand) >= 60 * 2**9 / 2


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 01 May 2024 12:02:00 GMT", now=now) == 120
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
