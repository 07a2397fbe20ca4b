"""Poll-cycle benchmark: `watcher poll --once` over N local sources answering after 100 ms, cold
(every item new) and warm (every feed unchanged, 304), against a serial `feedparser.parse(url)`
loop and against the lower bound (one latency + the parse CPU of all bodies spread over the cores).
One source in twenty carries a fresh item that a rule routes to a local webhook sink (apprise
`json://` to 127.0.0.1): the cold poll also sends those alerts. `cpu_per_alert` measures the CPU
cost of a matched and delivered item: a poll+delivery with M matched items minus one with none.

    python bench/bench_poll.py [--sources 200 500] [--hosts 8] [--rules 1000] [--repeat 3]

Sources are spread over several loopback addresses (127.0.0.2, 127.0.0.3, …) as feeds from
different publishers would be; each feed has 30 items of about 1 KB of notice-like prose.
The serial loop is timed on a subset of the sources and extrapolated linearly (it is a plain loop:
its cost per source does not depend on N); that is said in the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.servers import LocalServer, feed_xml  # noqa: E402
from tests.sinks import WebhookSink  # noqa: E402

LATENCY = 0.1
ITEMS_PER_FEED = 30
MARKED_EVERY = 20  # one source in twenty has an item that the alert rule matches
ALERT_PHRASE = "watcher bench alert"
SENTENCES = [
    "The Department of Commerce amends the Export Administration Regulations to revise controls on {x}.",
    "This rule is effective {d}; comments must be received by {d2}.",
    "The Office of the United States Trade Representative proposes additional duties on imports of {x}.",
    "Exporters of {x} must obtain a license before shipping to the destinations listed in the annex.",
    "The measure applies to items classified under headings {hs} of the Harmonized Tariff Schedule.",
    "Interested parties may submit written comments through the public docket.",
    "The agency will hold a hearing to receive views on the proposed modification of the action.",
    "Shipments en route before the effective date are not subject to the new requirements.",
    "The Ministry of Commerce announced the adjustment after consultations with its trading partners.",
    "Importers should consult the customs guidance for the treatment of goods already in transit.",
]
GOODS = ["rare earth magnets", "gallium", "germanium", "graphite anodes", "semiconductor tools",
         "lithium batteries", "steel derivatives", "aluminium extrusions", "solar wafers", "drones"]  # fmt: skip


def _prose(rng: random.Random, chars: int = 1000) -> str:
    out: list[str] = []
    while sum(len(s) + 1 for s in out) < chars:
        day = dt.date(2026, 1, 1) + dt.timedelta(days=rng.randrange(365))
        out.append(rng.choice(SENTENCES).format(
            x=rng.choice(GOODS), d=f"{day:%B} {day.day}, {day.year}",
            d2=f"{day + dt.timedelta(days=30):%B %d, %Y}", hs=f"{rng.randint(2801, 8548)}.{rng.randint(10, 99)}",
        ))  # fmt: skip
    return " ".join(out)


def make_feed(i: int, extra: list[dict] | None = None) -> bytes:
    """Feed `i`: 30 items of ~1 KB, deterministic, after the `extra` items (newest first)."""
    rng = random.Random(i)
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    items = [
        {"guid": f"urn:{i}:{k}", "title": f"Notice {i}-{k}: {rng.choice(GOODS)} ({rng.choice(['BIS', 'USTR', 'CBP'])})",
         "link": f"https://example.gov/{i}/{k}", "description": _prose(rng), "pubDate": now - dt.timedelta(hours=k)}
        for k in range(ITEMS_PER_FEED)
    ]  # fmt: skip
    return feed_xml([*(extra or []), *items], title=f"Publisher {i}")


def marker_items(i: int, count: int = 1) -> list[dict]:
    """`count` fresh items (published now: past any backfill cutoff) that the alert rule matches."""
    now = dt.datetime.now(dt.UTC)
    return [{"guid": f"urn:{i}:alert:{k}", "title": f"Notice {i}-a{k}: {ALERT_PHRASE} on {GOODS[k % len(GOODS)]}",
             "link": f"https://example.gov/{i}/a{k}", "pubDate": now - dt.timedelta(minutes=k),
             "description": f"The Department of Commerce publishes notice {i}-{k} about {GOODS[k % len(GOODS)]}. "
                            "Comments must be received by December 1, 2026."}
            for k in range(count)]  # fmt: skip


def alert_rule(channel: str = "hook") -> dict[str, object]:
    return {"name": "bench-alert", "any": [ALERT_PHRASE], "channels": [channel]}


def make_rules(n: int, seed: int = 11) -> list[dict[str, object]]:
    """`n` rules with realistic phrases (companies, goods, HS codes, measures), as bench_rules
    builds them; a few match the benchmark's items, most do not."""
    from bench_rules import make_rules as rules_of
    from bench_rules import make_terms

    rng = random.Random(seed)
    terms = make_terms(rng, max(2000, n * 2))
    rules = [r.model_dump(exclude_defaults=True, exclude={"sources"}) for r in rules_of(rng, terms, n)]
    rules[0] = {"name": rules[0]["name"], "any": ["drones"], "all": ["Notice 7-"]}  # a handful of matches
    return rules


