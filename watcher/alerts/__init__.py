"""Render an `Alert` as a message: a subject line and a body in the format a channel wants.

Three formats, picked per apprise URL by `channels.target_format()`, each in its own module over
one `View` of the alert (`view.py`), plus the structured body of JSON webhooks (`data.py`):

- `markdown` (`chat.py`): CommonMark that apprise turns into each chat service's dialect, written
  so that Slack shows no backslash escapes and no repeated title.
- `html` (`mail.py`): a small self-contained e-mail, every field escaped.
- `text` (`plain.py`): webhooks, the console, and the text/plain part of every e-mail.

Only http(s) links are ever rendered as links; any other scheme is left out.
"""

from __future__ import annotations

from typing import Literal

from watcher.alerts.chat import render_markdown
from watcher.alerts.data import structured
from watcher.alerts.mail import render_html
from watcher.alerts.plain import render_text
from watcher.alerts.view import SUBJECT_MAX, is_update, published_utc, safe_link, subject, view
from watcher.models import Alert

Format = Literal["markdown", "html", "text"]

_RENDERERS = {"markdown": render_markdown, "html": render_html, "text": render_text}

__all__ = [
    "SUBJECT_MAX",
    "Format",
    "is_update",
    "published_utc",
    "render",
    "safe_link",
    "structured",
    "subject",
]


def render(alert: Alert, fmt: Format) -> tuple[str, str]:
    """(subject, body) of `alert` in `fmt`; the subject is one line under 150 characters."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown format {fmt!r} (markdown, html or text)")
    return subject(alert), renderer(view(alert))
