"""Score the extractor against labelled passages (README of the eval set: dates compared as sets).

    python -m watcher.extract.evaluate [PATH] [--verbose]

PATH defaults to ../shared/eval/extract-dev.jsonl next to the repository.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from ..models import Event

Extractor = Callable[[str, "dt.date | None"], list[Event]]


def default_path() -> Path:
    """The shared dev set: <repo>/../shared/eval/extract-dev.jsonl (or /work/shared/...)."""
    here = Path(__file__).resolve()
    for candidate in (
        here.parents[3] / "shared/eval/extract-dev.jsonl",
        here.parents[2] / "shared/eval/extract-dev.jsonl",
        Path("/work/shared/eval/extract-dev.jsonl"),
    ):
        if candidate.exists():
            return candidate
    return here.parents[3] / "shared/eval/extract-dev.jsonl"


def load_rows(path: Path) -> list[dict]:
    """The JSON lines of `path` (blank lines skipped)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _published(row: dict) -> dt.date | None:
    value = row.get("published")
    return dt.date.fromisoformat(str(value)[:10]) if value else None


def score(rows: Iterable[dict], extractor: Extractor) -> dict:
    """Date precision/recall/F1 over all passages and kind accuracy over matched dates.

    Per passage, predicted and expected dates are sets (a date counts once). A matched date's kind
    is right when the predicted kinds for that date intersect the expected kinds. The result also
    holds `per_passage`: id, missed dates, false-positive dates and wrong-kind dates.
    """
    tp = fp = fn = kind_ok = 0
    details = []
    for row in rows:
        events = extractor(row["text"], _published(row))
        pred: dict[str, set[str]] = {}
        for ev in events:
            pred.setdefault(ev.date.isoformat(), set()).add(ev.kind)
        gold: dict[str, set[str]] = {}
        for exp in row.get("expected", []):
            gold.setdefault(exp["date"], set()).add(exp["kind"])
        matched = pred.keys() & gold.keys()
        tp += len(matched)
        fp += len(pred.keys() - gold.keys())
        fn += len(gold.keys() - pred.keys())
        wrong = sorted(d for d in matched if not pred[d] & gold[d])
        kind_ok += len(matched) - len(wrong)
        details.append({
            "id": row.get("id"),
            "missed": sorted(gold.keys() - pred.keys()),
            "false_positive": sorted(pred.keys() - gold.keys()),
            "wrong_kind": [(d, sorted(pred[d]), sorted(gold[d])) for d in wrong],
        })  # fmt: skip
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "passages": len(details), "tp": tp, "fp": fp, "fn": fn,
        "precision": precision, "recall": recall, "f1": f1,
        "kind_accuracy": kind_ok / tp if tp else 1.0,
        "per_passage": details,
    }  # fmt: skip


def format_report(result: dict, verbose: bool = False) -> str:
    """The figures as text; with `verbose`, the passages with misses or false positives."""
    lines = [
        f"passages {result['passages']}  tp {result['tp']}  fp {result['fp']}  fn {result['fn']}",
        f"date precision {result['precision']:.3f}  recall {result['recall']:.3f}"
        f"  F1 {result['f1']:.3f}  kind accuracy {result['kind_accuracy']:.3f}",
    ]
    if verbose:
        for d in result["per_passage"]:
            if d["missed"] or d["false_positive"] or d["wrong_kind"]:
                lines.append(f"- {d['id']}: missed {d['missed']} false+ {d['false_positive']}"
                             f" wrong kind {d['wrong_kind']}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit status."""
    from . import extract_deadlines

    parser = argparse.ArgumentParser(prog="python -m watcher.extract.evaluate")
    parser.add_argument("path", nargs="?", type=Path, default=None)
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    path = args.path or default_path()
    if not path.exists():
        print(f"no such file: {path}", file=sys.stderr)
        return 2
    print(format_report(score(load_rows(path), extract_deadlines), args.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
