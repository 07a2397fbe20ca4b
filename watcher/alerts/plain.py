"""Plain text: webhooks, the console, the text/plain part of an e-mail, everything else.

The body does not repeat the subject (receivers show it beside the body); it names the notice
only when the subject does not already show its whole title.
"""

from __future__ import annotations

from watcher.alerts.view import View


def quoted(texts: tuple[str, ...]) -> str:
    """`"rare earth", "export control"`: matched text, as written in the notice."""
    return ", ".join(f'"{t}"' for t in texts)


def render_text(v: View) -> str:
    blocks: list[list[str]] = []
    if not v.title_in_subject:
        blocks.append([f"Notice: {v.title}"])
    if v.note:
        blocks.append([v.note])
    if v.changes:
        lines = ["Changes:"]
        for c in v.changes:
            lines.append(f"- {c.measure}: {c.text}" if c.measure else f"- {c.text}")
            lines.append(f"  {c.status} {c.command}".rstrip())
            if c.evidence:
                lines.append(f"  > {c.evidence}")
        blocks.append(lines)
    if v.quote:
        blocks.append(([f"{v.quote_label}:"] if v.quote_label else []) + [f"> {v.quote}"])
    if v.rules:
        lines = ["Rules:"]
        for r in v.rules:
            lines.append(f"- {r.name}: {quoted(r.matched)}" if r.matched else f"- {r.name}")
            if r.sentence:
                lines.append(f"  > {r.sentence}")
        blocks.append(lines)
    facts = v.facts()
    width = max(len(label) for label, _ in facts) + 1
    blocks.append([f"{label + ':':<{width}} {value}" for label, value in facts])
    return "\n\n".join("\n".join(lines) for lines in blocks)
