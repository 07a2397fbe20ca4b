"""A real HTTP server on 127.0.0.x for tests, with routes the test sets.

    with serve() as server:
        server.set("/feed", feed_xml([...]), etag='"v1"')
        result = await fetcher.fetch(server.url("/feed"), timeout=5)
        assert server.hits("/feed") == 1

Routes cover what sources meet in the wild: ETag / Last-Modified (304), slow answers, slow-drip
bodies, failures (500, 429 + Retry-After, 503), oversized bodies, gzip bombs and redirects. The
server counts hits and concurrent requests per path; it is threaded (one thread per connection,
daemon threads, a 1024-deep accept queue) so hundreds of simultaneous clients are fine, and it
logs nothing per request.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip as gzip_module
import sys
import threading
import traceback
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; header names are lower-case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""


Body = bytes | str | Callable[[Request], bytes | str]


@dataclass(frozen=True)
class Route:
    """How the server answers one path.

    `etag` / `last_modified` are sent with the answer and turn a matching If-None-Match /
    If-Modified-Since into a 304. `delay` waits before answering; `drip` sends the body in
    `chunk_size` pieces with `drip` seconds between them (chunked encoding, like `chunked`).
    `gzip` compresses `body`; to send bytes that are already compressed (a gzip bomb), give
    `headers={"Content-Encoding": "gzip"}` instead.
    """

    body: Body = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    gzip: bool = False
    chunked: bool = False
    drip: float = 0.0
    chunk_size: int = 1024
    content_type: str = "application/xml; charset=utf-8"


def redirect(location: str, status: int = 302) -> Route:
    """A redirect to `location` (absolute or relative)."""
    return Route(status=status, headers={"Location": location})


def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed (about 1/1000 of `size`), built without holding them."""
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block, parts, left = bytes(1 << 20), [], size
    while left > 0:
        parts.append(packer.compress(block[: min(left, len(block))]))
        left -= len(block)
    parts.append(packer.flush())
    return b"".join(parts)


