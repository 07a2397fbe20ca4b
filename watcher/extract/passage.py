"""Passage-level rules: what a date means can depend on another sentence of the passage.

- Renewal: "The comment period closed on June 12, 2025. ... the Department is reopening the
  comment period. Comments must be received on or before July 31, 2025." The end told in the
  past before a later sentence reopens or further extends the period is superseded (README:
  only the new date is recorded).
- Initiation notices: in "...: Initiation of Less-Than-Fair-Value Investigations", the line
  "DATES: Applicable October 15, 2025." gives the initiation date, which is not recorded.
"""

from __future__ import annotations

import datetime as dt
import re

from ..models import Event

_RENEWAL = re.compile(
    r"\b(?:further\s+extend(?:s|ed|ing)?|reopen(?:s|ed|ing)?|re-open(?:s|ed|ing)?)\b", re.I
)
_PAST_END = re.compile(r"\b(?:closed|extended|expired|ended|was|were)\b", re.I)
_RENEWABLE = frozenset({"expiry", "comment_deadline"})
# an end told as the one in force until now (scheduled, current, decided before)...
_OLD_END = re.compile(
    r"\b(?:(?:are|is|were|was)\s+(?:currently\s+)?(?:scheduled|set|due)\s+to\s+(?:expire|end|lapse"
    r"|terminate|close|sunset)|current(?:ly)?|previously|prior|determined|decided|agreed"
    r"|suspended|paused|granted|excluded|exempted"
    r"|had\s+(?:been\s+)?extended|were\s+extended|was\s+extended)\b|原定|原[订訂]|此前|先前",
    re.I,
)
# ...and a later sentence that extends it to a later end
_EXTENDS = re.compile(r"\bextend(?:s|ing|ed)?\b|\bextension\b|延[长長]|延期|[继繼][续續]", re.I)
# the heading (first lines) names an initiation, not a preliminary or final determination
_INITIATION = re.compile(r"\bInitiation\s+of\b", re.I)
_DETERMINATION = re.compile(r"\b(?:Preliminary|Final)\b", re.I)
_APPLICABLE = re.compile(r"^\W*DATES\W*Applicable\b", re.I)

# the investigation is over: a time limit recounted in the same passage was overtaken
_CONCLUDED = re.compile(
    r"(?:[调調]查|[审審]查|本案)(?:已|已经|已經)?(?:结束|結束|终结|終結|终止|終止)|(?:终止|終止|结束|結束)"
    r"(?:本案|该|該)?(?:[调調]查|[审審]查)|\b(?:investigation|probe|review|inquiry)\s+(?:has\s+been\s+|was\s+"
    r"|is\s+(?:hereby\s+)?)?(?:concluded|terminated|completed|closed)\b|\bterminat(?:es|ed|ing)\s+"
    r"(?:the|this|its)\s+(?:\w+\s+){0,3}?(?:investigation|probe|review)",
    re.I,
)

Placed = tuple[Event, int, str]  # an event, the start of its sentence, the sentence


def concluded(norm: str) -> bool:
    """True when the passage says the investigation has ended (its time limit is then moot)."""
    return _CONCLUDED.search(norm) is not None


def initiation_notice(norm: str) -> bool:
    """True when the passage's heading says it is the initiation of an investigation or review."""
    head = norm[:300]
    if "nitiation" not in head and "NITIATION" not in head:
        return False  # the common case, without a regex
    return bool(_INITIATION.search(head)) and not _DETERMINATION.search(head)


def initiation_line(sentence: str) -> bool:
    """ "DATES: Applicable October 15, 2025." (to be skipped in an initiation notice)."""
    return bool(_APPLICABLE.match(sentence))


def renewed(placed: list[Placed], norm: str) -> set[tuple[dt.date, str]]:
    """(date, kind) keys of period ends that a later sentence reopens or further extends:
    "The comment period closed on X ... is reopening the comment period ... by Y", "The current
    exclusions are scheduled to expire on X. This notice ... extending them through Y", "In
    September the USTR determined to extend the exclusions through X. This notice extends them
    through Y": only Y is recorded."""
    ends = [p for p in placed if p[0].kind in _RENEWABLE]
    if len(ends) < 2:
        return set()  # nothing to supersede: skip the scan of the passage
    last = max((m.start() for m in _RENEWAL.finditer(norm)), default=-1)
    drop = set()
    for ev, start, sentence in ends:
        later = [
            (o, s, t) for o, s, t in ends if o.kind == ev.kind and o.date > ev.date and s > start
        ]
        if not later:
            continue
        if start < last and _PAST_END.search(sentence):
            drop.add((ev.date, ev.kind))
        elif _OLD_END.search(sentence) and any(_EXTENDS.search(t) for _, _, t in later):
            drop.add((ev.date, ev.kind))
    return drop
