"""Bounds on everything from outside: a server's Retry-After, durations and sizes in the config,
rule phrases and regexes, keys written twice in a YAML file."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.servers import Route, feed_xml
from tests.test_pipeline import config, entry, mailto
from watcher.commands import poll_once
from watcher.db import repo
from watcher.db.engine import make_engine, sessions
from watcher.errors import ConfigError
from watcher.fetch import backoff_delay
from watcher.settings import load


@pytest.mark.parametrize("retry_after", ["315360000", "999999999999", "9" * 400])
def test_a_servers_retry_after_waits_at_most_the_maximum_back_off_and_the_feed_beside_it_is_delivered(
    retry_after, tmp_path, feed_server, smtp_sink, write_config
):
    # 999999999999 s used to overflow the next poll's date: the cycle crashed, the good feed was not delivered.
    feed_server.set("/good", feed_xml([entry(1)]))
    feed_server.set("/busy", Route(status=429, headers={"Retry-After": retry_after}))
    sources = [{"name": "good", "kind": "feed", "url": feed_server.url("/good")},
               {"name": "busy", "kind": "feed", "url": feed_server.url("/busy")}]  # fmt: skip
    path = write_config(config(f"sqlite:///{tmp_path / 'w.db'}", sources, mailto(smtp_sink)))
    settings = load(path, env={})
    before = dt.datetime.now(dt.UTC)
    outcomes, report = asyncio.run(poll_once(settings, []))
    by_name = {o.name: o for o in outcomes}
    assert (by_name["good"].status, by_name["good"].alerts, report.sent) == ("fetched", 1, 1)
    assert (by_name["busy"].status, by_name["busy"].reason) == ("failed", "rate_limited")
    engine = make_engine(settings.database)
    with sessions(engine)() as session:
        busy = repo.source_health(session)["busy"]
    engine.dispose()
    cap = dt.timedelta(seconds=settings.fetch.max_backoff)
    assert before + cap / 2 <= busy.next_due_at <= dt.datetime.now(dt.UTC) + cap  # 6 h, not 2036
    assert len(smtp_sink.wait_for(1)) == 1


def test_retry_after_is_capped_at_the_back_off_cap():
    assert backoff_delay(1, cap=3600, retry_after=1e12) == 3600
    assert backoff_delay(1, cap=3600, retry_after=float("inf")) == 3600
    assert backoff_delay(0, cap=3600, retry_after=1e12) == 3600


def minimal(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "database": "sqlite:///var/x.db",
        "sources": [{"name": "ustr", "kind": "feed", "url": "https://example.com/feed"}],
        "rules": [{"name": "rare-earths", "any": ["rare earth"]}],
    }
    data.update(extra)
    return data


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (minimal(defaults={"interval": "100000000000000000000d"}),
         "defaults.interval: duration '100000000000000000000d' is too long: at most 3650d (ten years)"),
        (minimal(defaults={"interval": "0s"}), "defaults.interval: must be at least 1s (got 0s)"),
        (minimal(defaults={"timeout": 0}), "defaults.timeout: must be at least 100ms (got 0s)"),
        (minimal(sources=[{"name": "a", "kind": "feed", "url": "https://example.com/", "interval": "500ms"}]),
         "sources[0].interval: must be at least 1s (got 0.5s)"),
        (minimal(delivery={"interval": 0}), "delivery.interval: must be at least 1s (got 0s)"),
        (minimal(housekeeping={"item_retention": 1e400}),
         "housekeeping.item_retention: duration inf is too long: at most 3650d (ten years)"),
        (minimal(defaults={"backfill": float("nan")}),
         "defaults.backfill: a duration such as 30s, 15m, 1h or 1d, not NaN"),
        (minimal(fetch={"max_body": 10**15}), "fetch.max_body: Input should be less than or equal to 1073741824"),
        (minimal(reminders={"offsets": [7, 10**20]}),
         "reminders.offsets: offsets are days before the milestone: 0 to 3650"),
        (minimal(rules=[{"name": "r", "any": ["rare earth " * 200_000]}]),
         "rules[0].any[0]: String should have at most 1000 characters"),
        (minimal(rules=[{"name": "r", "regex": ["(a)" * 700_000]}]),
         "rules[0].regex[0]: String should have at most 1000 characters"),
    ],
    ids=["huge-interval", "zero-interval", "zero-timeout", "half-second-interval", "zero-delivery-interval",
         "infinite-retention", "nan-backfill", "huge-body", "huge-offset", "2mb-phrase", "2mb-regex"],
)  # fmt: skip
def test_durations_sizes_and_phrases_are_bounded_with_one_line_at_their_key_path(data, line, write_config):
    path = write_config(data)
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert str(err.value) == f"{path}: {line}"


def test_a_huge_interval_and_a_2mb_phrase_are_a_config_error_exit_2_not_a_crash(write_config, tmp_path):
    # The phrase used to pass check-config and crash `poll` with SIGSEGV; the interval, with OverflowError.
    for data in (minimal(defaults={"interval": "100000000000000000000d"}),
                 minimal(rules=[{"name": "r", "any": ["ab " * 700_000]}])):  # fmt: skip
        path = write_config(data)
        for args in (["check-config"], ["poll", "--once"]):
            proc = subprocess.run([sys.executable, "-m", "watcher", *args, "--config", str(path)],
                                  capture_output=True, text=True, timeout=60)  # fmt: skip
            assert proc.returncode == 2, proc.stderr
            assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith(f"{path}: ")


def test_a_key_written_twice_in_the_config_is_an_error_naming_file_line_and_key(tmp_path):
    path = tmp_path / "watcher.yaml"
    path.write_text("database: sqlite:///var/x.db\ndefaults:\n  interval: 1h\n  timeout: 10s\n  interval: 5m\n")
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert str(err.value) == f"{path}: line 5, column 3: invalid YAML: duplicate key 'interval'"


def test_keys_merged_from_an_anchor_may_still_be_overridden(tmp_path):
    path = tmp_path / "watcher.yaml"
    path.write_text("sources:\n  - &feed {kind: feed, name: a, url: 'https://example.com/a', interval: 1h}\n"
                    "  - {<<: *feed, name: b, interval: 2h}\n")  # fmt: skip
    settings = load(path, env={})
    assert [(s.name, s.interval) for s in settings.sources] == [("a", 3600), ("b", 7200)]


def test_a_key_written_twice_in_the_registry_file_is_an_error_naming_file_line_and_key(tmp_path):
    from watcher.registry_file import load_file

    path = tmp_path / "deadlines.yaml"
    path.write_text(yaml.safe_dump({"measures": [{"id": "m1", "title": "A measure"}]}) + "  title: Again\n")
    with pytest.raises(ConfigError) as err:
        load_file(path)
    assert "duplicate key 'title'" in str(err.value) and str(err.value).startswith(f"{path}: line 4, column 3:")