@dataclass
class Feeds:
    """N feeds on `hosts` loopback addresses (127.0.0.2 …), each answering after `LATENCY`;
    every `marked_every`-th one (0: none) also has `marked` fresh items matching the alert rule."""

    n: int
    hosts: int = 8
    marked_every: int = MARKED_EVERY
    marked: int = 1
    servers: list[LocalServer] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def __enter__(self) -> Feeds:
        self.servers = [LocalServer(host=f"127.0.0.{h + 2}").start() for h in range(self.hosts)]
        for i in range(self.n):
            server = self.servers[i % self.hosts]
            body = make_feed(i, marker_items(i, self.marked) if self.is_marked(i) else None)
            server.set(f"/feed/{i}", body, delay=LATENCY, etag=f'"{i}-0"')
            self.urls.append(server.url(f"/feed/{i}"))
            self.bodies.append(body)
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self.servers:
            s.stop()

    def is_marked(self, i: int) -> bool:
        return bool(self.marked_every) and i % self.marked_every == 0

    def items(self, n: int) -> int:
        return n * ITEMS_PER_FEED + self.alerts(n)

    def alerts(self, n: int) -> int:
        return sum(self.marked for i in range(n) if self.is_marked(i))


def write_config(directory: Path, name: str, urls: list[str], rules: list[dict], **extra: object) -> Path:
    cfg = {
        "database": f"sqlite:///{directory}/{name}.db",
        "allow_private_networks": True,
        "defaults": {"interval": "1h", "timeout": "30s", "channels": [], "backfill": "1d"},
        "sources": [{"name": f"s{i}", "kind": "feed", "url": u} for i, u in enumerate(urls)],
        "rules": rules,
        **extra,
    }
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return path


def watcher_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "watcher", *args]


def run_poll(config: Path, expect_new: int | None = None, expect_sent: int | None = None) -> float:
    """Wall time of one `watcher poll --once` (a fresh process, as cron would run it)."""
    return run_poll_timed(config, expect_new, expect_sent)[0]


def run_poll_timed(config: Path, expect_new: int | None = None, expect_sent: int | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `watcher poll --once`; the CPU is the process's and its
    reaped children's (with `fetch.parse_workers: 0` the poll is one process)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(watcher_cmd("poll", "--once", "--json", "--config", str(config)), stdout=out,
                                stderr=err, text=True)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise SystemExit(f"poll failed ({proc.returncode}): {stderr[-2000:]}")
    data = json.loads(stdout)
    new = sum(s["new"] for s in data["sources"])
    if expect_new is not None and new != expect_new:
        raise SystemExit(f"expected {expect_new} new items, the poll stored {new}")
    sent = data["delivery"]["sent"]
    if expect_sent is not None and sent != expect_sent:
        raise SystemExit(f"expected {expect_sent} alerts sent, the poll sent {sent}: {data['delivery']['errors'][:3]}")
    return elapsed, usage.ru_utime + usage.ru_stime


def serial_loop(urls: list[str]) -> float:
    """What a cron script does: `feedparser.parse(url)` for each URL, one after the other."""
    import feedparser

    started = time.perf_counter()
    for url in urls:
        parsed = feedparser.parse(url)
        assert len(parsed.entries) >= ITEMS_PER_FEED, (url, parsed.get("bozo_exception"))
    return time.perf_counter() - started


def parse_cpu(bodies: list[bytes]) -> float:
    """CPU seconds feedparser needs for all these bodies (the work no poller can skip on a cold run)."""
    import feedparser

    started = time.process_time()
    for body in bodies:
        feedparser.parse(body, sanitize_html=False)
    return time.process_time() - started


