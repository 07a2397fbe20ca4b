"""Benchmarks of the running service (`watcher run`) and of start-up.

    python bench/bench_service.py [--sources 1000] [--probes 30]

- memory: peak memory of `watcher run` with N sources over three poll cycles, and of a cold
  `watcher poll --once` over them, summed over the process tree (the process, its parse workers,
  their fork server): the RSS of every process added up, sampled every 0.1 s (the target's figure;
  it counts pages they share once per process), and the proportional share (PSS) beside it;
- alert latency: with a 10 s interval, items appear on sources at random moments; the time until
  the webhook sink (tests/sinks.py, apprise `json://`) receives each alert: p50 and p95;
- start-up: `watcher --help` and `watcher poll --once` on a config without sources.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench_poll import LATENCY, Feeds, make_feed, watcher_cmd, write_config  # noqa: E402

from tests.servers import LocalServer  # noqa: E402
from tests.sinks import WebhookSink, _Inbox  # noqa: E402


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        out += [int(c) for c in children]
        todo += [int(c) for c in children]
    return out


class Service:
    """`watcher run` in a subprocess, its log in a file, stopped with SIGTERM."""

    def __init__(self, config: Path, log: Path) -> None:
        self.log_path = log
        self._log = log.open("w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(watcher_cmd("run", "--config", str(config)), stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env)  # fmt: skip

    def polled(self) -> int:
        return self.log_path.read_text(errors="replace").count("source.polled")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


class TreeMemory:
    """Peaks of a process tree's memory, from /proc, sampled while it runs: the sum of every
    process's RSS, the sum of their PSS, and the main process's high-water mark."""

    def __init__(self, pid: int) -> None:
        self.pid, self.rss_kb, self.pss_kb, self.hwm_kb, self.processes = pid, 0, 0, 0, 1
        self._hwm: dict[int, int] = {}

    def sample(self) -> None:
        pids = [self.pid, *_descendants(self.pid)]
        self.processes = max(self.processes, len(pids))
        self.rss_kb = max(self.rss_kb, sum(_status_kb(p, "VmRSS") for p in pids))
        self.pss_kb = max(self.pss_kb, sum(_pss_kb(p) for p in pids))
        for p in pids:
            self._hwm[p] = max(self._hwm.get(p, 0), _status_kb(p, "VmHWM"))
        self.hwm_kb = max(self.hwm_kb, _status_kb(self.pid, "VmHWM"))

    def figures(self) -> dict:
        return {"peak_total_mb": self.rss_kb / 1024, "peak_pss_mb": self.pss_kb / 1024, "peak_main_mb": self.hwm_kb / 1024,
                "hwm_sum_mb": sum(self._hwm.values()) / 1024, "processes": self.processes}  # fmt: skip


def _memory_config(tmp: str, urls: list[str]) -> Path:
    config = write_config(Path(tmp), "mem", urls, [{"name": "r", "any": ["drones"], "all": ["Notice 7-"]}],
                          http={"host": "127.0.0.1", "port": 0})  # fmt: skip
    raw = yaml.safe_load(config.read_text())
    raw["defaults"]["interval"] = "10s"
    config.write_text(yaml.safe_dump(raw))
    return config


def memory(urls: list[str], cycles: int = 3, timeout: float = 180.0) -> dict:
    """Peak memory of `watcher run` until every source has been polled `cycles` times."""
    n = len(urls)
    with tempfile.TemporaryDirectory() as tmp:
        svc = Service(_memory_config(tmp, urls), Path(tmp) / "run.log")
        started, tree = time.monotonic(), TreeMemory(svc.proc.pid)
        try:
            while svc.polled() < cycles * n:
                if svc.proc.poll() is not None or time.monotonic() - started > timeout:
                    raise SystemExit(f"watcher run: {svc.polled()} polls of {cycles * n} after "
                                     f"{time.monotonic() - started:.0f}s\n{svc.log_path.read_text()[-2000:]}")  # fmt: skip
                tree.sample()
                time.sleep(0.1)
            elapsed = time.monotonic() - started
        finally:
            svc.stop()
    return {"sources": n, "cycles": cycles, **tree.figures(), "children": tree.processes - 1, "seconds": elapsed}


def memory_poll(urls: list[str], timeout: float = 180.0, parse_workers: int | None = None) -> dict:
    """Peak memory of one cold `watcher poll --once` over `urls` (a fresh database), workers included
    (`parse_workers`: as `fetch.parse_workers`; None: the default, a process per core)."""
    with tempfile.TemporaryDirectory() as tmp:
        config, log = _memory_config(tmp, urls), Path(tmp) / "poll.log"
        if parse_workers is not None:
            raw = yaml.safe_load(config.read_text())
            raw["fetch"] = {"parse_workers": parse_workers}
            config.write_text(yaml.safe_dump(raw))
        with log.open("w") as err:  # a file, not a pipe: its log must not fill a pipe and block it
            proc = subprocess.Popen(watcher_cmd("poll", "--once", "--config", str(config)), stdout=subprocess.DEVNULL,
                                    stderr=err)  # fmt: skip
        started, tree = time.monotonic(), TreeMemory(proc.pid)
        while proc.poll() is None:
            if time.monotonic() - started > timeout:
                proc.kill()
                raise SystemExit(f"watcher poll --once over {len(urls)} sources took over {timeout:.0f}s")
            tree.sample()
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        if proc.returncode != 0:
            raise SystemExit(f"watcher poll --once failed: {log.read_text(errors='replace')[-2000:]}")
    return {"sources": len(urls), **tree.figures(), "children": tree.processes - 1, "seconds": elapsed}


class _TimedInbox(_Inbox):
    """The sink's inbox, stamping each request with the moment it arrived."""

    def append(self, item: object) -> None:
        super().append((time.monotonic(), item))


