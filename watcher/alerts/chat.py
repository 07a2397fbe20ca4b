"""CommonMark for chat services (Slack, and any apprise URL whose plugin wants markdown).

Apprise converts CommonMark to each service's dialect: its Slack plugin turns `**bold**` into
`*bold*`, `[text](<url>)` into `<url|text>`, `\\<` into `&lt;` and drops the backslash of `\\[`,
`\\]`, `\\(`, `\\)`, `\\!`, `\\#`, but it KEEPS the backslash of every other escape (`\\*`, `\\_`,
`\\\\`, `` \\` ``), which Slack then shows. So only the escapes it drops are used here; the few
characters that would need another escape (`*`, `` ` ``, `\\`) are shown as look-alikes, which no
chat service reads as markup. Slack shows apprise's title above the body, so the body never
repeats the subject, and names the notice only when the subject does not show its whole title.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from watcher.alerts.plain import quoted
from watcher.alerts.view import View, one_line

# Escapes apprise's Slack conversion turns back into the character (or its entity) without a
# backslash; in CommonMark they keep user text from becoming links, headings, HTML or quotes.
_ESCAPED = re.compile(r"([<>\[\]()!#])")
# Characters whose escape would stay visible in Slack: ∗ asterisk operator, ˋ modifier grave,
# ⧵ reverse solidus operator.
_LOOKALIKES = str.maketrans({"*": "\u2217", "`": "\u02cb", "\\": "\u29f5"})
# Characters kept as they are when a link goes inside a CommonMark <…> destination.
_URL_SAFE = "/:?#[]@!$&'()*+,;=%~-._"
_BREAK = "  \n"  # a CommonMark hard line break; Slack shows the trailing spaces as nothing


def md(text: str) -> str:
    """User text as inert CommonMark that survives apprise's Slack conversion without backslashes."""
    return _ESCAPED.sub(r"\\\1", one_line(text).translate(_LOOKALIKES))


def md_link(url: str) -> str:
    return quote(url, safe=_URL_SAFE)


def render_markdown(v: View) -> str:
    blocks: list[str] = []
    if not v.title_in_subject:
        title = f"[{md(v.title)}](<{md_link(v.link)}>)" if v.link else md(v.title)
        blocks.append(f"**Notice:** {title}")
    if v.note:
        blocks.append(md(v.note))
    if v.changes:
        blocks += _changes(v)
    if v.quote:
        label = f"**{v.quote_label}:**\n" if v.quote_label else ""
        blocks.append(f"{label}> {md(v.quote)}")
    if v.rules:
        blocks += _rules(v)
    facts = v.facts(link=v.title_in_subject)
    blocks.append(_BREAK.join(f"**{label}:** {_fact(label, value)}" for label, value in facts))
    return "\n\n".join(blocks)


def _fact(label: str, value: str) -> str:
    # A bare <url> autolink: Slack makes it clickable and apprise passes it through unescaped.
    return f"<{md_link(value)}>" if label == "Link" else md(value)


def _changes(v: View) -> list[str]:
    items = []
    for c in v.changes:
        line = f"• **{md(c.measure)}:** {md(c.text)}" if c.measure else f"• {md(c.text)}"
        status = md(c.status) + (f" `{c.command}`" if c.command else "")
        items.append((f"{line}{_BREAK}{status}", c.evidence))
    return _listed("Changes", items)


def _rules(v: View) -> list[str]:
    items = []
    for r in v.rules:
        matched = f": {md(quoted(r.matched))}" if r.matched else ""
        items.append((f"• **{md(r.name)}**{matched}", r.sentence))
    return _listed("Rules", items)


def _listed(head: str, items: list[tuple[str, str]]) -> list[str]:
    """Blocks of `• item` lines under a bold head; an item with a quote ends its block, as a
    line after a quote would otherwise continue the quote."""
    blocks, lines = [], [f"**{head}**"]
    for line, quoted_text in items:
        lines.append(line)
        if quoted_text:
            blocks.append(_BREAK.join(lines) + f"\n> {md(quoted_text)}")
            lines = []
    if lines:
        blocks.append(_BREAK.join(lines))
    return blocks
