"""Every benchmark of watcher, side by side with what users would otherwise run; writes
docs/benchmarks.md and docs/benchmarks.png.  `make bench` runs this (about 8 minutes on 2 cores;
`--quick`: small sizes, one repeat, about a minute, a smoke test of the driver).

    python bench/run_all.py [--quick] [--repeat 3]

Each comparison runs both sides in the same run on the same data and reports medians of repeated
runs and their ratios: the poll cycle and the CPU of a delivered alert (bench_poll), extraction
(bench_extract), rule matching (bench_rules), then memory, alert latency and start-up
(bench_service).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_poll  # noqa: E402
import bench_service  # noqa: E402
from report import write_chart, write_markdown  # noqa: E402

DOCS = HERE.parent / "docs"


def extraction(repeat: int, seconds: float) -> dict:
    """Passages/s (median of `repeat` timings) and F1 of watcher.extract and of dateparser."""
    import bench_extract as be

    rows = be.load_rows(be.default_path())
    texts = be.padded(rows)
    theirs_fn = be.dateparser_extractor()
    # rate() gives (per wall second, per CPU second): the CPU figure is per core, whatever else runs
    ours = [_per_cpu(be.rate(be.extract_deadlines, texts, seconds)) for _ in range(repeat)]
    theirs = [_per_cpu(be.rate(theirs_fn, texts, seconds)) for _ in range(repeat)]
    f1_ours, f1_theirs = be.score(rows, be.extract_deadlines)["f1"], be.score(rows, theirs_fn)["f1"]
    return {"passages": len(rows), "chars": be.TARGET_CHARS, "ours": statistics.median(ours),
            "theirs": statistics.median(theirs), "f1_ours": f1_ours, "f1_theirs": f1_theirs}  # fmt: skip


def _per_cpu(rate: float | tuple[float, float] | list[float]) -> float:
    return float(rate[1]) if isinstance(rate, tuple | list) else float(rate)


def rule_matching(repeat: int, n_rules: int = 10_000, n_items: int = 10_000, naive_items: int = 20) -> dict:
    """RuleIndex over n_items at 1k/5k/10k rules (median of `repeat`), and the naive loop on a subset."""
    import bench_rules as br

    rng = random.Random(7)
    terms = br.make_terms(rng, max(2000, n_rules * 2))
    rules = br.make_rules(rng, terms, n_rules)
    items = br.make_items(rng, terms, n_items)
    by_size = {}
    for n in (1000, 5000, n_rules):
        runs = [br.time_index(rules[:n], items, 1) for _ in range(repeat)]
        by_size[n] = {"build": statistics.median(r[0] for r in runs), "match": statistics.median(r[1] for r in runs)}
    naive = br.compile_naive(rules)
    per_item = []
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items[:naive_items]:
            br.naive_match(naive, item)
        per_item.append((time.perf_counter() - started) / naive_items)
    return {"rules": n_rules, "items": n_items, "by_size": by_size, "naive_items": naive_items,
            "naive": statistics.median(per_item) * n_items}  # fmt: skip


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": cores, "cpu": cpu, "python": platform.python_version(), "os": f"{platform.system()} {platform.release()}",
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, one repeat: a smoke test of the driver")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=DOCS)
    ap.add_argument("--report-only", action="store_true", help="rewrite the report from benchmarks.json")
    args = ap.parse_args()
    if args.report_only:
        results = json.loads((args.out / "benchmarks.json").read_text())
        for side in ("ours", "theirs"):
            results["extract"][side] = _per_cpu(results["extract"][side])
        write_markdown(results, args.out / "benchmarks.md")
        write_chart(results, args.out / "benchmarks.png")
        return 0
    repeat = 1 if args.quick else args.repeat
    ns = [20, 50] if args.quick else [200, 500, 1000]
    started = time.monotonic()
    results: dict = {"machine": machine()}

    def step(name: str, fn, *a, **kw):  # type: ignore[no-untyped-def]
        t = time.monotonic()
        print(f"{name} …", flush=True)
        results[name] = fn(*a, **kw)
        results.setdefault("load", {})[name] = os.getloadavg()[0]  # other work on the machine skews wall times
        print(f"  done in {time.monotonic() - t:.0f}s", flush=True)

    step("poll", bench_poll.bench, ns, 8, 1000, repeat, 40 if not args.quick else 10)
    step("cpu_alert", bench_poll.cpu_per_alert, *((10, 4, 1) if args.quick else (50, 8, max(repeat, 5))))
    step("extract", extraction, repeat, 0.5 if args.quick else 2.0)
    step("rules", rule_matching, repeat, *((1000, 1000, 5) if args.quick else ()))
    with bench_poll.Feeds(100 if args.quick else 1000) as feeds:
        step("memory_poll", bench_service.memory_poll, feeds.urls)
        step("memory_poll_threads", bench_service.memory_poll, feeds.urls, parse_workers=0)
        step("memory", bench_service.memory, feeds.urls)
    step("latency", bench_service.alert_latency, 8 if args.quick else 30)
    step("startup", bench_service.startup, 3 if args.quick else 7)
    results["seconds"] = time.monotonic() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmarks.json").write_text(json.dumps(results, indent=2, default=str))
    write_markdown(results, args.out / "benchmarks.md")
    write_chart(results, args.out / "benchmarks.png")
    print(f"wrote {args.out / 'benchmarks.md'} and {args.out / 'benchmarks.png'} in {results['seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
