r"""Watch rules compiled into one index: items → matches.

Every phrase of every rule goes into ONE Aho-Corasick automaton that scans a normalised copy of the
item's text (casefolded, compatibility-decomposed so full-width letters become ASCII, runs of spaces,
hyphens and dashes made one space). Hits of Latin phrases must stand on word boundaries; phrases with
CJK characters match as substrings. Only rules reached from a hit (an inverted index phrase → rules)
are evaluated, so an item that hits nothing costs one scan, whatever the number of rules.

Regular expressions run through google-re2 (linear time, no catastrophic backtracking) against the
original text, case-insensitively; re2's `\b`, `\w` and `\d` are ASCII-only, so `\bBIS\b` also
finds the BIS in `美国BIS发布`. All patterns are searched together by `re2.Set`s of up to
`_SET_SIZE` patterns, i.e. one extra DFA pass over the text per `_SET_SIZE` patterns; a pattern is
searched alone (for the position of its match) only when a rule that uses it is otherwise satisfied.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick
import re2

from watcher.models import Item, Match
from watcher.settings import Rule, Settings
from watcher.text import ASCII_SPACES as _ASCII_SPACES
from watcher.text import (
    CJK,
    IS_WORD,
    Pattern,
    compile_regex,
    normalise_text,
    one_line,
    quote_sentence,
    re2_options,
)
from watcher.text import NON_ASCII as _NON_ASCII
from watcher.text import fold as _fold
from watcher.text import unhyphen as _unhyphen

_SET_SIZE = 512
_SET_OPTIONS = re2_options(128 << 20)



class _PartMap:
    """Positions in `normalise_text(part)` → positions in `part`, built once per matched part.

    Two steps undo the two ways normalising changes lengths: `" ".join(….split())` shortening
    whitespace (`spaces`: start, end, characters kept, in the folded text) and `_fold` growing or
    shrinking non-ASCII runs (`runs`: folded start, folded length, original start, original end).
    """

    __slots__ = ("part", "spaces", "run_starts", "runs")

    def __init__(self, part: str) -> None:
        self.part = part
        if part.isascii():  # folding is one to one; only whitespace and hyphens matter
            self.spaces = _space_runs(part.translate(_ASCII_SPACES))
            self.runs: list[tuple[int, int, int, int]] = []
        else:
            self.spaces = _space_runs(_unhyphen(_fold(part)))
            self.runs, delta = [], 0
            for run in _NON_ASCII.finditer(part):
                a, b = run.span()
                length = len(_fold(run.group()))
                self.runs.append((a + delta, length, a, b))
                delta += length - (b - a)
        self.run_starts = [r[0] for r in self.runs]

    def to_original(self, p: int) -> int:
        q = _to_folded(self.spaces, p)
        j = bisect.bisect_right(self.run_starts, q) - 1
        if j < 0:
            return q
        folded_start, length, a, b = self.runs[j]
        if q >= folded_start + length:  # in the ASCII text after run j
            return b + q - folded_start - length
        if length == b - a:
            return a + q - folded_start
        offset = q - folded_start  # a run that folding resized: find the character
        for i, ch in enumerate(self.part[a:b]):
            offset -= len(_fold(ch))
            if offset < 0:
                return a + i
        return b - 1


_SPACE_RUN = re.compile(r"\s\s+")


def _space_runs(folded: str) -> list[tuple[int, int, int]]:
    """Whitespace that `" ".join(folded.split())` shortens: (start, end, characters kept)."""
    if folded.isascii():  # whitespace already made spaces: str.find beats a regex scan
        spans, i = [], folded.find("  ")
        while i >= 0:
            j = i + 2
            while j < len(folded) and folded[j] == " ":
                j += 1
            spans.append((i, j))
            i = folded.find("  ", j)
    else:
        spans = [m.span() for m in _SPACE_RUN.finditer(folded)]
    if folded[:1].isspace() and not (spans and spans[0][0] == 0):
        spans.insert(0, (0, 1))
    if folded[-1:].isspace() and not (spans and spans[-1][1] == len(folded)):
        spans.append((len(folded) - 1, len(folded)))
    return [(a, b, 0 if a == 0 or b == len(folded) else 1) for a, b in spans]


def _to_folded(spaces: list[tuple[int, int, int]], p: int) -> int:
    """Position `p` of `" ".join(folded.split())` → position in `folded`."""
    removed = 0
    for a, b, keep in spaces:
        if p < a - removed:
            break
        if p < a - removed + keep:
            return a
        removed += b - a - keep
    return p + removed


class _Text:
    """One item's text: the original parts, their normalised forms and the map between them."""

    __slots__ = ("parts", "original", "norm", "regex_spans", "_norm_starts", "_orig_starts",
                 "_maps", "_quotes")  # fmt: skip

    def __init__(self, item: Item) -> None:
        summary = item.summary if item.summary and item.summary.strip() not in item.text else ""
        self.parts = [p for p in (item.title, summary, item.text) if p]
        self.original = "\n".join(self.parts)  # what regexes see
        norms = [normalise_text(p) for p in self.parts]
        # Parts are joined with "\n", which no normalised phrase contains: no match spans two parts.
        self.norm = "\n".join(norms)
        self._norm_starts = _starts(len(n) for n in norms)
        self._orig_starts = _starts(len(p) for p in self.parts)
        self._maps: dict[int, _PartMap] = {}
        self._quotes: dict[tuple[int, int, int], str] = {}
        self.regex_spans: dict[int, tuple[int, int] | None] = {}  # regex id → span in `original`

    def from_norm(self, start: int, end: int) -> tuple[int, int, int]:
        """A span of `norm` → (part, start, end) in the original part."""
        k = bisect.bisect_right(self._norm_starts, start) - 1
        base = self._norm_starts[k]
        if k not in self._maps:
            self._maps[k] = _PartMap(self.parts[k])
        to_original = self._maps[k].to_original
        return k, to_original(start - base), to_original(max(start, end - 1) - base) + 1

    def from_original(self, start: int, end: int) -> tuple[int, int, int]:
        k = bisect.bisect_right(self._orig_starts, start) - 1
        base = self._orig_starts[k]
        return k, start - base, min(end - base, len(self.parts[k]))

    def quote(self, where: tuple[int, int, int]) -> str:
        """The sentence around (part, start, end); rules matching at the same place share it."""
        if where not in self._quotes:
            self._quotes[where] = quote_sentence(self.parts[where[0]], where[1], where[2])
        return self._quotes[where]


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
        return cls(s.rules, s.default_channels())

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
        channels = tuple(rule.channels) if rule.channels else default_channels  # [] = defaults
        return _Compiled(rule.name, any_, all_, none, regex, frozenset(rule.sources),
                         frozenset(rule.tags), channels)  # fmt: skip

    def _phrase_id(self, rule: str, phrase: str) -> int:
        key = normalise_text(phrase)
        if not key:
            raise ValueError(f"rule {rule!r}: phrase {phrase!r} has nothing to match")
        if key not in self._phrase_ids:
            pid = len(self._phrase_info)
            latin = not CJK.search(key)
            self._phrase_ids[key] = pid
            self._phrase_info.append(
                (pid, len(key), latin and IS_WORD[key[0]], latin and IS_WORD[key[-1]])
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
        if not (self._rules and text.parts):
            return []
        hits = self._phrase_hits(text.norm)
        regex_hits = self._regex_hits(text.original) if self._sets else set()
        candidates: set[int] = set()
        for pid in hits:
            candidates.update(self._triggers[pid])
        for rid in regex_hits:
            candidates.update(self._regex_triggers[rid])
        matches: list[Match] = []
        for index in sorted(candidates):
            rule = self._rules[index]
            if rule.sources and item.source not in rule.sources:
                continue
            if rule.tags and rule.tags.isdisjoint(item.tags):
                continue
            found = self._evaluate(rule, hits, regex_hits, text)
            if found is not None:
                matches.append(found)
        return matches

    def _phrase_hits(self, norm: str) -> dict[int, int]:
        """Phrase id → start (in `norm`) of its first occurrence on word boundaries."""
        hits: dict[int, int] = {}
        if self._automaton is None:
            return hits
        is_word, size = IS_WORD, len(norm)
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
            if rid not in text.regex_spans:
                m = self._regexes[rid].search(text.original)
                text.regex_spans[rid] = m.span() if m else None
            span = text.regex_spans[rid]
            if span is not None:
                candidate = text.from_original(*span)
                if first is None or candidate[:2] < first[:2]:
                    first = candidate
        sentence = text.quote(first) if first else ""
        # What each phrase and regex matched, as written in the notice (never the raw regex).
        matched: dict[str, None] = {}
        for pid in phrase_ids:
            part, start, end = text.from_norm(hits[pid], hits[pid] + self._phrase_info[pid][1])
            matched[one_line(text.parts[part][start:end])] = None
        for _, rid in regex_hit:
            span = text.regex_spans.get(rid)
            if span is not None:
                matched[one_line(text.original[span[0] : span[1]])[:200]] = None
        return Match(rule=rule.name, matched=tuple(m for m in matched if m), sentence=sentence, channels=rule.channels)


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
