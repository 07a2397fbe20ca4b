"""The configuration file: a public contract, validated with errors that name file, key path and reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from watcher.errors import ConfigError
from watcher.settings import load, parse_duration

REPO = Path(__file__).resolve().parents[1]


def minimal(**extra):  # type: ignore[no-untyped-def]
    data = {
        "database": "sqlite:///var/x.db",
        "defaults": {"channels": ["compliance"]},
        "sources": [{"name": "ustr", "kind": "feed", "url": "https://example.com/feed", "interval": "15m"}],
        "rules": [{"name": "rare-earths", "any": ["rare earth"], "channels": ["compliance"]}],
        "channels": [{"name": "compliance", "url": "json://example.com/hook"}],
    }
    data.update(extra)
    return data


def test_the_shipped_config_loads():
    settings = load(REPO / "config" / "watcher.yaml", env={})
    assert settings.sources and settings.rules
    assert settings.channel("compliance").urls() == []  # no SLACK_WEBHOOK_URL: console


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), ("1h30m", 5400), (45, 45)]
)
def test_durations_are_written_with_units(text, seconds):
    assert parse_duration(text) == seconds


def test_a_bad_duration_names_its_key_path(write_config):
    path = write_config(minimal(defaults={"interval": "soon"}))
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert str(err.value).startswith(f"{path}: defaults.interval: invalid duration 'soon'")


def test_an_unknown_channel_in_a_rule_is_one_line_with_file_key_path_and_reason(write_config):
    data = minimal()
    data["rules"] = [
        {"name": "a", "any": ["x"]},
        {"name": "b", "any": ["y"]},
        {"name": "c", "any": ["z"], "channels": ["slak"]},
    ]
    path = write_config(data)
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert str(err.value) == f"{path}: rules[2].channels[0]: unknown channel 'slak'"


def test_an_unknown_key_is_an_error_with_its_path(write_config):
    data = minimal()
    data["sources"][0]["intervall"] = "5m"
    path = write_config(data)
    with pytest.raises(ConfigError, match=r"sources\[0\]\.intervall: unknown key"):
        load(path, env={})


def test_an_unknown_source_kind_is_named(write_config):
    data = minimal()
    data["sources"][0]["kind"] = "rss"
    with pytest.raises(ConfigError, match=r"sources\[0\]: unknown source kind 'rss'"):
        load(write_config(data), env={})


def test_an_invalid_regex_is_reported_at_its_key_path(write_config):
    data = minimal()
    data["rules"][0]["regex"] = ["(unclosed"]
    with pytest.raises(ConfigError, match=r"rules\[0\]\.regex\[0\]: invalid regular expression"):
        load(write_config(data), env={})


def test_invalid_yaml_names_the_line(write_config, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("sources:\n  - name: a\n    url: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+, column \d+: invalid YAML"):
        load(path, env={})


def test_environment_variables_are_substituted_and_missing_ones_named(write_config):
    data = minimal(channels=[{"name": "compliance", "url": "${HOOK_URL}"}])
    path = write_config(data)
    assert load(path, env={"HOOK_URL": "json://h/x"}).channel("compliance").urls() == ["json://h/x"]
    with pytest.raises(ConfigError, match=r"channels\[0\]\.url: environment variable HOOK_URL is not set"):
        load(path, env={})


def test_a_secret_can_come_from_a_file_variable(write_config, tmp_path):
    secret = tmp_path / "hook"
    secret.write_text("slack://T000/B000/XXXX\n", encoding="utf-8")
    path = write_config(minimal(channels=[{"name": "compliance", "url": "${SLACK_URL}"}]))
    settings = load(path, env={"SLACK_URL_FILE": str(secret)})
    assert settings.channel("compliance").urls() == ["slack://T000/B000/XXXX"]
    assert "XXXX" not in repr(settings) and "XXXX" not in str(settings.channels)


def test_environment_overrides_database_port_and_private_networks(write_config):
    env = {
        "WATCHER_DATABASE_URL": "postgresql://u@db/w",
        "WATCHER_HTTP_PORT": "9999",
        "WATCHER_ALLOW_PRIVATE_NETWORKS": "true",
    }
    settings = load(write_config(minimal()), env=env)
    assert (settings.database, settings.http.port, settings.allow_private_networks) == ("postgresql://u@db/w", 9999, True)


def test_config_path_comes_from_flag_then_environment_then_default(write_config, monkeypatch, tmp_path):
    path = write_config(minimal())
    monkeypatch.setenv("WATCHER_CONFIG", str(path))
    assert load(None).path == path.resolve()


def test_check_config_exits_2_with_one_line_and_writes_nothing(write_config, tmp_path):
    data = minimal(database=f"sqlite:///{tmp_path / 'should-not-exist.db'}")
    data["rules"][0]["channels"] = ["slak"]
    path = write_config(data)
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "check-config", "--config", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"{path}: rules[0].channels[0]: unknown channel 'slak'"
    assert not (tmp_path / "should-not-exist.db").exists()


def test_check_config_passes_on_the_shipped_config():
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "check-config", "--config", str(REPO / "config" / "watcher.yaml")],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "OK" in proc.stdout


def test_an_unknown_time_zone_is_refused_at_its_key_path_for_every_kind_and_the_reminders(write_config):
    for data, where in (
        (minimal(sources=[{"name": "a", "kind": "feed", "url": "https://example.com/", "tz": "Europe/Pariss"}]), "sources[0].tz"),
        (minimal(sources=[{"name": "a", "kind": "html_list", "url": "https://example.com/", "tz": "Europe/Pariss"}]), "sources[0].tz"),
        (minimal(reminders={"tz": "Europe/Pariss"}), "reminders.tz"),
    ):  # fmt: skip
        path = write_config(data)
        with pytest.raises(ConfigError) as err:
            load(path, env={})
        assert str(err.value) == f"{path}: {where}: unknown time zone 'Europe/Pariss' (an IANA name such as Europe/Paris or Asia/Shanghai)"


@pytest.mark.parametrize("at", ["8am", "8:00", "24:00", "08:60"])
def test_a_reminder_time_not_written_hh_mm_says_how_to_write_it(at, write_config):
    path = write_config(minimal(reminders={"at": at}))
    with pytest.raises(ConfigError) as err:
        load(path, env={})
    assert str(err.value) == f"{path}: reminders.at: write the time as HH:MM on a 24-hour clock, such as 08:00 (got {at!r})"
