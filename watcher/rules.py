"""Watch rules compiled into one index: items → matches.

Every phrase of every rule goes into ONE Aho-Corasick automaton that scans a normalised copy of the
item's text (casefolded, compatibility-decomposed so full-width letters become ASCII, runs of spaces,
hyphens and dashes made one space). Hits of Latin phrases must stand on word boundaries; phrases with
CJK characters match as substrings. Only rules reached from a hit (an inverted index phrase → rules)
are evaluated, so an item that hits nothing costs one scan, whatever the number of rules.

Regular expressions run through google-re2 (linear time, no catastrophic backtracking) against the
original text, case-insensitively. All patterns are searched together by `re2.Set`s of up to
`_SET_SIZE` patterns, i.e. one extra DFA pass over the text per `_SET_SIZE` patterns; a pattern is
searched alone (for the position of its match) only when a rule that uses it is otherwise satisfied.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import ahocorasick
import re2

from watcher.models import Item, Match
from watcher.settings import Rule, Settings

Pattern: TypeAlias = re2._Regexp

_SET_SIZE = 64
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")  # soft hyphen, zero-width chars
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)


def _re2_options(max_mem: int = 8 << 20) -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # errors come back as ValueError, not as lines on stderr
    options.max_mem = max_mem
    return options


_OPTIONS = _re2_options()
_SET_OPTIONS = _re2_options(64 << 20)


def compile_regex(pattern: str) -> Pattern:
    """Compile with google-re2, case-insensitive unless the pattern says `(?-i)`.

    Raises ValueError with re2's own message (`missing ): (a`) on an invalid pattern or one re2 does
    not support (backreferences, look-around).
    """
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        message = exc.args[0] if exc.args else ""
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise ValueError(message or "invalid regular expression") from None


def _fold(text: str) -> str:
    """Casefold and NFKD; length changes only inside non-ASCII runs (see `_to_original`)."""
    if text.isascii():
        return text.lower()
    # NFKD rather than NFKC: composed and decomposed accents then fold alike, and each run of
    # non-ASCII characters folds on its own, which keeps the offset map exact.
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return _INVISIBLE.sub("", folded) if _INVISIBLE.search(folded) else folded


def _unhyphen(folded: str) -> str:
    for dash in _DASHES:
        if dash in folded:
            folded = folded.replace(dash, " ")
    return folded


def normalise_text(text: str) -> str:
    """The form phrases and texts are compared in: `Rare-Earth　Ｍagnets` → `rare earth magnets`."""
    return " ".join(_unhyphen(_fold(text)).split())


class _WordChars(dict[str, bool]):
    """Letters, digits, `_` and combining marks, except CJK (which has no spaces between words)."""

    def __missing__(self, ch: str) -> bool:
        word = (ch.isalnum() or ch == "_" or unicodedata.category(ch)[0] == "M") and not _CJK.match(
            ch
        )
        self[ch] = word
        return word


_IS_WORD = _WordChars()


def _to_original(part: str, q: int) -> int:
    """Position `q` of `_fold(part)` → position in `part`."""
    if part.isascii():
        return q
    delta = 0  # folded position - original position, before the current run
    for run in _NON_ASCII.finditer(part):
        a, b = run.span()
        if q < a + delta:
            break
        folded = _fold(run.group())
        if q < a + delta + len(folded):
            if len(folded) == b - a:
                return q - delta
            offset = q - a - delta
            for i, ch in enumerate(run.group()):
                offset -= len(_fold(ch))
                if offset < 0:
                    return a + i
            return b - 1
        delta += len(folded) - (b - a)
    return q - delta


class _Text:
    """One item's text: the original parts, their normalised forms and the map between them."""

    __slots__ = ("parts", "norm", "_norm_starts", "_orig_starts", "_stretches")

    def __init__(self, item: Item) -> None:
        summary = item.summary if item.summary and item.summary.strip() not in item.text else ""
        self.parts = [p for p in (item.title, summary, item.text) if p]
        norms = [normalise_text(p) for p in self.parts]
        # Parts are joined with "\n", which no normalised phrase contains: no match spans two parts.
        self.norm = "\n".join(norms)
        self._norm_starts = _starts(len(n) for n in norms)
        self._orig_starts = _starts(len(p) for p in self.parts)
        self._stretches: dict[int, tuple[list[int], list[int]]] = {}

    @property
    def original(self) -> str:
        return "\n".join(self.parts)

    def from_norm(self, start: int, end: int) -> tuple[int, int, int]:
        """A span of `norm` → (part, start, end) in the original part."""
        k = bisect.bisect_right(self._norm_starts, start) - 1
        base = self._norm_starts[k]
        a = self._to_part(k, start - base)
        b = self._to_part(k, max(start, end - 1) - base) + 1
        return k, a, b

    def from_original(self, start: int, end: int) -> tuple[int, int, int]:
        k = bisect.bisect_right(self._orig_starts, start) - 1
        base = self._orig_starts[k]
        return k, start - base, min(end - base, len(self.parts[k]))

    def _to_part(self, k: int, p: int) -> int:
        if k not in self._stretches:
            unhyphened = _unhyphen(_fold(self.parts[k]))
            words = [m.span() for m in re.finditer(r"\S+", unhyphened)]
            self._stretches[k] = (_starts(b - a for a, b in words), [a for a, _ in words])
        norm_starts, folded_starts = self._stretches[k]
        if not norm_starts:
            return 0
        j = max(0, bisect.bisect_right(norm_starts, p) - 1)
        return _to_original(self.parts[k], folded_starts[j] + p - norm_starts[j])


