"""A small self-contained HTML e-mail: inline styles, no external assets, every field escaped.

The e-mail's text/plain part is the plain-text body (see `channels`), not a conversion of this.
"""

from __future__ import annotations

import html
import re

from watcher.alerts.plain import quoted
from watcher.alerts.view import View

_FONT = "-apple-system,'Segoe UI',Helvetica,Arial,sans-serif"
_MUTED = "color:#57606a;"
_LINK = "color:#0969da;"
_QUOTE = "padding:8px 14px;border-left:4px solid #d0d7de;color:#424a53;font-style:italic;"


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def highlight(sentence: str, matched: tuple[str, ...]) -> str:
    """Escape `sentence`, marking each matched text in bold (case-insensitive)."""
    wanted = sorted({m for m in matched if m}, key=len, reverse=True)
    if not wanted:
        return esc(sentence)
    pattern = re.compile("|".join(re.escape(m) for m in wanted), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(sentence):
        out.append(esc(sentence[last : m.start()]))
        out.append(f"<strong>{esc(m.group())}</strong>")
        last = m.end()
    out.append(esc(sentence[last:]))
    return "".join(out)


def render_html(v: View) -> str:
    title = esc(v.title)
    if v.link:
        title = f'<a href="{esc(v.link)}" style="{_LINK}text-decoration:none;">{title}</a>'
    matched = tuple(m for r in v.rules for m in r.matched)
    parts = [
        f'<p style="margin:0 0 6px;font-size:12px;letter-spacing:.04em;text-transform:uppercase;{_MUTED}">'
        f"{esc(v.headline)}</p>",
        f'<h1 style="margin:0 0 16px;font-size:20px;line-height:1.3;font-weight:600;">{title}</h1>',
        _changes(v),
    ]
    if v.note:
        parts.append(f'<p style="margin:0 0 16px;">{esc(v.note)}</p>')
    if v.quote:
        if v.quote_label:
            parts.append(f'<p style="margin:0 0 4px;"><strong>{esc(v.quote_label)}:</strong></p>')
        parts.append(
            f'<blockquote style="margin:0 0 16px;{_QUOTE}">{highlight(v.quote, matched)}</blockquote>'
        )
    parts += [_rules(v), _facts(v)]
    return _page("".join(parts))


def _changes(v: View) -> str:
    if not v.changes:
        return ""
    rows = []
    for c in v.changes:
        head = f"<strong>{esc(c.measure)}:</strong> {esc(c.text)}" if c.measure else esc(c.text)
        status = esc(c.status) + (f" <code>{esc(c.command)}</code>" if c.command else "")
        evidence = (
            f'<div style="font-style:italic;">“{esc(c.evidence)}”</div>' if c.evidence else ""
        )
        rows.append(
            f'<div style="margin:0 0 6px;">{head}'
            f'<div style="font-size:13px;{_MUTED}">{status}</div>{evidence}</div>'
        )
    return (
        '<div style="margin:0 0 16px;padding:10px 14px;background:#fff8c5;'
        f'border-left:4px solid #d4a72c;font-size:15px;">{"".join(rows)}</div>'
    )


def _rules(v: View) -> str:
    if not v.rules:
        return ""
    rows = []
    for r in v.rules:
        matched = f": {esc(quoted(r.matched))}" if r.matched else ""
        sentence = f'<blockquote style="margin:4px 0 8px;{_QUOTE}">{highlight(r.sentence, r.matched)}</blockquote>' if r.sentence else ""  # fmt: skip
        rows.append(f"<div><strong>{esc(r.name)}</strong>{matched}{sentence}</div>")
    return (
        f'<div style="margin:0 0 16px;font-size:14px;line-height:1.6;">'
        f'<div style="{_MUTED}">Rules</div>{"".join(rows)}</div>'
    )


def _facts(v: View) -> str:
    rows = []
    for label, value in v.facts():
        shown = (
            f'<a href="{esc(value)}" style="{_LINK}word-break:break-all;">{esc(value)}</a>'
            if label == "Link"
            else esc(value)
        )
        rows.append(
            f'<div><span style="display:inline-block;min-width:84px;{_MUTED}">{esc(label)}:</span>'
            f" {shown}</div>"
        )
    return f'<div style="font-size:14px;line-height:1.6;">{"".join(rows)}</div>'


def _page(card: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="margin:0;padding:0;background:#f6f8fa;">'
        f'<div style="max-width:640px;margin:0 auto;padding:24px 16px;font-family:{_FONT};color:#1f2328;">'
        '<div style="background:#ffffff;border:1px solid #d0d7de;border-radius:6px;padding:20px 24px;">'
        f"{card}</div>"
        f'<p style="margin:12px 0 0;font-size:12px;{_MUTED}">Sent by watcher.</p>'
        "</div></body></html>"
    )
