"""The configuration file: pydantic models and `load()`, which reports errors as one line each
(`FILE: KEY.PATH: reason`) and never half-applies a file."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from watcher import errors
from watcher.errors import ConfigError
from watcher.registry_file import load_yaml

DEFAULT_CONFIG = "config/watcher.yaml"
CONSOLE = "console"  # where alerts go when no channel is configured
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
MAX_DURATION = 3650 * 86400.0  # ten years: longer is a typo, and would overflow a date
MAX_PHRASE = 1000  # characters of a rule's phrase or regular expression


def parse_duration(value: Any) -> float:
    """`30s`, `15m`, `1h`, `1d`, `1h30m` or a number of seconds → seconds (float)."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 15m, 1h or 1d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration must not be negative")
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        parts = _DURATION.findall(text)
        if not parts or _DURATION.sub("", text).strip():
            raise ValueError(f"invalid duration {value!r}: write it as 30s, 15m, 1h or 1d")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if math.isnan(seconds):
        raise ValueError("a duration such as 30s, 15m, 1h or 1d, not NaN")
    if seconds > MAX_DURATION:
        raise ValueError(f"duration {value!r} is too long: at most 3650d (ten years)")
    return seconds


def _at_least(minimum: float, shown: str) -> AfterValidator:
    def check(seconds: float) -> float:
        if seconds < minimum:
            raise ValueError(f"must be at least {shown} (got {seconds:g}s)")
        return seconds

    return AfterValidator(check)


def _zone(name: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/Paris or Asia/Shanghai)") from None
    return name


Duration = Annotated[float, BeforeValidator(parse_duration)]
Interval = Annotated[float, BeforeValidator(parse_duration), _at_least(1.0, "1s")]  # how often something runs
Timeout = Annotated[float, BeforeValidator(parse_duration), _at_least(0.1, "100ms")]
Zone = Annotated[str, AfterValidator(_zone)]
Phrase = Annotated[str, Field(max_length=MAX_PHRASE)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)


class Defaults(Strict):
    interval: Interval = 1800.0
    timeout: Timeout = 30.0
    channels: list[str] = []
    backfill: Duration = 7 * 86400.0  # first poll of a source: older entries are stored, not alerted
    health_after: Duration = 6 * 3600.0  # a source failing this long gets one ops alert (and one on recovery)
    silent_after: Duration | None = None  # no new item for this long: one ops alert (None: never)


class FetchSettings(Strict):
    """Limits of the one shared HTTP client."""

    max_body: int = Field(10 * 1024 * 1024, gt=0, le=1024**3)
    max_decompressed: int = Field(50 * 1024 * 1024, gt=0, le=4 * 1024**3)
    max_redirects: int = Field(5, ge=0, le=20)
    max_connections: int = Field(64, gt=0, le=10_000)
    per_host: int = Field(8, gt=0, le=1000)
    max_backoff: Interval = 6 * 3600.0
    # Processes that parse fetched bodies and extract deadlines; 0: threads of the main process.
    # None: one per core for `watcher poll --once` over many sources, 0 for `watcher run`
    # (the service has its whole interval to poll; worker processes cost ~30 MB each).
    parse_workers: int | None = Field(None, ge=0, le=64)


class DeliverySettings(Strict):
    max_attempts: int = Field(8, ge=1, le=1000)
    backoff: Duration = 30.0  # first retry; doubles each attempt
    max_backoff: Duration = 6 * 3600.0
    interval: Interval = 10.0  # how often the worker drains the outbox
    timeout: Timeout = 30.0


class Housekeeping(Strict):
    item_retention: Duration = 180 * 86400.0
    attempt_retention: Duration = 90 * 86400.0
    interval: Interval = 3600.0


