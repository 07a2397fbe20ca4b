"""Text normalisation and sentence splitting with offsets into the original text.

Normalisation maps characters one-for-one (full-width digits and punctuation to ASCII, odd spaces
to a plain space), so offsets found in the normalised text are valid in the original and evidence
can be quoted verbatim.
"""

from __future__ import annotations

import re

_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII block
_FOLD.update({0x3000: 0x20, 0xA0: 0x20, 0x2009: 0x20, 0x202F: 0x20, 0x2002: 0x20, 0x2003: 0x20})
_FOLD.update({0x2010: 0x2D, 0x2011: 0x2D})  # hyphen variants (en/em dashes stay: ranges)

# Words that end with a period without ending the sentence ("Nov. 8", "U.S.", "No. 817").
_ABBREV = frozenset(
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun "
    "no nos mr mrs ms dr st sec art arts para paras p pp fig vol ch cf e.g i.e etc vs v inc ltd "
    "co corp jr sr gen gov sen rep dept est approx u.s u.k e.u u.n a.m p.m fed reg cfr ed eds "
    "op seq viz al".split()
)
_END_RX = re.compile(r"[.!?][\"'”’)\]]*\s+(?=[\"“‘(\[•A-Z0-9])|[。！？;]|\n")
_WORD_BEFORE = re.compile(r"([\w.]+)\Z")


_FOLDABLE = re.compile("[" + "".join(f"\\U{cp:08x}" for cp in sorted(_FOLD)) + "]")


def normalize(text: str) -> str:
    """Fold full-width characters and unusual spaces; the result has the same length."""
    return text.translate(_FOLD) if _FOLDABLE.search(text) else text


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    m = _WORD_BEFORE.search(text, max(0, dot - 12), dot)
    if m is None:
        return False
    word = m.group(1).lower()
    # single letters ("J. Smith", not "Nov. 1. The"), dotted initialisms ("U.S."), abbreviations
    return (
        (len(word) == 1 and word.isalpha()) or word in _ABBREV or ("." in word and len(word) <= 6)
    )


def split(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of normalised `text`, whitespace trimmed.

    Boundaries: sentence punctuation followed by a capital/digit/bullet (unless after an
    abbreviation), Chinese sentence punctuation, semicolons and line breaks (notices put one
    date per line in their DATES sections).
    """
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END_RX.finditer(text):
        if _is_abbreviation(text, m.start()):
            continue
        _add(text, start, m.start() + 1, spans)
        start = m.end()
    _add(text, start, len(text), spans)
    return spans


def _add(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))