def alert_latency(probes: int = 30, sources: int = 20, interval: float = 10.0, seed: int = 5) -> dict:
    """Items appear at random moments on `sources` feeds polled every `interval`; how long until the
    webhook receives each one's alert."""
    rng = random.Random(seed)
    server = LocalServer(host="127.0.0.2").start()
    sink = WebhookSink()
    sink.inbox = _TimedInbox()
    sink.start()
    versions = dict.fromkeys(range(sources), 0)
    probes_by_feed: dict[int, list[dict]] = {i: [] for i in range(sources)}
    lock = threading.Lock()

    def publish(i: int) -> None:
        server.set(f"/feed/{i}", make_feed(i, probes_by_feed[i]), etag=f'"{i}-{versions[i]}"', delay=LATENCY)

    try:
        for i in range(sources):
            publish(i)
        with tempfile.TemporaryDirectory() as tmp:
            urls = [server.url(f"/feed/{i}") for i in range(sources)]
            rules = [{"name": "probe", "any": ["watcher latency probe"], "channels": ["hook"]}]
            config = write_config(Path(tmp), "lat", urls, rules, http={"host": "127.0.0.1", "port": 0},
                                  channels=[{"name": "hook", "url": sink.url()}])  # fmt: skip
            raw = yaml.safe_load(config.read_text())
            raw["defaults"]["interval"] = f"{interval:g}s"
            config.write_text(yaml.safe_dump(raw))
            svc = Service(config, Path(tmp) / "run.log")
            try:
                deadline = time.monotonic() + 60
                while svc.polled() < sources and time.monotonic() < deadline:
                    time.sleep(0.1)
                window = max(3 * interval, probes * 1.5)
                moments = sorted(rng.uniform(0, window) for _ in range(probes))
                t0, sent = time.monotonic(), {}
                for k, at in enumerate(moments):
                    time.sleep(max(0.0, t0 + at - time.monotonic()))
                    i = rng.randrange(sources)
                    with lock:
                        probes_by_feed[i].insert(0, {
                            "guid": f"probe-{k}", "title": f"Probe {k}: watcher latency probe",
                            "link": f"https://example.gov/probe/{k}", "pubDate": dt.datetime.now(dt.UTC),
                            "description": "A new notice, published to time its alert.",
                        })  # fmt: skip
                        versions[i] += 1
                        publish(i)
                        sent[f"Probe {k}:"] = time.monotonic()
                received = sink.inbox.wait_for(probes, timeout=interval * 3 + 30)
            finally:
                svc.stop()
        latencies = []
        for at, request in received:
            text = str(request.body)
            key = next((k for k in sent if k in text), None)
            if key is not None:
                latencies.append(at - sent.pop(key))
    finally:
        sink.stop()
        server.stop()
    latencies.sort()
    return {"probes": probes, "received": len(latencies), "interval": interval, "sources": sources,
            "p50": statistics.median(latencies), "p95": latencies[max(0, round(0.95 * len(latencies)) - 1)],
            "max": latencies[-1]}  # fmt: skip


def startup(repeat: int = 7) -> dict:
    """Median wall time of `watcher --help` and of `watcher poll --once` without sources."""

    def timed(cmd: list[str]) -> float:
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-1500:]}")
        return time.perf_counter() - started

    helps = [timed(watcher_cmd("--help")) for _ in range(repeat)]
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "empty.yaml"
        config.write_text(f"database: sqlite:///{tmp}/empty.db\nsources: []\n")
        first = timed(watcher_cmd("poll", "--once", "--config", str(config)))  # creates the database
        polls = [timed(watcher_cmd("poll", "--once", "--config", str(config))) for _ in range(repeat)]
    return {"help": statistics.median(helps), "poll_empty": statistics.median(polls), "poll_empty_first": first,
            "repeat": repeat}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--probes", type=int, default=30)
    args = ap.parse_args()
    print("start-up:", startup())
    with Feeds(args.sources) as feeds:
        print("memory, poll --once:", memory_poll(feeds.urls))
        print("memory, run:", memory(feeds.urls))
    print("alert latency:", alert_latency(args.probes))


if __name__ == "__main__":
    main()
