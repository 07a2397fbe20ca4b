"""JSON-lines batch extraction (wired to the `watcher extract` CLI by the lead).

Input lines: {"id": ..., "text": ..., "published": "2025-10-26" | null}
Output lines: {"id": ..., "events": [{"date", "kind", "evidence", "confidence", "time"?, "tz"?}]}
A line that cannot be read yields {"id": ..., "line": N, "error": "..."} instead of stopping the run.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator

from ..models import Event
from . import extract_deadlines


def events_to_dicts(events: Iterable[Event]) -> list[dict]:
    """Plain dicts for JSON: date as ISO text; `time` and `tz` only when set."""
    out = []
    for ev in events:
        item = {
            "date": ev.date.isoformat(),
            "kind": ev.kind,
            "evidence": ev.evidence,
            "confidence": ev.confidence,
        }
        if ev.time is not None:
            item["time"] = ev.time
        if ev.tz is not None:
            item["tz"] = ev.tz
        out.append(item)
    return out


def _published(value) -> dt.date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"published must be an ISO date string, not {type(value).__name__}")
    return dt.date.fromisoformat(value[:10])


def extract_jsonl(lines: Iterable[str]) -> Iterator[str]:
    """Extract the events of each JSON line; yields one JSON line per non-blank input line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row_id = None
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("a line must hold a JSON object")
            row_id = row.get("id")
            text = row.get("text")
            if not isinstance(text, str):
                raise ValueError("missing or non-text field 'text'")
            events = extract_deadlines(text, _published(row.get("published")))
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            yield json.dumps({"id": row_id, "line": number, "error": str(exc)}, ensure_ascii=False)
            continue
        yield json.dumps({"id": row_id, "events": events_to_dicts(events)}, ensure_ascii=False)
