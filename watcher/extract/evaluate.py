"""Score the extractor against labelled passages (README of the eval set: dates compared as sets).

    python -m watcher.extract.evaluate [PATH] [--verbose] [--folds 5]

PATH defaults to ../shared/eval/extract-dev.jsonl next to the repository. The report gives
precision, recall, F1 and kind accuracy on the whole set and on its subsets (official texts /
news and commentary; English / Chinese), then a k-fold cross-validation by document over the
project's own labelled cases (tests/data/extract_cases*.yaml) and the dev set together: each fold
is scored by an extractor fitted on the other folds only (`fit`), so a design with a learned part
is judged on text it was not fitted on. The rules have nothing fitted, so for them the
cross-validated figure equals the pooled figure of both sets; it is printed beside the fitted one
so that any learned layer has to beat it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

from ..models import Event

Extractor = Callable[[str, "dt.date | None"], list[Event]]
Fit = Callable[[list[dict]], Extractor]  # labelled rows -> an extractor fitted on them

# Hosts of government and EU/UN publishers (and the Federal Register's mirrors): a passage read
# there is an official text. Elsewhere it is news or commentary, unless the labeller's note says
# the page reproduces an official text ("[official: ...]").
_OFFICIAL_HOST = re.compile(
    r"(?:^|\.)(?:gov|gov\.[a-z]{2}|gc\.ca|europa\.eu|mofcom\.gov\.cn|customs\.gov\.cn"
    r"|federalregister\.(?:gov|com)|thefederalregister\.org|frtracker\.app|pubt\.io"
    r"|legislation\.gov\.uk)$",
    re.I,
)
_OFFICIAL_PATH = re.compile(r"federal-?register|fr-?doc|\bfr\b|_posts/", re.I)


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


def subset_of(row: dict) -> str:
    """ "official" or "news" (news reports, law-firm and industry alerts), from the row's source."""
    note = str(row.get("notes") or "").lstrip()
    if note.startswith("["):
        return "official" if note[1:].lower().startswith("official") else "news"
    source = str(row.get("source") or "")
    host = source.split("://", 1)[1].split("/", 1)[0] if "://" in source else ""
    if host and _OFFICIAL_HOST.search(host.split(":")[0]):
        return "official"
    if not host and _OFFICIAL_PATH.search(source):
        return "official"  # a stored copy of a Federal Register document
    return "news"


def subsets(rows: list[dict]) -> dict[str, list[dict]]:
    """The rows by kind of text and by language."""
    out: dict[str, list[dict]] = {"official": [], "news": [], "en": [], "zh": []}
    for row in rows:
        out[subset_of(row)].append(row)
        out["zh" if str(row.get("lang", "en")).startswith("zh") else "en"].append(row)
    return out


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


def _document(row: dict) -> str:
    """Rows read from one page (or one own case) belong to one document: never split by folds."""
    source = str(row.get("source") or "")
    return source.split("#", 1)[0] if source else str(row.get("id"))


def folds(rows: list[dict], k: int) -> list[list[dict]]:
    """`rows` in `k` folds by document, by a stable hash of the document (same folds each run)."""
    out: list[list[dict]] = [[] for _ in range(k)]
    for row in rows:
        out[zlib.crc32(_document(row).encode()) % k].append(row)
    return out


def cross_validate(rows: list[dict], fit: Fit, k: int = 5) -> dict:
    """Pooled scores of each fold's rows under an extractor fitted on the other folds; the result
    also holds `fold_f1` (one F1 per fold)."""
    parts = folds(rows, k)
    tp = fp = fn = kind_ok = 0
    fold_f1 = []
    for i, held in enumerate(parts):
        if not held:
            continue
        train = [r for j, part in enumerate(parts) if j != i for r in part]
        result = score(held, fit(train))
        fold_f1.append(result["f1"])
        tp, fp, fn = tp + result["tp"], fp + result["fp"], fn + result["fn"]
        kind_ok += round(result["kind_accuracy"] * result["tp"])
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "passages": len(rows), "tp": tp, "fp": fp, "fn": fn, "precision": precision,
        "recall": recall, "f1": f1, "kind_accuracy": kind_ok / tp if tp else 1.0,
        "fold_f1": fold_f1, "per_passage": [],
    }  # fmt: skip


def own_cases() -> list[dict]:
    """The project's own labelled cases (tests/data/extract_cases*.yaml), as scorer rows."""
    import yaml

    data = Path(__file__).resolve().parents[2] / "tests" / "data"
    rows = []
    for path in sorted(data.glob("extract_cases*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            rows.append({
                "id": case["id"], "source": f"own:{case['id']}", "text": case["text"],
                "lang": "zh" if re.search(r"[\u4e00-\u9fff]", case["text"]) else "en",
                "published": str(case["published"]) if case.get("published") else None,
                "expected": [{"date": str(e["date"]), "kind": e["kind"]} for e in case["expected"]],
            })  # fmt: skip
    return rows


def _line(label: str, result: dict) -> str:
    return (
        f"{label:<22}{result['passages']:>5}{result['precision']:>8.3f}{result['recall']:>8.3f}"
        f"{result['f1']:>8.3f}{result['kind_accuracy']:>8.3f}"
    )


def full_report(rows: list[dict], extractor: Extractor, fit: Fit | None, k: int = 5,
                verbose: bool = False) -> str:
    """The figures `make eval` prints: overall, per subset, and cross-validated."""
    result = score(rows, extractor)
    lines = [format_report(result, verbose), "",
             f"{'set':<22}{'n':>5}{'P':>8}{'R':>8}{'F1':>8}{'kind':>8}", _line("dev", result)]
    for name, part in subsets(rows).items():
        lines.append(_line(f"  {name}", score(part, extractor)))
    if fit is not None:
        own = own_cases()
        both = own + rows
        lines.append(_line("own cases (fitted)", score(own, extractor)))
        lines.append(_line("own + dev (fitted)", score(both, extractor)))
        cv = cross_validate(both, fit, k)
        lines.append(_line(f"own + dev ({k}-fold CV)", cv))
        lines.append("  fold F1: " + " ".join(f"{f:.3f}" for f in cv["fold_f1"]))
    return "\n".join(lines)


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
    parser.add_argument("--folds", type=int, default=5, help="k of the cross-validation (0: none)")
    args = parser.parse_args(argv)
    path = args.path or default_path()
    if not path.exists():
        print(f"no such file: {path}", file=sys.stderr)
        return 2
    fit = (lambda train: extract_deadlines) if args.folds else None  # the rules fit nothing
    print(full_report(load_rows(path), extract_deadlines, fit, max(args.folds, 2), args.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
