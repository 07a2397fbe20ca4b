"""The HTTP side of `watcher run`: health, readiness and metrics (`create_app`), and `HttpServer`,
which serves an app inside the service's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import Protocol

import structlog
import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from watcher import metrics
from watcher.db import engine as db_engine
from watcher.runtime import Context

log = structlog.get_logger("watcher.web")


class Probed(Protocol):
    """What the app asks of the service (scheduler.Service has both)."""

    ctx: Context | None

    @property
    def running(self) -> bool: ...


def create_app(service: Probed) -> FastAPI:
    app = FastAPI(title="watcher", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        """The process is alive and its event loop answers (liveness)."""
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> JSONResponse:
        """Ready for work: database reachable, migrations at head, scheduler running."""
        checks = {"database": "ok", "migrations": "ok", "scheduler": "ok" if service.running else "stopped"}
        ctx = service.ctx
        if ctx is None:
            checks.update(database="not configured", migrations="unknown")
        else:
            checks.update(_database_checks(ctx))
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)  # fmt: skip

    @app.get("/metrics")
    def metrics_text() -> Response:
        # A plain `def`: FastAPI runs it in a thread, so the database reads never block the loop.
        body = metrics.exposition(lambda: service.ctx)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return app


def _database_checks(ctx: Context) -> dict[str, str]:
    bind = ctx.sessions.kw.get("bind")
    try:
        with ctx.sessions() as session:
            session.execute(text("SELECT 1"))
        current = db_engine.current_revision(bind) if bind is not None else None
    except Exception as exc:  # report, never raise: the probe answers 503 with the reason
        return {"database": f"unreachable ({exc.__class__.__name__})", "migrations": "unknown"}
    head = db_engine.head_revision()
    return {"migrations": "ok" if current == head else f"at {current}, head is {head}"}


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The service owns SIGTERM/SIGINT/SIGHUP (loop.add_signal_handler); uvicorn must not
        # replace them with its own.
        yield


class HttpServer:
    """uvicorn in the running event loop, on a socket bound here (so a taken port is an OSError
    at start and port 0 picks a free one, reported by `port`)."""

    def __init__(self, app: FastAPI, host: str, port: int):
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        self._socket = socket.socket(family, kind, proto)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind(address)
            self._socket.listen(128)
        except OSError:
            self._socket.close()
            raise
        self._socket.setblocking(False)
        self.host, self.port = host, int(self._socket.getsockname()[1])
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False,
                                timeout_graceful_shutdown=2)  # fmt: skip
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]), name="http")
        log.info("http.listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, timeout=5)