class LocalServer:
    """A threaded HTTP/1.1 server on `host` (127.0.0.1 by default; any 127.0.0.x on Linux).

    A path may hold one Route or a list of them: the list is served in order, its last entry
    repeating (e.g. `[Route(status=500), Route(b"ok")]`: fail once, then succeed).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._routes: dict[str, list[Route]] = {}
        self._requests: dict[str, list[Request]] = defaultdict(list)
        self._inflight: dict[str, int] = defaultdict(int)
        self._peak: dict[str, int] = defaultdict(int)
        self._total_inflight = 0
        self._total_peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> LocalServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes delayed and dripping answers
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- routes and observations ------------------------------------------------------------
    def set(self, path: str, route: Route | Body | list[Route], **kw: Any) -> None:
        """Answer `path` (query ignored) with `route`; bytes/str/callables become Route(body=…, **kw)."""
        if isinstance(route, list):
            routes = [dataclasses.replace(r, **kw) for r in route]
        elif isinstance(route, Route):
            routes = [dataclasses.replace(route, **kw)]
        else:
            routes = [Route(body=route, **kw)]
        with self._lock:
            self._routes[urlsplit(path).path] = routes

    def hits(self, path: str) -> int:
        with self._lock:
            return len(self._requests.get(urlsplit(path).path, []))

    def requests(self, path: str) -> list[tuple[str, dict[str, str]]]:
        """(method, headers) of every request to `path`, oldest first; header names lower-case."""
        with self._lock:
            return [
                (r.method, dict(r.headers)) for r in self._requests.get(urlsplit(path).path, [])
            ]

    def received(self, path: str) -> list[Request]:
        """Every request to `path` in full (query and body included), oldest first."""
        with self._lock:
            return list(self._requests.get(urlsplit(path).path, []))

    def max_concurrent(self, path: str | None = None) -> int:
        """The most requests (to `path`, or to any path) being answered at the same moment."""
        with self._lock:
            return self._total_peak if path is None else self._peak.get(urlsplit(path).path, 0)

    # -- serving ------------------------------------------------------------------------------
    def _begin(self, req: Request) -> Route | None:
        with self._lock:
            seen = len(self._requests[req.path])
            self._requests[req.path].append(req)
            routes = self._routes.get(req.path)
            self._inflight[req.path] += 1
            self._peak[req.path] = max(self._peak[req.path], self._inflight[req.path])
            self._total_inflight += 1
            self._total_peak = max(self._total_peak, self._total_inflight)
        return routes[min(seen, len(routes) - 1)] if routes else None

    def _end(self, req: Request) -> None:
        with self._lock:
            self._inflight[req.path] -= 1
            self._total_inflight -= 1

    def _answer(self, handler: _Handler) -> None:
        split = urlsplit(handler.path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        req = Request(
            handler.command,
            split.path,
            split.query,
            headers,
            handler.rfile.read(length) if length else b"",
        )
        route = self._begin(req)
        try:
            if route is not None and route.delay:
                self._stop.wait(route.delay)
            status, out_headers, body = _render(route, req)
        finally:
            # Counted as finished before the answer is written, so a client that starts its
            # next request the moment it has read this one is never seen as overlapping it.
            self._end(req)
        _send(
            handler, route, status, out_headers, b"" if req.method == "HEAD" else body, self._stop
        )


def serve(host: str = "127.0.0.1", port: int = 0) -> LocalServer:
    """A started LocalServer; use it as a context manager so it stops at the end."""
    return LocalServer(host, port).start()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    owner: LocalServer

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn), slow without a network.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = (
            str(self.server_address[0]),
            int(self.server_address[1]),
        )

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            traceback.print_exc()  # a bug in a route's body callable: show it


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection frees its thread after this
    disable_nagle_algorithm = True  # headers and body are separate writes: don't stall on ACKs
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.owner._answer(self)

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET


def _not_modified(route: Route, req: Request) -> bool:
    inm = req.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return route.etag is not None and ("*" in tags or route.etag.removeprefix("W/") in tags)
    ims = req.headers.get("if-modified-since")
    if route.last_modified and ims:
        try:
            return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False
    return False


def _render(route: Route | None, req: Request) -> tuple[int, dict[str, str], bytes]:
    if route is None:
        return 404, {"Content-Type": "text/plain"}, b"no route for " + req.path.encode()
    headers = {"Content-Type": route.content_type}
    if route.etag:
        headers["ETag"] = route.etag
    if route.last_modified:
        headers["Last-Modified"] = route.last_modified
    if route.status == 200 and _not_modified(route, req):
        return 304, headers, b""
    body = route.body(req) if callable(route.body) else route.body
    data = body.encode() if isinstance(body, str) else body
    if route.gzip:
        data = gzip_module.compress(data)
        headers["Content-Encoding"] = "gzip"
    headers.update(route.headers)
    return route.status, headers, data


def _send(
    handler: _Handler,
    route: Route | None,
    status: int,
    headers: dict[str, str],
    body: bytes,
    stop: threading.Event,
) -> None:
    chunked = route is not None and (route.chunked or route.drip > 0) and status not in (204, 304)
    try:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        elif status not in (204, 304):
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not chunked:
            handler.wfile.write(body)
            return
        assert route is not None
        for piece in _pieces(body, route.chunk_size):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            handler.wfile.flush()
            if route.drip and stop.wait(route.drip):
                break
        handler.wfile.write(b"0\r\n\r\n")
    except (ConnectionError, TimeoutError):
        handler.close_connection = True  # the client hung up, e.g. after a size limit


def _pieces(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), max(size, 1)):
        yield data[start : start + size]


# -- documents ---------------------------------------------------------------------------------


def _date(value: Any) -> str:
    return format_datetime(value) if isinstance(value, dt.datetime) else str(value)


def feed_xml(
    items: list[dict[str, Any]],
    title: str = "Test feed",
    link: str = "http://feed.example/",
    description: str = "A feed for tests",
) -> bytes:
    """An RSS 2.0 document; each item is {guid?, title, link, description?, pubDate? (datetime)}."""
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>{escape(link)}</link>",
        f"<description>{escape(description)}</description>",
    ]
    for item in items:
        out.append("<item>")
        if item.get("guid"):
            out.append(f'<guid isPermaLink="false">{escape(str(item["guid"]))}</guid>')
        for key in ("title", "link", "description"):
            if item.get(key) is not None:
                out.append(f"<{key}>{escape(str(item[key]))}</{key}>")
        if item.get("pubDate") is not None:
            out.append(f"<pubDate>{_date(item['pubDate'])}</pubDate>")
        out.extend(f"<category>{escape(c)}</category>" for c in item.get("categories", ()))
        out.append("</item>")
    out.append("</channel></rss>")
    return "\n".join(out).encode("utf-8")


def atom_xml(
    entries: list[dict[str, Any]], title: str = "Test feed", feed_id: str = "urn:watcher:test-feed"
) -> bytes:
    """An Atom 1.0 document; each entry is {id?, title, link, summary?, updated? (datetime)}."""

    def iso(value: Any) -> str:
        return value.isoformat() if isinstance(value, dt.datetime) else str(value)

    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC).isoformat()
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(title)}</title><id>{escape(feed_id)}</id><updated>{now}</updated>",
    ]
    for entry in entries:
        out.append("<entry>")
        out.append(
            f"<id>{escape(str(entry.get('id') or entry.get('link') or entry['title']))}</id>"
        )
        out.append(f"<title>{escape(str(entry['title']))}</title>")
        if entry.get("link"):
            out.append(f'<link href="{escape(str(entry["link"]), {chr(34): "&quot;"})}"/>')
        out.append(f"<updated>{iso(entry.get('updated') or now)}</updated>")
        if entry.get("summary") is not None:
            out.append(f"<summary>{escape(str(entry['summary']))}</summary>")
        out.append("</entry>")
    out.append("</feed>")
    return "\n".join(out).encode("utf-8")