def _starts(lengths: Iterable[int]) -> list[int]:
    """Start offsets of strings of these lengths joined by one separator character."""
    out, pos = [], 0
    for n in lengths:
        out.append(pos)
        pos += n + 1
    return out


@dataclass(frozen=True, slots=True)
class _Compiled:
    name: str
    any: tuple[tuple[str, int], ...]  # (phrase as written, phrase id)
    all: tuple[tuple[str, int], ...]
    none: tuple[int, ...]
    regex: tuple[tuple[str, int], ...]  # (pattern as written, regex id)
    sources: frozenset[str]
    tags: frozenset[str]
    channels: tuple[str, ...]


class RuleIndex:
    """All watch rules compiled into one Aho-Corasick automaton plus re2 sets; `match()` an item.

    Raises ValueError for a rule with nothing to match (no `any`, `all` or `regex`), a phrase that
    normalises to nothing (`" - "`) or an invalid regular expression.
    """

    def __init__(self, rules: Sequence[Rule], default_channels: Sequence[str] = ()) -> None:
        self._phrase_ids: dict[str, int] = {}
        self._phrase_info: list[tuple[int, int, bool, bool]] = []  # id, length, left, right check
        self._regex_ids: dict[str, int] = {}
        self._regexes: list[Pattern] = []
        self._triggers: list[list[int]] = []  # phrase id → rules a hit makes worth evaluating
        self._regex_triggers: list[list[int]] = []
        self._rules = [self._compile(i, r, tuple(default_channels)) for i, r in enumerate(rules)]
        self._automaton: ahocorasick.Automaton | None = None
        if self._phrase_ids:
            self._automaton = ahocorasick.Automaton()
            for key, pid in self._phrase_ids.items():
                self._automaton.add_word(key, self._phrase_info[pid])
            self._automaton.make_automaton()
        self._sets = _regex_sets(self._regexes)

    @classmethod
    def from_settings(cls, s: Settings) -> RuleIndex:
        return cls(s.rules, s.defaults.channels)

    def __len__(self) -> int:
        return len(self._rules)

    def _compile(self, index: int, rule: Rule, default_channels: tuple[str, ...]) -> _Compiled:
        if not (rule.any or rule.all or rule.regex):
            raise ValueError(f"rule {rule.name!r} has no 'any', 'all' or 'regex' to match")
        any_ = tuple((p, self._phrase_id(rule.name, p)) for p in rule.any)
        all_ = tuple((p, self._phrase_id(rule.name, p)) for p in rule.all)
        none = tuple(self._phrase_id(rule.name, p) for p in rule.none)
        regex = tuple((p, self._regex_id(rule.name, p)) for p in rule.regex)
        # A rule can only match when one of its triggers hits: an `any` phrase or a regex when it
        # has those, else its longest (likely rarest) `all` phrase, since every one must hit.
        if any_ or regex:
            for _, pid in any_:
                self._triggers[pid].append(index)
            for _, rid in regex:
                self._regex_triggers[rid].append(index)
        else:
            longest = max(all_, key=lambda pair: len(normalise_text(pair[0])))
            self._triggers[longest[1]].append(index)
        channels = tuple(rule.channels) if rule.channels is not None else default_channels
        return _Compiled(rule.name, any_, all_, none, regex, frozenset(rule.sources),
                         frozenset(rule.tags), channels)  # fmt: skip

    def _phrase_id(self, rule: str, phrase: str) -> int:
        key = normalise_text(phrase)
        if not key:
            raise ValueError(f"rule {rule!r}: phrase {phrase!r} has nothing to match")
        if key not in self._phrase_ids:
            pid = len(self._phrase_info)
            latin = not _CJK.search(key)
            self._phrase_ids[key] = pid
            self._phrase_info.append(
                (pid, len(key), latin and _IS_WORD[key[0]], latin and _IS_WORD[key[-1]])
            )
            self._triggers.append([])
        return self._phrase_ids[key]

    def _regex_id(self, rule: str, pattern: str) -> int:
        if pattern not in self._regex_ids:
            try:
                compiled = compile_regex(pattern)
            except ValueError as exc:
                raise ValueError(
                    f"rule {rule!r}: invalid regular expression {pattern!r}: {exc}"
                ) from None
            self._regex_ids[pattern] = len(self._regexes)
            self._regexes.append(compiled)
            self._regex_triggers.append([])
        return self._regex_ids[pattern]

    def match(self, item: Item) -> list[Match]:
        """The rules `item` satisfies, in rule order."""
        text = _Text(item)
        hits = self._phrase_hits(text.norm)
        regex_hits = self._regex_hits(text.original) if self._sets else set()
        candidates: set[int] = set()
        for pid in hits:
            candidates.update(self._triggers[pid])
        for rid in regex_hits:
            candidates.update(self._regex_triggers[rid])
        matches: list[Match] = []
        spans: dict[int, tuple[int, int] | None] = {}  # regex id → span in the original text
        for index in sorted(candidates):
            rule = self._rules[index]
            if rule.sources and item.source not in rule.sources:
                continue
            if rule.tags and rule.tags.isdisjoint(item.tags):
                continue
            found = self._evaluate(rule, hits, regex_hits, text, spans)
            if found is not None:
                matches.append(found)
        return matches

    def _phrase_hits(self, norm: str) -> dict[int, int]:
        """Phrase id → start (in `norm`) of its first occurrence on word boundaries."""
        hits: dict[int, int] = {}
        if self._automaton is None:
            return hits
        is_word, size = _IS_WORD, len(norm)
        for last, (pid, length, left, right) in self._automaton.iter(norm):
            if pid in hits:
                continue
            start = last - length + 1
            if left and start > 0 and is_word[norm[start - 1]]:
                continue
            if right and last + 1 < size and is_word[norm[last + 1]]:
                continue
            hits[pid] = start
        return hits

    def _regex_hits(self, original: str) -> set[int]:
        data = original.encode("utf-8")
        found: set[int] = set()
        for offset, regex_set, patterns in self._sets:
            if regex_set is not None:
                found.update(offset + i for i in regex_set.Match(data) or ())
            else:
                found.update(offset + i for i, p in enumerate(patterns) if p.search(original))
        return found

    def _evaluate(
        self,
        rule: _Compiled,
        hits: dict[int, int],
        regex_hits: set[int],
        text: _Text,
        spans: dict[int, tuple[int, int] | None],
    ) -> Match | None:
        any_hit = [(p, pid) for p, pid in rule.any if pid in hits]
        regex_hit = [(p, rid) for p, rid in rule.regex if rid in regex_hits]
        if (rule.any or rule.regex) and not (any_hit or regex_hit):
            return None
        if any(pid not in hits for _, pid in rule.all) or any(pid in hits for pid in rule.none):
            return None
        # Where to quote: the earliest phrase hit, or an earlier regex match.
        first: tuple[int, int, int] | None = None
        phrase_ids = [pid for _, pid in any_hit] + [pid for _, pid in rule.all]
        if phrase_ids:
            pid = min(phrase_ids, key=hits.__getitem__)
            first = text.from_norm(hits[pid], hits[pid] + self._phrase_info[pid][1])
        for _, rid in regex_hit:
            if rid not in spans:
                m = self._regexes[rid].search(text.original)
                spans[rid] = m.span() if m else None
            span = spans[rid]
            if span is not None:
                candidate = text.from_original(*span)
                if first is None or candidate[:2] < first[:2]:
                    first = candidate
        sentence = quote_sentence(text.parts[first[0]], first[1], first[2]) if first else ""
        phrases = dict.fromkeys(p for p, _ in (*any_hit, *rule.all, *regex_hit))
        return Match(
            rule=rule.name, phrases=tuple(phrases), sentence=sentence, channels=rule.channels
        )