def bench(ns: list[int], hosts: int, n_rules: int, repeat: int, serial_subset: int, log=print) -> dict:
    """Every figure of the poll benchmark, per N: medians of `repeat` runs, and what they rest on."""
    cores = os.cpu_count() or 1
    rules = make_rules(n_rules)
    out: dict[str, object] = {"hosts": hosts, "rules": n_rules, "repeat": repeat, "cores": cores,
                              "latency": LATENCY, "items_per_feed": ITEMS_PER_FEED, "rows": []}  # fmt: skip
    with Feeds(max(ns), hosts) as feeds, WebhookSink() as sink, tempfile.TemporaryDirectory() as tmp:
        subset = feeds.urls[:serial_subset]
        serial_loop(subset[:3])  # warm the import and the connections' code paths
        serial_runs = [serial_loop(subset) / len(subset) for _ in range(max(1, repeat - 1))]
        per_source_serial = statistics.median(serial_runs)
        per_body_cpu = statistics.median(parse_cpu(feeds.bodies[:100]) / min(100, len(feeds.bodies)) for _ in range(3))
        out["serial_per_source"], out["serial_measured_on"] = per_source_serial, len(subset)
        out["parse_cpu_per_body"], out["body_bytes"] = per_body_cpu, statistics.mean(map(len, feeds.bodies))
        hook = [{"name": "hook", "url": sink.url()}]
        for n in ns:
            cold, warm = [], []
            for r in range(repeat):
                config = write_config(Path(tmp), f"n{n}-r{r}", feeds.urls[:n], [*rules, alert_rule()], channels=hook)
                received = len(sink.requests)
                cold.append(run_poll(config, expect_new=feeds.items(n), expect_sent=feeds.alerts(n)))
                if len(sink.requests) - received != feeds.alerts(n):
                    raise SystemExit(f"the sink got {len(sink.requests) - received} alerts, not {feeds.alerts(n)}")
                warm.append(run_poll(config, expect_new=0, expect_sent=0))
            lower = LATENCY + per_body_cpu * n / cores
            row = {"n": n, "cold": statistics.median(cold), "warm": statistics.median(warm), "cold_runs": cold,
                   "warm_runs": warm, "serial": per_source_serial * n, "lower": lower,
                   "alerts": feeds.alerts(n)}  # fmt: skip
            out["rows"].append(row)  # type: ignore[union-attr]
            log(f"  poll N={n}: cold {row['cold']:.2f}s, warm {row['warm']:.2f}s, serial (est.) {row['serial']:.1f}s, "
                f"lower bound {lower:.2f}s")  # fmt: skip
    return out


def cpu_per_alert(sources: int = 50, per_source: int = 8, repeat: int = 3, hosts: int = 4) -> dict:
    """CPU seconds of one matched and delivered item. `watcher poll --once` (one process:
    `fetch.parse_workers: 0`, cold, a fresh database) of `sources` feeds, each with `per_source`
    fresh items that a rule routes to a webhook sink, three ways: the rule matching all of them
    (M), one of them, none. Per item: (CPU(M) − CPU(0)) / M, which also counts what a process
    pays once when it has anything to send (loading apprise's plugins), and the marginal
    (CPU(M) − CPU(1)) / (M − 1). The least CPU of `repeat` runs of each side (other work on the
    machine only ever adds CPU time: the minimum is the steadiest)."""
    matched = sources * per_source
    sides = {
        "none": ({"name": "bench-alert", "any": ["no such phrase anywhere"], "channels": ["hook"]}, 0),
        "one": ({**alert_rule(), "all": ["Notice 0-a0:"]}, 1),
        "all": (alert_rule(), matched),
    }
    with Feeds(sources, hosts, marked_every=1, marked=per_source) as feeds, WebhookSink() as sink, \
            tempfile.TemporaryDirectory() as tmp:  # fmt: skip
        hook = [{"name": "hook", "url": sink.url()}]
        runs: dict[str, list[float]] = {side: [] for side in sides}
        for r in range(repeat):
            for side, (rule, sent) in sides.items():
                config = write_config(Path(tmp), f"cpu-{side}-{r}", feeds.urls, [rule], channels=hook,
                                      fetch={"parse_workers": 0})  # fmt: skip
                runs[side].append(run_poll_timed(config, expect_new=feeds.items(sources), expect_sent=sent)[1])
        if len(sink.requests) != (matched + 1) * repeat:
            raise SystemExit(f"the sink got {len(sink.requests)} alerts, not {(matched + 1) * repeat}")
    cpu = {side: min(values) for side, values in runs.items()}
    return {"sources": sources, "matched": matched, "repeat": repeat, "cpu": cpu, "runs": runs,
            "per_item": (cpu["all"] - cpu["none"]) / matched,
            "marginal": (cpu["all"] - cpu["one"]) / (matched - 1)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, nargs="+", default=[200])
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--rules", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--serial-subset", type=int, default=40)
    ap.add_argument("--cpu-only", action="store_true", help="only the CPU cost of a matched, delivered item")
    args = ap.parse_args()
    if args.cpu_only:
        c = cpu_per_alert(repeat=args.repeat)
        print(f"CPU per matched and delivered item: {c['per_item'] * 1000:.2f} ms against none, "
              f"{c['marginal'] * 1000:.2f} ms marginal ({c['matched']} items; CPU s: {c['cpu']})")  # fmt: skip
        return
    res = bench(args.sources, args.hosts, args.rules, args.repeat, args.serial_subset)
    print(f"{res['hosts']} hosts, {LATENCY * 1000:.0f} ms each, {args.rules} rules, median of {args.repeat}; serial loop "
          f"timed on {res['serial_measured_on']} sources and extrapolated")  # fmt: skip
    print(f"{'N':>6} {'cold s':>8} {'warm s':>8} {'serial s':>9} {'lower s':>8} {'warm/serial':>12} {'cold/lower':>11}")
    for r in res["rows"]:
        print(f"{r['n']:>6} {r['cold']:>8.2f} {r['warm']:>8.2f} {r['serial']:>9.1f} {r['lower']:>8.2f} "
              f"{r['serial'] / r['warm']:>11.1f}x {r['cold'] / r['lower']:>10.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