class Reminders(Strict):
    """Reminders before each upcoming milestone, once per offset, at `at` in the milestone's zone."""

    offsets: list[int] = Field(default_factory=lambda: [30, 7, 1, 0])
    at: str = "08:00"
    tz: Zone = "UTC"  # for milestones that have no zone of their own
    enabled: bool = True

    @field_validator("offsets")
    @classmethod
    def _non_negative(cls, v: list[int]) -> list[int]:
        if any(d < 0 or d > 3650 for d in v):
            raise ValueError("offsets are days before the milestone: 0 to 3650")
        return sorted(set(v), reverse=True)

    @field_validator("at")
    @classmethod
    def _clock(cls, v: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v):
            raise ValueError(f"write the time as HH:MM on a 24-hour clock, such as 08:00 (got {v!r})")
        return v


class SourceBase(Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    url: str
    interval: Interval | None = None
    timeout: Timeout | None = None
    tags: list[str] = []
    enabled: bool = True
    trusted: bool = False
    health_after: Duration | None = None  # else defaults.health_after
    silent_after: Duration | None = None  # else defaults.silent_after

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError(f"url must start with http:// or https:// (got {v!r})")
        return v


class FeedSource(SourceBase):
    """An RSS or Atom feed; with `full_text`, each new entry's linked page is read once for its
    text (for feeds that carry only a title)."""

    kind: Literal["feed"]
    full_text: bool = False
    max_follow: int = Field(20, ge=0, le=1000)
    min_delay: Duration = 1.0
    tz: Zone = "UTC"


class FederalRegisterSource(SourceBase):
    """Documents of the Federal Register API (JSON), optionally with its Public Inspection desk.

    `url` is the API base, so tests and mirrors can point elsewhere. Every condition narrows the
    query; `agencies` are the API's slugs (`industry-and-security-bureau`), `cfr` is `15 CFR 744`.
    """

    kind: Literal["federal_register"]
    url: str = "https://www.federalregister.gov/api/v1"
    agencies: list[str] = []
    document_types: list[Literal["RULE", "PRORULE", "NOTICE", "PRESDOCU"]] = []
    term: str | None = None
    cfr: str | None = Field(None, pattern=r"^\s*\d+\s*CFR\s*\d+[A-Za-z0-9.]*\s*$")
    public_inspection: bool = True
    per_page: int = Field(100, ge=1, le=1000)
    max_pages: int = Field(10, ge=1, le=100)

    @model_validator(mode="after")
    def _narrowed(self) -> FederalRegisterSource:
        if not (self.agencies or self.term or self.cfr or self.document_types):
            raise ValueError("a federal_register source needs agencies, document_types, term or cfr")
        return self


class Selectors(Strict):
    """CSS selectors of a list page: `item` picks each notice; the others look inside it."""

    item: str
    link: str = "a[href]"
    title: str | None = None  # else the link's text (or its title attribute when that is longer)
    date: str | None = None  # else the first date written in the item

    @field_validator("item", "link", "title", "date")
    @classmethod
    def _css(cls, v: str | None) -> str | None:
        if v is not None:
            from selectolax.lexbor import LexborHTMLParser

            try:
                LexborHTMLParser("<p></p>").css(v)
            except Exception as exc:  # lexbor raises several types for a bad selector
                raise ValueError(f"invalid CSS selector {v!r} ({exc})") from None
        return v


class HtmlListSource(SourceBase):
    """An official list page without a feed (MOFCOM announcements, CBP CSMS): notices are links
    beside dates, found by `selectors` or, without them, on their own; each new one is followed
    once for its text."""

    kind: Literal["html_list"]
    selectors: Selectors | None = None
    json_path: str | None = Field(None, pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")  # e.g. data.html
    follow: bool = True
    max_follow: int = Field(20, ge=0, le=1000)  # articles fetched per poll; the rest wait for the next poll
    min_delay: Duration = 1.0  # between two requests to the same host
    tz: Zone = "UTC"  # zone of dates written without one (Asia/Shanghai for MOFCOM)


# One member per source kind; sources/__init__.py maps the same kinds to their parsers
# (tests/test_cli.py checks that the two agree).
SourceConfig = Annotated[FeedSource | FederalRegisterSource | HtmlListSource, Field(discriminator="kind")]
SOURCE_KINDS = ("feed", "federal_register", "html_list")


class Rule(Strict):
    name: str = Field(min_length=1)
    any: list[Phrase] = []
    all: list[Phrase] = []
    none: list[Phrase] = []
    regex: list[Phrase] = []
    sources: list[str] = []
    tags: list[str] = []
    channels: list[str] | None = None  # None: defaults.channels


class Channel(Strict):
    """Any apprise URL, or a list of them; an empty URL prints alerts to the console."""

    name: str = Field(min_length=1)
    url: SecretStr | list[SecretStr]

    def urls(self) -> list[str]:
        raw = self.url if isinstance(self.url, list) else [self.url]
        return [u.get_secret_value() for u in raw if u.get_secret_value().strip()]


class Settings(Strict):
    database: str = "sqlite:///var/watcher.db"
    allow_private_networks: bool = False
    # How long a claimed source or alert stays taken; renewed every third of it while the work
    # runs, so a replica that dies loses its work to another replica at most this long after.
    lease: Duration = Field(60.0, ge=3.0)
    http: HttpSettings = HttpSettings()
    defaults: Defaults = Defaults()
    fetch: FetchSettings = FetchSettings()
    delivery: DeliverySettings = DeliverySettings()
    housekeeping: Housekeeping = Housekeeping()
    sources: list[SourceConfig] = []
    rules: list[Rule] = []
    channels: list[Channel] = []
    registry: str | None = None
    reminders: Reminders = Reminders()
    _path: Path | None = PrivateAttr(None)
    _measures: list[Any] = PrivateAttr(default_factory=list)
    _registry_as_of: dt.date | None = PrivateAttr(None)

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def measures(self) -> list[Any]:
        """The measures of the registry file (`registry:`), as loaded and validated with the config."""
        return list(self._measures)

    @property
    def registry_as_of(self) -> dt.date | None:
        """The registry file's `as_of` date: when its facts were last checked."""
        return self._registry_as_of

    def registry_path(self) -> Path | None:
        if not self.registry:
            return None
        base = self._path.parent if self._path else Path.cwd()
        return (base / self.registry).resolve()

    def source_interval(self, source: SourceBase) -> float:
        return source.interval if source.interval is not None else self.defaults.interval

    def source_timeout(self, source: SourceBase) -> float:
        return source.timeout if source.timeout is not None else self.defaults.timeout

    def default_channels(self) -> list[str]:
        """`defaults.channels`, else the console: with no channel configured, alerts are printed."""
        return list(self.defaults.channels) or [CONSOLE]

    def rule_channels(self, rule: Rule) -> list[str]:
        return list(rule.channels) if rule.channels else self.default_channels()

    def channel(self, name: str) -> Channel:
        for ch in self.channels:
            if ch.name == name:
                return ch
        if name == CONSOLE:
            return Channel(name=CONSOLE, url=SecretStr(""))
        raise KeyError(name)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--config PATH`, else `WATCHER_CONFIG`, else `config/watcher.yaml`."""
    return Path(explicit or os.environ.get("WATCHER_CONFIG") or DEFAULT_CONFIG)


def load(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read, substitute, override and validate a config file; raise `ConfigError` on any problem."""
    env = dict(os.environ if env is None else env)
    file = config_path(path)
    shown = str(file)
    try:
        # libyaml's loader when there is one (ten times faster on a file of a thousand sources);
        # a key written twice is an error, not the last one silently winning
        raw = load_yaml(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found (give --config PATH or set WATCHER_CONFIG)", shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", shown) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", shown, where) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("the file must hold a mapping of keys (database, sources, rules, …)", shown)
    raw = _substitute(raw, env, shown, "")
    _apply_overrides(raw, env, shown)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc), shown) from None
    problems = check_references(settings)
    if problems:
        where, why = problems[0]
        raise ConfigError(why, shown, where)
    settings._path = file.resolve()
    registry = settings.registry_path()
    if registry is not None:  # validated with the config, so check-config and run catch its errors
        from watcher.registry_file import load_registry

        shown_registry = Path(os.path.relpath(registry)) if not Path(shown).is_absolute() else registry
        loaded = load_registry(shown_registry, {c.name for c in settings.channels} | {CONSOLE})
        settings._measures, settings._registry_as_of = loaded.measures, loaded.as_of
    return settings


def _substitute(node: Any, env: dict[str, str], file: str, where: str) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in strings; `VAR_FILE` names a file holding VAR."""
    if isinstance(node, dict):
        return {k: _substitute(v, env, file, _join(where, str(k))) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, env, file, f"{where}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if f"{name}_FILE" in env:
            try:
                return Path(env[f"{name}_FILE"]).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read {name}_FILE: {exc.strerror}", file, where) from None
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is not set (nor {name}_FILE)", file, where)

    return _ENV_REF.sub(repl, node)


def _apply_overrides(raw: dict[str, Any], env: dict[str, str], file: str) -> None:
    if env.get("WATCHER_DATABASE_URL"):
        raw["database"] = env["WATCHER_DATABASE_URL"]
    for key in ("host", "port"):  # WATCHER_HTTP_HOST=0.0.0.0 in a container
        if env.get(f"WATCHER_HTTP_{key.upper()}"):
            raw["http"] = {**(raw.get("http") or {}), key: env[f"WATCHER_HTTP_{key.upper()}"]}
    flag = env.get("WATCHER_ALLOW_PRIVATE_NETWORKS")
    if flag:
        if flag.lower() not in {"1", "true", "yes", "0", "false", "no"}:
            raise ConfigError(f"WATCHER_ALLOW_PRIVATE_NETWORKS must be true or false, not {flag!r}", file)
        raw["allow_private_networks"] = flag.lower() in {"1", "true", "yes"}


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def format_validation_error(exc: ValidationError) -> str:
    """The first pydantic error as `key.path: reason`, with the source kinds named."""
    return errors.format_validation_error(exc, SOURCE_KINDS)


def check_references(s: Settings) -> list[tuple[str, str]]:
    """Cross-checks pydantic can't express per field: names unique, references resolvable, regexes valid."""
    problems: list[tuple[str, str]] = []
    channels = {c.name for c in s.channels}
    sources = {src.name for src in s.sources}
    for kind, items in (("source", s.sources), ("rule", s.rules), ("channel", s.channels)):
        seen: set[str] = set()
        for i, it in enumerate(items):
            if it.name in seen:
                problems.append((f"{kind}s[{i}].name", f"duplicate {kind} name {it.name!r}"))
            seen.add(it.name)
    for j, ch in enumerate(s.defaults.channels):
        if ch not in channels:
            problems.append((f"defaults.channels[{j}]", f"unknown channel {ch!r}"))
    for i, rule in enumerate(s.rules):
        base = f"rules[{i}]"
        if not (rule.any or rule.all or rule.regex):
            problems.append((base, f"rule {rule.name!r} has no 'any', 'all' or 'regex' to match"))
        for j, ch in enumerate(rule.channels or []):
            if ch not in channels:
                problems.append((f"{base}.channels[{j}]", f"unknown channel {ch!r}"))
        for j, src in enumerate(rule.sources):
            if src not in sources:
                problems.append((f"{base}.sources[{j}]", f"unknown source {src!r}"))
        for field in ("any", "all", "none"):
            for j, phrase in enumerate(getattr(rule, field)):
                if not _phrase_has_text(phrase):
                    problems.append((f"{base}.{field}[{j}]", f"phrase {phrase!r} has no letters or digits to match"))
        for j, pattern in enumerate(rule.regex):
            error = _regex_error(pattern)
            if error:
                problems.append((f"{base}.regex[{j}]", f"invalid regular expression: {error}"))
    return problems


def _phrase_has_text(phrase: str) -> bool:
    from watcher.text import normalise_text

    return bool(normalise_text(phrase).strip())


def _regex_error(pattern: str) -> str | None:
    from watcher.text import compile_regex

    try:
        compile_regex(pattern)
    except Exception as exc:  # re2 and re raise different types
        return str(exc) or exc.__class__.__name__
    return None
