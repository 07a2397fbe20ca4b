"""The registry file (`registry:` in the config, e.g. config/deadlines.yaml): a public contract.

    as_of: 2026-12-06                   # optional: the date the file's facts were checked
    measures:
      - id: cn-mofcom-2025-rare-earth
        title: MOFCOM rare-earth export controls of 9 October 2025
        jurisdiction: CN
        authority: MOFCOM
        reference: MOFCOM Announcement No. 61 of 2025
        aliases: ["rare earth export controls", "稀土出口管制"]
        tags: [rare-earths, export-controls]
        status: announced
        milestones:
          - {kind: effective, date: 2025-12-01, note: "…", source: "https://…"}
          - kind: suspension_end        # a suspension is the period from `suspension` to `suspension_end`
            date: 2026-11-10
            time: "13:01"               # optional, with its zone
            tz: Asia/Shanghai
            state: active               # optional: active (default), suspended (held by a suspension),
                                        # superseded (moved or replaced), cancelled (revoked) or
                                        # unconfirmed (passed with no notice saying what happened)
            uid: cn-mofcom-2025-rare-earth/suspension_end/1   # optional: the calendar's stable UID
            sequence: 2                 # optional: the calendar's SEQUENCE (changes so far)
        channels: [compliance]          # optional; else defaults.channels

`deadlines export` writes every field, including `state`, `uid`, `sequence` and cancelled milestones,
so that `export` then `import` into an empty database gives the same registry. Milestones without a
uid get `<measure>/<kind>/<n>`. An entry whose file form did not change since its last import is
skipped, so findings accepted in the database are not undone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from watcher.errors import ConfigError, format_validation_error
from watcher.models import MEASURE_STATUSES, MILESTONE_KINDS, MILESTONE_STATES, Measure, Milestone

EventKind = Literal[
    "effective", "comment_deadline", "compliance", "suspension", "suspension_end", "expiry", "other_deadline"
]
MeasureStatus = Literal["announced", "in_force", "suspended", "revoked", "expired"]
MilestoneState = Literal["active", "suspended", "superseded", "cancelled", "unconfirmed"]
assert set(EventKind.__args__) == set(MILESTONE_KINDS) and set(MeasureStatus.__args__) == set(MEASURE_STATUSES)  # type: ignore[attr-defined]
assert set(MilestoneState.__args__) == set(MILESTONE_STATES)  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MilestoneSpec(_Strict):
    kind: EventKind
    date: dt.date
    time: str | None = Field(None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    tz: str | None = None
    note: str = ""
    source: str = ""
    state: MilestoneState = "active"
    uid: str | None = None  # written by `deadlines export`; keeps calendar events stable
    sequence: int = Field(0, ge=0)  # written by `deadlines export`: the calendar's SEQUENCE

    @field_validator("tz")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r} (use an IANA name such as America/New_York)") from None
        return v


class MeasureSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=200)
    title: str = Field(min_length=1)
    jurisdiction: str = ""
    authority: str = ""
    reference: str = ""
    aliases: list[str] = []
    tags: list[str] = []
    status: MeasureStatus = "announced"
    milestones: list[MilestoneSpec] = []
    channels: list[str] | None = None
    source: str = ""

    @model_validator(mode="after")
    def _unique_uids(self) -> MeasureSpec:
        uids = milestone_uids(self)
        if len(uids) != len(set(uids)):
            raise ValueError("two milestones share a uid (one given, or one given and one made: `<measure>/<kind>/<n>`)")
        return self


def milestone_uids(spec: MeasureSpec) -> list[str]:
    """Each milestone's uid: the one given, else `<measure>/<kind>/<n>` (the n-th of its kind)."""
    counts: dict[str, int] = {}
    uids = []
    for m in spec.milestones:
        counts[m.kind] = counts.get(m.kind, 0) + 1
        uids.append(m.uid or f"{spec.id}/{m.kind}/{counts[m.kind]}")
    return uids


class RegistryFile(_Strict):
    as_of: dt.date | None = None
    measures: list[MeasureSpec] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> RegistryFile:
        seen: set[str] = set()
        for m in self.measures:
            if m.id in seen:
                raise ValueError(f"duplicate measure id {m.id!r}")
            seen.add(m.id)
        return self