def _regex_sets(
    patterns: list[Pattern],
) -> list[tuple[int, re2.Set | None, list[Pattern]]]:
    """Chunks of patterns, each searched in one pass by an re2.Set (or one by one if that fails)."""
    sets: list[tuple[int, re2.Set | None, list[Pattern]]] = []
    for offset in range(0, len(patterns), _SET_SIZE):
        chunk = patterns[offset : offset + _SET_SIZE]
        regex_set: re2.Set | None = re2.Set.SearchSet(_SET_OPTIONS)
        try:
            for p in chunk:
                regex_set.Add(p.pattern)
            regex_set.Compile()
        except re2.error:
            regex_set = None  # too large for one program: search these patterns one by one
        sets.append((offset, regex_set, chunk))
    return sets


_BOUNDARY = re.compile(r"""[.!?]+["'”’)\]]*\s+|[。！？；]+["'”’」』）)]*\s*|\n\s*\n""")
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_ABBREVIATIONS = frozenset(
    "no nos mr mrs ms dr st sec secs art arts para pp vol inc co corp ltd llc dept gov fed reg "
    "vs cf approx est jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e u.s u.k u.n e.u "
    "p.r.c u.s.c c.f.r".split()
)


def _ends_sentence(text: str, boundary: re.Match[str]) -> bool:
    """False for a full stop after an abbreviation (`U.S.`, `No.`) or before a lowercase word."""
    if text[boundary.start()] != ".":
        return True
    after = boundary.end()
    if after < len(text) and text[after].islower():
        return False
    word = _LAST_WORD.search(text, max(0, boundary.start() - 12), boundary.start())
    if word is None:
        return True
    token = word.group(1)
    return not (token.lower() in _ABBREVIATIONS or (len(token) == 1 and token.isupper()))


