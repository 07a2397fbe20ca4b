"""structlog set-up: key=value lines on a terminal, JSON lines otherwise (or WATCHER_LOG_FORMAT)."""

from __future__ import annotations

import logging
import os
import sys

import structlog


def configure(level: str = "info") -> None:
    fmt = os.environ.get("WATCHER_LOG_FORMAT") or ("console" if sys.stderr.isatty() else "json")
    numeric = getattr(logging, os.environ.get("WATCHER_LOG_LEVEL", level).upper(), logging.INFO)
    renderer = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # apprise and httpx log through the standard library; keep them at warning and on stderr
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # apprise's own lines are captured per send (channels.py) and reported in our alert.* events.
    logging.getLogger("apprise").propagate = False
