"""Deadline extraction: find the legal milestones (entry into force, comment deadlines, compliance
dates, suspensions and their end...) in a notice, news report or alert, English or Chinese.

    >>> extract_deadlines("This rule is effective December 27, 2024.", None)[0].kind
    'effective'

Rules, not a model: dates are found by regular expressions (dates_en, dates_zh), each date is
qualified by the cue words around it (lexicon, cues, classify, clauses, kinds), by its column in a
table (columns) and by the other sentences of the passage (passage), and dates without a year or
relative to the publication are resolved against `published` (or a date the text itself gives).
A learned filter over these events was tried (issue 11) and did not beat the rules under
cross-validation, so none ships.
"""

from __future__ import annotations

import datetime as dt

from ..models import EVENT_KINDS, Event
from .pipeline import extract

__all__ = ["EVENT_KINDS", "Event", "extract_deadlines"]


def extract_deadlines(text: str, published: dt.date | None) -> list[Event]:
    """The deadline events of `text`, one per (date, kind), in order of first appearance.

    `published` is the document's publication date: it resolves dates written without a year
    (to the year that puts them nearest, preferring the future for deadlines) and relative dates
    ("upon publication", "30 days after publication", "自公布之日起施行"), unless the text itself
    prints a signature/publication date on a line of its own. Each event carries the sentence it
    came from as evidence (at most ~400 characters), a confidence in [0, 1], and the time of day
    and time zone when the text gives them.
    """
    return extract(text, published)