def quote_sentence(text: str, start: int, end: int, limit: int = 300) -> str:
    """The sentence of `text` around `[start, end)`, whitespace collapsed, at most `limit` chars.

    Sentences end at `. ! ?` followed by whitespace (not after `U.S.`, `No.` and the like), at
    `。！？；`, and at blank lines. A longer sentence is cut around the hit, marked with "…".
    """
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    lo, hi = max(0, start - limit), min(len(text), end + limit)
    s, e = lo, hi
    for m in _BOUNDARY.finditer(text, lo, start):
        if _ends_sentence(text, m):
            s = m.end()
    for m in _BOUNDARY.finditer(text, end, hi):
        if _ends_sentence(text, m):
            e = m.end()
            break
    # No boundary within `limit` of the hit: the sentence goes on beyond the window.
    cut_left, cut_right = s == lo and lo > 0, e == hi and hi < len(text)
    if e - s <= limit and not (cut_left or cut_right):
        return " ".join(text[s:e].split())
    budget = max(1, limit - 2)
    if end - start >= budget:
        a, b = start, start + budget
    else:
        a = max(s, start - (budget - (end - start)) // 2)
        b = min(e, a + budget)
        a = max(s, b - budget)
        a = _snap(text, a, start, forward=True) if a > s or cut_left else a
        b = _snap(text, b, end, forward=False) if b < e or cut_right else b
    left = "…" if a > s or cut_left else ""
    right = "…" if b < e or cut_right else ""
    return " ".join((left + text[a:b] + right).split())


def _snap(text: str, cut: int, hit: int, forward: bool) -> int:
    """Move a cut to the nearest space within 20 characters, never into the hit."""
    if forward:
        space = text.find(" ", cut, min(hit, cut + 20))
        return space + 1 if space >= 0 else cut
    space = text.rfind(" ", max(hit, cut - 20), cut)
    return space if space >= 0 else cut
