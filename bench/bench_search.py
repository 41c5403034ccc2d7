"""Search quality and speed over the whole bundled catalogue, with the evaluation set of
tests/search_eval.yaml (queries citizens type, each with the item they mean).

Baseline in the same run: plain substring search over item names and aliases (what a kiosk without
a search engine does), scored on the same set. Budget: p95 latency 20 ms on this machine.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from appliance.catalog.model import bundled_text, parse_catalog
from appliance.catalog.search import SearchIndex

EVAL = Path(__file__).resolve().parent.parent / "tests" / "search_eval.yaml"


def substring_search(catalog, query: str) -> list[str]:
    words = query.split()
    return [item.code for item in catalog.items
            if any(all(word in text for word in words) for text in (item.name, *item.aliases))]


def score(ranked_lists: list[list[str]], expected: list[str]) -> tuple[float, float]:
    top1 = sum(ranked[:1] == [want] for ranked, want in zip(ranked_lists, expected, strict=True))
    top3 = sum(want in ranked[:3] for ranked, want in zip(ranked_lists, expected, strict=True))
    return top1 / len(expected), top3 / len(expected)


def main() -> None:
    catalog = parse_catalog(json.loads(bundled_text()))
    pairs = yaml.safe_load(EVAL.read_text(encoding="utf-8"))["queries"]
    queries, expected = [q for q, _ in pairs], [c for _, c in pairs]
    start = time.perf_counter()
    index = SearchIndex(catalog)
    build_s = time.perf_counter() - start
    latencies, ranked = [], []
    for _ in range(5):  # every query five times, as a citizen's keystrokes repeat prefixes
        for query in queries:
            start = time.perf_counter()
            index.search(query)
            latencies.append(time.perf_counter() - start)
        ranked = [[hit.code for hit in index.search(query)] for query in queries]
    keystrokes = []
    for query in queries:  # results update as the citizen types: every prefix of every query
        for end in range(1, len(query) + 1):
            start = time.perf_counter()
            index.search(query[:end])
            keystrokes.append(time.perf_counter() - start)
    top1, top3 = score(ranked, expected)
    base1, base3 = score([substring_search(catalog, q) for q in queries], expected)
    latencies.sort()
    keystrokes.sort()
    ms = 1000
    print(f"search over {len(catalog.items)} items, {len(catalog.bundles)} bundles, {len(catalog.faq)} questions; "
          f"{len(queries)} evaluation queries; index built in {build_s * ms:.0f} ms")
    print(f"  {'':34} {'top-1':>7} {'top-3':>7}")
    print(f"  {'ours (pinyin + characters + fuzzy)':34} {top1:>7.1%} {top3:>7.1%}   goal top-3 ≥ 95%: "
          f"{'met' if top3 >= 0.95 else 'NOT met'}")
    print(f"  {'baseline: substring in name/alias':34} {base1:>7.1%} {base3:>7.1%}")
    print(f"  latency per query: median {statistics.median(latencies) * ms:.1f} ms, "
          f"p95 {latencies[int(0.95 * len(latencies))] * ms:.1f} ms, max {latencies[-1] * ms:.1f} ms "
          f"(budget p95 20 ms: {'met' if latencies[int(0.95 * len(latencies))] < 0.020 else 'NOT met'})")
    p95_key = keystrokes[int(0.95 * len(keystrokes))]
    print(f"  per keystroke (every prefix, {len(keystrokes)}): p95 {p95_key * ms:.1f} ms")


if __name__ == "__main__":
    main()
