"""E-mail through apprise: our Message-ID (the delivery's stable id) and our text/plain part."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from apprise import NotifyFormat
from apprise.plugins.email import base as email_base

from watcher.models import Alert


def message_id(delivery_id: str, alert: Alert, domain: str) -> str:
    """The e-mail Message-ID of one delivery: `<w-123-456.9f86d081884c@example.com>`.

    The same on every retry, so a mail system that drops repeats drops ours. The digest of the
    alert's dedup key keeps two installations whose database ids coincide from colliding.
    """
    left = re.sub(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]", "-", delivery_id).strip(".") or "delivery"
    digest = hashlib.sha256(f"{alert.dedup_key}|{alert.channel}".encode()).hexdigest()[:12]
    right = re.sub(r"[^A-Za-z0-9.-]", "-", domain).strip(".-") or "watcher.invalid"
    return f"<{left}.{digest}@{right}>"


@dataclass(frozen=True, slots=True)
class Mail:
    message_id: str
    text: str


_mail: contextvars.ContextVar[Mail | None] = contextvars.ContextVar("watcher_mail", default=None)


@contextlib.contextmanager
def mailing(mail: Mail | None) -> Iterator[None]:
    token = _mail.set(mail)
    try:
        yield
    finally:
        _mail.reset(token)


def install_hooks() -> None:
    """Make apprise's e-mail carry our Message-ID and our plain-text body as its text part.

    Apprise's e-mail plugin builds each message in `prepare_emails()`, which sets `Message-ID`
    from its module's `make_msgid()` and the text/plain part from its module's
    `convert_between(HTML, TEXT, body)`. Extra headers are appended after that, so a Message-ID
    passed as a header would be a second one, and converted HTML reads worse than the text body.
    So those two names of that one module are replaced by functions that return ours while
    `mailing()` is active in the current context (apprise sends in the caller's thread or with
    a copy of its context) and call apprise's own otherwise: other sends and threads, and other
    uses of apprise in the process, are unaffected.
    """
    if getattr(email_base.make_msgid, "watcher_hook", False):
        return
    original_msgid, original_convert = email_base.make_msgid, email_base.convert_between

    def make_msgid(*args: Any, **kwargs: Any) -> str:
        mail = _mail.get()
        return mail.message_id if mail else str(original_msgid(*args, **kwargs))

    def convert_between(from_format: Any, to_format: Any, content: str) -> str:
        mail = _mail.get()
        if mail and from_format == NotifyFormat.HTML and to_format == NotifyFormat.TEXT:
            return mail.text
        return str(original_convert(from_format, to_format, content))

    make_msgid.watcher_hook = True  # type: ignore[attr-defined]
    email_base.make_msgid = make_msgid
    email_base.convert_between = convert_between


install_hooks()
