"""Render an `Alert` as a message: a subject line and a body in the format a channel wants.

Three formats, picked per apprise URL by `channels.target_format()`:

- `markdown`: CommonMark. Apprise converts it to each service's dialect (its Slack plugin turns
  `**bold**` into `*bold*` and `[text](<url>)` into `<url|text>`), so writing Slack mrkdwn here
  would be converted a second time and break.
- `html`: a small self-contained e-mail (inline styles, no external assets), every field escaped.
- `text`: plain text for webhooks, the console and everything else.

Only http(s) links are ever rendered as links; any other scheme is left out.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Literal
from urllib.parse import quote, urlsplit

from watcher.models import Alert

Format = Literal["markdown", "html", "text"]

SUBJECT_MAX = 150
# `extra` keys shown first and highlighted; findings from the deadline registry set these.
PROMINENT = ("measure", "change", "notice")

_SPACE = re.compile(r"\s+")
# Characters that start CommonMark markup. `_` and `&` stay as they are: Slack shows a
# backslash before them literally, and an intraword `_` is not emphasis in CommonMark anyway.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>#])")


def render(alert: Alert, fmt: Format) -> tuple[str, str]:
    """(title, body) of `alert` in `fmt`; the title is one line of at most 150 characters."""
    if fmt == "html":
        body = _html(alert)
    elif fmt == "markdown":
        body = _markdown(alert)
    elif fmt == "text":
        body = _text(alert)
    else:
        raise ValueError(f"unknown format {fmt!r} (markdown, html or text)")
    return subject(alert), body


def subject(alert: Alert) -> str:
    """`[watcher] rule: title`, with `Updated notice:` for an update, cut at 150 characters."""
    prefix = f"[watcher] {_one_line(alert.rule)}: "
    if is_update(alert):
        prefix += "Updated notice: "
    text = prefix + (_one_line(alert.title) or "(untitled notice)")
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1].rstrip() + "…"


def is_update(alert: Alert) -> bool:
    return alert.kind == "update" or alert.kind.startswith("update:")


def safe_link(link: str) -> str | None:
    """`link` when it is an absolute http(s) URL, else None (no javascript:, data:, …)."""
    link = link.strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(c.isspace() or ord(c) < 32 for c in link):
        return None
    return link


def published_utc(alert: Alert) -> str | None:
    """The published time in UTC, ISO 8601 (`2025-11-10T14:30:00Z`); naive times are taken as UTC."""
    if alert.published is None:
        return None
    when = alert.published
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", text or "").strip()


HEADLINES = {"finding": "Deadline change", "reminder": "Reminder", "health": "Source health", "test": "Test"}


def _headline(alert: Alert) -> str:
    if alert.kind in HEADLINES:
        return HEADLINES[alert.kind]
    return "Updated notice" if is_update(alert) else "New notice"


def _extras(alert: Alert) -> list[tuple[str, str]]:
    """(label, value) pairs of `alert.extra`: prominent keys first, then the rest sorted."""
    keys = [k for k in PROMINENT if alert.extra.get(k)]
    keys += sorted(k for k in alert.extra if k not in PROMINENT and alert.extra[k])
    return [(k.replace("_", " ").capitalize(), _one_line(alert.extra[k])) for k in keys]


def _facts(alert: Alert) -> list[tuple[str, str]]:
    """The smaller details, in reading order; empty ones left out."""
    facts = [("Source", _one_line(alert.source))]
    if alert.phrases:
        facts.append(("Matched", ", ".join(_one_line(p) for p in alert.phrases)))
    facts.append(("Rule", _one_line(alert.rule)))
    when = published_utc(alert)
    if when:
        facts.append(("Published", when))
    return facts


def _text(alert: Alert) -> str:
    lines = [f"{_headline(alert)}: {_one_line(alert.title)}"]
    extras = _extras(alert)
    if extras:
        lines.append("")
        lines += [f"{label}: {value}" for label, value in extras]
    sentence = _one_line(alert.sentence)
    if sentence:
        lines += ["", f"> {sentence}"]
    lines.append("")
    link = safe_link(alert.link)
    facts = _facts(alert)
    if link:
        facts.insert(1, ("Link", link))
    width = max(len(label) for label, _ in facts) + 1
    lines += [f"{label + ':':<{width}} {value}" for label, value in facts]
    return "\n".join(lines)


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", _one_line(text))


def _markdown(alert: Alert) -> str:
    # Lines of one block end with two spaces: a CommonMark hard line break, invisible in Slack.
    title = _md(alert.title) or "(untitled notice)"
    link = safe_link(alert.link)
    if link:
        # The <…> destination keeps parentheses in the URL intact.
        title = f"[{title}](<{quote(link, safe=_URL_SAFE)}>)"
    blocks = [f"**{_headline(alert)}:** {title}"]
    extras = _extras(alert)
    if extras:
        blocks.append("  \n".join(f"**{_md(label)}:** {_md(value)}" for label, value in extras))
    sentence = _md(alert.sentence)
    if sentence:
        blocks.append(f"> {sentence}")
    facts = _facts(alert)
    blocks.append("  \n".join(f"**{label}:** {_md(value)}" for label, value in facts))
    return "\n\n".join(blocks)


# Characters kept as they are when a link goes inside a Markdown <…> destination.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"

_FONT = "-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"
_MUTED = "color:#57606a;"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _highlight(sentence: str, phrases: tuple[str, ...]) -> str:
    """Escape `sentence`, marking each matched phrase in bold (case-insensitive)."""
    wanted = sorted({_one_line(p) for p in phrases if _one_line(p)}, key=len, reverse=True)
    if not wanted:
        return _esc(sentence)
    pattern = re.compile("|".join(re.escape(p) for p in wanted), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(sentence):
        out.append(_esc(sentence[last : m.start()]))
        out.append(f"<strong>{_esc(m.group())}</strong>")
        last = m.end()
    out.append(_esc(sentence[last:]))
    return "".join(out)


def _html(alert: Alert) -> str:
    link = safe_link(alert.link)
    title = _esc(_one_line(alert.title) or "(untitled notice)")
    if link:
        title = f'<a href="{_esc(link)}" style="color:#0969da;text-decoration:none;">{title}</a>'
    parts = [
        f'<p style="margin:0 0 6px;font-size:12px;letter-spacing:.04em;text-transform:uppercase;{_MUTED}">'
        f"{_esc(_headline(alert))} &middot; {_esc(_one_line(alert.rule))}</p>",
        f'<h1 style="margin:0 0 16px;font-size:20px;line-height:1.3;font-weight:600;">{title}</h1>',
    ]
    extras = _extras(alert)
    if extras:
        rows = "".join(
            f'<p style="margin:0 0 4px;"><strong>{_esc(label)}:</strong> {_esc(value)}</p>'
            for label, value in extras
        )
        parts.append(
            '<div style="margin:0 0 16px;padding:10px 14px;background:#fff8c5;'
            f'border-left:4px solid #d4a72c;font-size:15px;">{rows}</div>'
        )
    sentence = _one_line(alert.sentence)
    if sentence:
        parts.append(
            '<blockquote style="margin:0 0 16px;padding:8px 14px;border-left:4px solid #d0d7de;'
            f'color:#424a53;font-style:italic;">{_highlight(sentence, alert.phrases)}</blockquote>'
        )
    facts = _facts(alert)
    if link:
        facts.insert(1, ("Link", link))
    # One line per fact, label inline: apprise derives the e-mail's text/plain part from this
    # HTML, and a table would come out as one cell per line there.
    parts.append('<div style="font-size:14px;line-height:1.6;">')
    for label, value in facts:
        shown = (
            f'<a href="{_esc(value)}" style="color:#0969da;word-break:break-all;">{_esc(value)}</a>'
            if label == "Link"
            else _esc(value)
        )
        parts.append(
            f'<div><span style="display:inline-block;min-width:84px;{_MUTED}">{_esc(label)}:</span>'
            f" {shown}</div>"
        )
    parts.append("</div>")
    card = "".join(parts)
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="margin:0;padding:0;background:#f6f8fa;">'
        f'<div style="max-width:640px;margin:0 auto;padding:24px 16px;font-family:{_FONT};color:#1f2328;">'
        '<div style="background:#ffffff;border:1px solid #d0d7de;border-radius:6px;padding:20px 24px;">'
        f"{card}</div>"
        f'<p style="margin:12px 0 0;font-size:12px;{_MUTED}">Sent by watcher.</p>'
        "</div></body></html>"
    )
