"""Benchmark: RuleIndex against a naive per-rule loop.

    .venv/bin/python bench/bench_rules.py [--rules 10000] [--items 10000] [--seed 7]

Builds realistic random rules (domain phrases: companies, products, HS codes, measures; some `all`,
`none`, `regex`, `sources`, `tags`) and items (about 2,000 characters of filler prose with a few
domain phrases, a tenth of them in Chinese). Times `RuleIndex.match` over all items at 1k/5k/10k
rules, and the naive loop (for each item, for each rule, `re.search` per phrase with \\b…\\b) on
a subset of items, extrapolated, because running it in full would take far longer than the budget.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watcher.models import Item  # noqa: E402
from watcher.rules import RuleIndex  # noqa: E402
from watcher.settings import Rule  # noqa: E402

SOURCES = [f"source-{i}" for i in range(40)]
TAGS = ["tariffs", "export-controls", "sanctions", "customs", "china", "eu"]
COUNTRIES = ["China", "Russia", "Iran", "Vietnam", "Mexico", "Canada", "India", "Japan"]
CJK_TERMS = [
    "稀土",
    "出口管制",
    "商务部",
    "关税",
    "反倾销",
    "实体清单",
    "镓",
    "锗",
    "石墨",
    "海关总署",
]
CJK_FILLER = (
    "国务院关税税则委员会发布公告对原产于美国的部分进口商品加征关税自下月起实施企业应当依法申报"
)
SUFFIXES = ["Co", "Ltd", "Inc", "Group", "Technologies", "Semiconductor", "Electronics", "Trading"]
MEASURES = ["anti-dumping duty", "countervailing duty", "export license", "entity list",
            "section 232", "section 301", "de minimis", "foreign direct product rule",
            "safeguard measure", "tariff rate quota", "end-use check", "denied persons list"]  # fmt: skip


def _word(rng: random.Random, lo: int = 3, hi: int = 9) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(lo, hi)))


def make_terms(rng: random.Random, n: int) -> list[str]:
    """Domain phrases: company names, products, HS codes, measures, in mixed case and hyphenation."""
    terms: list[str] = list(MEASURES) + list(CJK_TERMS)
    while len(terms) < n:
        kind = rng.random()
        if kind < 0.45:
            terms.append(f"{_word(rng).title()} {rng.choice(SUFFIXES)}")
        elif kind < 0.75:
            terms.append(f"{_word(rng)} {_word(rng)}")
        elif kind < 0.85:
            terms.append(f"{rng.randint(1000, 9999)}.{rng.randint(10, 99)}")
        elif kind < 0.95:
            terms.append(f"{_word(rng)}-{_word(rng, 4, 8)}")
        else:
            terms.append("".join(rng.choice(CJK_FILLER) for _ in range(rng.randint(3, 4))))
    return terms


def make_rules(rng: random.Random, terms: list[str], n: int) -> list[Rule]:
    rules = []
    for i in range(n):
        r = rng.random()
        fields: dict[str, list[str]] = {"any": rng.sample(terms, rng.randint(1, 5))}
        if r < 0.2:
            fields["all"] = [rng.choice(COUNTRIES)]
        if 0.2 <= r < 0.3:
            fields["none"] = [rng.choice(terms)]
        if 0.3 <= r < 0.33:
            fields["regex"] = [rf"\b{rng.randint(1000, 9999)}\.\d{{2}}\b"]
        if 0.33 <= r < 0.35:  # regex only
            fields = {"regex": [rf"{_word(rng)}\s+(?:co|ltd|inc)\b"]}
        if 0.35 <= r < 0.38:  # all only
            fields = {"all": rng.sample(terms, 2)}
        if rng.random() < 0.2:
            fields["sources"] = rng.sample(SOURCES, 3)
        if rng.random() < 0.1:
            fields["tags"] = [rng.choice(TAGS)]
        rules.append(Rule(name=f"rule-{i}", **fields))
    return rules


def make_items(rng: random.Random, terms: list[str], n: int) -> list[Item]:
    filler = [_word(rng, 2, 10) for _ in range(4000)] + ["the", "of", "and", "to", "in"] * 200
    items = []
    for i in range(n):
        chinese = rng.random() < 0.1
        if chinese:
            body = "".join(
                rng.choice(CJK_FILLER) + ("。" if rng.random() < 0.05 else "") for _ in range(600)
            )
        else:
            words = rng.choices(filler, k=320)
            for j in range(0, len(words), rng.randint(12, 25)):
                words[j] = words[j] + (".\n\n" if rng.random() < 0.3 else ".")
            words += rng.sample(COUNTRIES, 1)
            body = " ".join(words)
        for term in rng.sample(terms, rng.randint(0, 4)):
            cut = rng.randrange(len(body))
            cut = body.find(" ", cut) + 1 if not chinese else cut
            body = body[:cut] + term + (" " if not chinese else "") + body[cut:]
        title = " ".join(rng.choices(filler, k=9)).capitalize()
        items.append(Item(source=rng.choice(SOURCES), key=str(i), title=title, link="",
                          published=None, summary=body[:300], text=body, content_hash=str(i),
                          tags=tuple(rng.sample(TAGS, 2))))  # fmt: skip
    return items


def naive_match(rules: list[tuple[Rule, list, list, list, list]], item: Item) -> list[str]:
    """The obvious implementation: every rule, every phrase, one regex search each."""
    text = f"{item.title}\n{item.summary}\n{item.text}"
    out = []
    for rule, any_, all_, none, regex in rules:
        if rule.sources and item.source not in rule.sources:
            continue
        if rule.tags and not set(rule.tags) & set(item.tags):
            continue
        hit = [p for p in any_ if p.search(text)] + [p for p in regex if p.search(text)]
        if (any_ or regex) and not hit:
            continue
        if all(p.search(text) for p in all_) and not any(p.search(text) for p in none):
            out.append(rule.name)
    return out


def compile_naive(rules: list[Rule]) -> list[tuple[Rule, list, list, list, list]]:
    def pat(phrase: str) -> re.Pattern[str]:
        return re.compile(rf"\b{re.escape(phrase)}\b", re.IGNORECASE)

    return [(r, [pat(p) for p in r.any], [pat(p) for p in r.all], [pat(p) for p in r.none],
             [re.compile(p, re.IGNORECASE) for p in r.regex]) for r in rules]  # fmt: skip


def time_index(rules: list[Rule], items: list[Item], repeat: int) -> tuple[float, float, int]:
    """Build time, best-of-`repeat` time to match every item, matches found."""
    t0 = time.perf_counter()
    index = RuleIndex(rules, ["default"])
    build = time.perf_counter() - t0
    best, matches = float("inf"), 0
    for _ in range(repeat):
        t1 = time.perf_counter()
        matches = sum(len(index.match(it)) for it in items)
        best = min(best, time.perf_counter() - t1)
    return build, best, matches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rules", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--naive-items", type=int, default=20, help="items the naive loop runs on")
    ap.add_argument("--repeat", type=int, default=3, help="RuleIndex runs; the best is shown")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    terms = make_terms(rng, max(2000, args.rules * 2))
    rules = make_rules(rng, terms, args.rules)
    items = make_items(rng, terms, args.items)
    chars = sum(len(i.title) + len(i.summary) + len(i.text) for i in items) / len(items)
    print(
        f"{args.items} items, {chars:.0f} characters each on average; python {sys.version.split()[0]}"
    )
    print(f"RuleIndex over all items, best of {args.repeat} runs:")
    print(f"{'rules':>7} {'build s':>8} {'match s':>8} {'µs/item':>8} {'matches':>8}")
    results = {}
    for n in sorted({1000, 5000, args.rules} & set(range(1, args.rules + 1))):
        build, run, found = time_index(rules[:n], items, args.repeat)
        results[n] = run
        print(f"{n:>7} {build:>8.2f} {run:>8.2f} {run / len(items) * 1e6:>8.0f} {found:>8}")
    sizes = sorted(results)
    if len(sizes) > 1:
        growth = results[sizes[-1]] / results[sizes[0]]
        more = sizes[-1] / sizes[0]
        shape = "sub-linear" if growth < more else "NOT sub-linear: is the machine busy?"
        print(f"{more:.0f}× the rules took {growth:.1f}× the time ({shape})")
    subset = items[: args.naive_items]
    naive = compile_naive(rules)
    t0 = time.perf_counter()
    naive_found = [naive_match(naive, it) for it in subset]
    per_item = (time.perf_counter() - t0) / len(subset)
    naive_total = per_item * len(items)
    index_total = results[args.rules]
    print(f"\nnaive loop: {per_item * 1000:.0f} ms/item measured on {len(subset)} items, "
          f"extrapolated to {len(items)} (running them all would take that long)")  # fmt: skip
    print(f"{'method':<12} {'rules':>7} {'items':>7} {'seconds':>9}")
    print(f"{'naive (est.)':<12} {args.rules:>7} {len(items):>7} {naive_total:>9.1f}")
    print(f"{'RuleIndex':<12} {args.rules:>7} {len(items):>7} {index_total:>9.2f}")
    print(f"ratio: RuleIndex is {naive_total / index_total:,.0f}× faster")
    # Latin phrases glued to Chinese characters match in RuleIndex but not with \b, so compare on
    # the items without Chinese text.
    index = RuleIndex(rules)
    pairs = [
        (it, found) for it, found in zip(subset, naive_found, strict=True) if it.text.isascii()
    ]
    agree = sum(sorted(m.rule for m in index.match(it)) == sorted(f) for it, f in pairs)
    print(f"same rules as the naive loop on {agree} of {len(pairs)} items without Chinese text")


if __name__ == "__main__":
    main()