def to_measure(spec: MeasureSpec) -> Measure:
    """A file entry as a Measure; milestones without a uid get `<measure>/<kind>/<n>`."""
    milestones = []
    for m, uid in zip(spec.milestones, milestone_uids(spec), strict=True):
        milestones.append(Milestone(m.kind, m.date, m.time, m.tz, m.note, m.source, uid=uid, sequence=m.sequence,
                                    state=m.state))
    return Measure(
        id=spec.id, title=spec.title, jurisdiction=spec.jurisdiction, authority=spec.authority,
        reference=spec.reference, aliases=tuple(spec.aliases), tags=tuple(spec.tags), status=spec.status,
        milestones=tuple(milestones), channels=tuple(spec.channels) if spec.channels is not None else None,
        source=spec.source,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Registry:
    """A registry file read and validated: the date its facts were checked (`as_of`) and its measures."""

    measures: list[Measure]
    as_of: dt.date | None = None


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader (libyaml's when there is one), refusing a key written twice in a mapping:
    YAML keeps the last silently, so an edit lower down would undo one above unseen."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue  # a merged mapping's keys may be overridden: that is what `<<` is for
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]


def load_yaml(text: str) -> Any:
    """YAML text → data, safely; a duplicate key is a `yaml.YAMLError` marked at its line."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a safe loader)


def load_file(path: str | os.PathLike[str], channels: set[str] | None = None) -> list[Measure]:
    """Read and validate a registry file; errors name the file, the key path and the reason."""
    return load_registry(path, channels).measures


def load_registry(path: str | os.PathLike[str], channels: set[str] | None = None) -> Registry:
    """`load_file`, with the file's `as_of` date."""
    shown = str(path)
    try:
        raw = load_yaml(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("registry file not found", shown) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        raise ConfigError(f"invalid YAML: {getattr(exc, 'problem', None) or exc}", shown, where) from None
    return _parse(raw, shown, channels)


def parse_registry(raw: Any, shown: str, channels: set[str] | None = None) -> list[Measure]:
    return _parse(raw, shown, channels).measures


def _parse(raw: Any, shown: str, channels: set[str] | None) -> Registry:
    try:
        parsed = RegistryFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc), shown) from None
    if channels is not None:
        for i, spec in enumerate(parsed.measures):
            for j, ch in enumerate(spec.channels or []):
                if ch not in channels:
                    raise ConfigError(f"unknown channel {ch!r}", shown, f"measures[{i}].channels[{j}]")
    return Registry([to_measure(spec) for spec in parsed.measures], parsed.as_of)


def measure_to_dict(m: Measure) -> dict[str, Any]:
    """The file form of a measure (also the `before`/`after` of its history)."""
    data: dict[str, Any] = {
        "id": m.id, "title": m.title, "jurisdiction": m.jurisdiction, "authority": m.authority,
        "reference": m.reference, "aliases": list(m.aliases), "tags": list(m.tags), "status": m.status,
    }  # fmt: skip
    if m.source:
        data["source"] = m.source
    data["milestones"] = [milestone_to_dict(ms) for ms in m.milestones]
    if m.channels is not None:
        data["channels"] = list(m.channels)
    return data


def milestone_to_dict(ms: Milestone) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": ms.kind, "date": ms.date}
    for key in ("time", "tz"):
        if getattr(ms, key):
            out[key] = getattr(ms, key)
    if ms.note:
        out["note"] = ms.note
    if ms.source:
        out["source"] = ms.source
    # only when not the default: the file form (and so the digest) of an entry written before
    # `state` and `sequence` existed stays the same, and its accepted findings stand
    if ms.state != "active":
        out["state"] = ms.state
    out["uid"] = ms.uid
    if ms.sequence:
        out["sequence"] = ms.sequence
    return out


def digest(m: Measure) -> str:
    """A hash of a measure's file form, ignoring uids that the file did not spell out."""
    data = measure_to_dict(m)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def dump_file(measures: list[Measure], as_of: dt.date | None = None) -> str:
    """The registry as YAML, in the file format, for `deadlines export` (and git): every milestone,
    cancelled ones too, with its state, uid and sequence, so that importing it loses nothing."""
    as_of = as_of or dt.date.today()
    data = {"as_of": as_of, "measures": [measure_to_dict(m) for m in measures]}
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    return "# watcher deadline registry (exported " + dt.date.today().isoformat() + ")\n" + _dates_unquoted(body)


def _dates_unquoted(text: str) -> str:
    return re.sub(r"'(\d{4}-\d\d-\d\d)'", r"\1", text)
