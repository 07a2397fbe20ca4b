"""The scanner of cue words (English, simplified and traditional Chinese; lexicons in `lexicon`).

A cue is a word or phrase that tells what a nearby date means. Each lexicon entry is
(family, side, pattern): `side` says where the cue may stand relative to the date it qualifies
("L": before it, "R": after it, "B": either). Entries are tried in the order listed, so a longer,
more specific phrase listed first ("requests to appear at the hearing") masks the generic words
inside it ("hearing").

Families:
- polarity: UNTIL (end of a period), BY (deadline), BEFORE (weak deadline / cut-off), FROM (start),
  FROMW (weak start: "from", "as of"), SINCE;
- kinds and topics: EFF, SUS, END, EXT, COM, REQ, APPEAR, CMP, PAY, RPT, NEGOT, PUBL, DL, INV (an
  investigation's time limit: other_deadline);
- negatives: EVENT (announced, signed...), MEET (meetings, hearings), REF (the order of X, X公告),
  OPEN (a comment window opens), CUT (goods loaded/shipped before X), SUP / SUP2 (superseded).
ENTRY (goods entered or imported) only matters after a shipping cut-off: "loaded before X and
entered before Y" closes an in-transit window on Y (WIN, set by clauses: expiry).
Markers set by classify, not by a lexicon: KEY (a row of a key-dates list: "March 10, 2025: Due
date for ..."), and REF for a wire dateline ("LONDON, Nov 26 (Reuters) -").
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .lexicon import EN as _EN
from .lexicon import ZH as _ZH


class Cue(NamedTuple):
    start: int
    end: int
    family: str
    side: str


try:  # RE2 (a declared dependency) runs the big alternation as one automaton: ~10x faster
    import re2
except ImportError:  # pragma: no cover - the stdlib engine gives the same answers, slower
    re2 = None
try:
    _UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED if re2 is not None else None
except AttributeError:  # pragma: no cover - another RE2 binding: use its finditer
    _UNANCHORED = None

_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class _Lexicon:
    """One language's entries compiled twice: a group-free scanner (RE2 when available) that
    finds the cue spans, and a stdlib pattern with one named group per entry that tells which
    entry a span came from (it is only run on the few spans found)."""

    def __init__(self, entries: list[tuple[str, str, str]], words: bool) -> None:
        wrap = (lambda p: rf"\b(?:{p})\b") if words else (lambda p: f"(?:{p})")
        self.meta = {f"g{i}": (fam, side) for i, (fam, side, _) in enumerate(entries)}
        bodies = [wrap(p) for _, _, p in entries]
        self.named = re.compile("|".join(f"(?P<g{i}>{b})" for i, b in enumerate(bodies)))
        plain = "|".join(bodies)
        self.scanner = re2.compile(plain) if re2 is not None else re.compile(plain)
        self.known: dict[str, tuple[str, str]] = {}  # matched words -> (family, side)
        self.raw = getattr(self.scanner, "_regexp", None) if _UNANCHORED is not None else None

    def spans(self, text: str):
        """(start, end) of each match, in characters. RE2 is driven directly on the UTF-8 bytes:
        its Python wrapper builds a match object and re-decodes offsets for every match, which
        cost more than the matching itself."""
        raw = self.raw
        if raw is None:
            return [m.span() for m in self.scanner.finditer(text)]
        data = text.encode()
        ascii_only = len(data) == len(text)
        out, pos, end = [], 0, len(data)
        while pos < end:
            span = raw.Match(_UNANCHORED, data, pos, end)[0]
            if span[0] < 0:
                break
            out.append(span)
            pos = span[1] if span[1] > span[0] else span[1] + 1
        if ascii_only:
            return out
        return [(len(data[:a].decode()), len(data[:b].decode())) for a, b in out]

    def scan(self, text: str) -> list[Cue]:
        cues = []
        known = self.known
        for start, end in self.spans(text):
            word = text[start:end]
            meta = known.get(word)
            if meta is None:  # which entry matched: the same words always give the same one
                named = self.named.match(text, start, end)
                if named is None:
                    continue
                meta = self.meta[named.lastgroup]
                if len(known) < 4096:
                    known[word] = meta
            if meta[0] != "NONE":
                cues.append(Cue(start, end, meta[0], meta[1]))
        return cues


_EN_LEX = _Lexicon(_EN, words=True)
_ZH_LEX = _Lexicon(_ZH, words=False)

NEGATIVE = frozenset({"EVENT", "MEET", "REF", "OPEN", "CUT", "SINCE"})
POLARITY = frozenset({"UNTIL", "BY", "BEFORE", "FROM", "FROMW", "SINCE"})


def scan(sentence: str, zh: bool) -> list[Cue]:
    """Every cue of `sentence` (English always; Chinese too when `zh`), in text order.

    English matching is case-insensitive: the sentence is lower-cased (offsets kept) rather than
    compiling with IGNORECASE, which is several times slower.
    """
    low = sentence.lower()
    if len(low) != len(sentence):  # a rare character whose lower case is longer: keep offsets
        low = sentence.translate(_LOWER)
    cues = _EN_LEX.scan(low)
    if zh:
        cues += _ZH_LEX.scan(sentence)
        cues.sort()
    return cues
