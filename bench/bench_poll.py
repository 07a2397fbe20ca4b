"""Poll-cycle benchmark: `watcher poll --once` over N local sources answering after 100 ms,
cold (all new) and warm (all unchanged, 304), against a serial `feedparser.parse(url)` loop.

    python bench/bench_poll.py [--sources 200] [--hosts 4] [--rules 100]

Sources are spread over several loopback addresses (127.0.0.2, 127.0.0.3, …) as feeds from
different publishers would be. Prints medians and the ratios side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import feedparser
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers import LocalServer, feed_xml  # noqa: E402


def make_feed(i: int) -> bytes:
    now = dt.datetime.now(dt.UTC)
    items = [
        {"guid": f"urn:{i}:{k}", "title": f"Notice {i}-{k} on tariffs and export controls",
         "link": f"https://example.gov/{i}/{k}", "description": "Lorem ipsum dolor sit amet. " * 35,
         "pubDate": now - dt.timedelta(hours=k)}
        for k in range(30)
    ]  # fmt: skip
    return feed_xml(items)


def run_poll(config: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "watcher", "poll", "--once", "--json", "--config", str(config)],
                          capture_output=True, text=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"poll failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def serial_loop(urls: list[str]) -> float:
    started = time.perf_counter()
    for url in urls:
        feedparser.parse(url)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=200)
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--rules", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    servers = [LocalServer(host=f"127.0.0.{h + 2}").start() for h in range(args.hosts)]
    urls = []
    for i in range(args.sources):
        server = servers[i % args.hosts]
        server.set(f"/feed/{i}", make_feed(i), delay=0.1, etag=f'"{i}"')
        urls.append(server.url(f"/feed/{i}"))
    cold, warm = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            cfg = {
                "database": f"sqlite:///{tmp}/bench{r}.db",
                "allow_private_networks": True,
                "defaults": {"interval": "1h", "timeout": "30s", "channels": []},
                "sources": [{"name": f"s{i}", "kind": "feed", "url": u} for i, u in enumerate(urls)],
                "rules": [{"name": f"r{k}", "any": [f"phrase number {k}", f"term{k}"]} for k in range(args.rules)],
            }
            path = Path(tmp) / f"watcher{r}.yaml"
            path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
            cold.append(run_poll(path))
            warm.append(run_poll(path))
        serial = serial_loop(urls)
    for s in servers:
        s.stop()
    lower = 0.1  # one latency: every source answers after 100 ms
    rows = [
        ("serial feedparser.parse(url) loop", serial),
        ("watcher poll --once, cold (all new)", statistics.median(cold)),
        ("watcher poll --once, warm (all 304)", statistics.median(warm)),
    ]
    print(f"{args.sources} sources on {args.hosts} hosts, 100 ms each, {args.rules} rules; median of {args.repeat}")
    print(f"{'run':<40} {'seconds':>8} {'vs serial':>10}")
    for name, secs in rows:
        print(f"{name:<40} {secs:8.2f} {serial / secs:9.1f}x")
    print(f"{'lower bound (one latency)':<40} {lower:8.2f}")


if __name__ == "__main__":
    main()
