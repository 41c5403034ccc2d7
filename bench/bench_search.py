"""Search quality and speed over the whole bundled catalogue, with the evaluation sets of
tests/search_eval.yaml (queries citizens type, each with the item they mean; `spoken`: phrasings as
citizens speak), and the search index's share of the booth's start.

Baselines in the same run: plain substring search over item names and aliases (what a kiosk without a
search engine does), scored on the same sets; and, for start-up, building the index at the booth (what
every start did before the index was shipped with the catalogue, and still the fallback for a catalogue
without one), each in fresh processes. Budget: p95 latency 20 ms on this machine.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from appliance.catalog.holder import read_catalog
from appliance.catalog.search import SearchIndex

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "tests" / "search_eval.yaml"
STARTS = 5  # fresh processes per way of starting

# What the booth does at start to have its index, timed in a fresh process: the catalogue's parse (the
# same either way) apart from the index's part (importing search, reading or building the index).
START = """
import json, sys, time
from appliance.catalog import search_data
from appliance.catalog.model import bundled_text, parse_catalog
clocks = (time.perf_counter, time.process_time)
t0 = [c() for c in clocks]
text = bundled_text().encode()
catalog = parse_catalog(json.loads(text))
t1 = [c() for c in clocks]
from appliance.catalog.search import SearchIndex
if sys.argv[1] == "shipped":
    search_data.attach(catalog, search_data.parse(search_data.bundled_bytes(), text))
SearchIndex(catalog)
t2 = [c() for c in clocks]
print(json.dumps({"catalogue": t1[0] - t0[0], "index": t2[0] - t1[0], "cpu": t2[1] - t1[1],
                  "pypinyin": "pypinyin" in sys.modules}))
"""


def substring_search(catalog, query: str) -> list[str]:
    words = query.split()
    return [item.code for item in catalog.items
            if any(all(word in text for word in words) for text in (item.name, *item.aliases))]


def score(ranked_lists: list[list[str]], expected: list[str]) -> tuple[float, float]:
    top1 = sum(ranked[:1] == [want] for ranked, want in zip(ranked_lists, expected, strict=True))
    top3 = sum(want in ranked[:3] for ranked, want in zip(ranked_lists, expected, strict=True))
    return top1 / len(expected), top3 / len(expected)


def start_up(way: str) -> dict:
    runs = [json.loads(subprocess.run([sys.executable, "-c", START, way], capture_output=True, text=True,
                                      check=True, cwd=ROOT).stdout) for _ in range(STARTS)]
    return runs[0] | {key: statistics.median(run[key] for run in runs) for key in ("index", "cpu", "catalogue")}


def main() -> None:
    catalog = read_catalog(None)
    sets = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    pairs = sets["queries"] + sets["spoken"]
    queries, expected = [q for q, _ in pairs], [c for _, c in pairs]
    start = time.perf_counter()
    index = SearchIndex(catalog)
    load_s = time.perf_counter() - start
    importing = None  # a first pass: a character the catalogue never uses imports pypinyin, once
    for query in queries:
        start, before = time.perf_counter(), "pypinyin" in sys.modules
        index.search(query)
        if not before and "pypinyin" in sys.modules:
            importing = (time.perf_counter() - start, query)
    latencies, cpu, ranked = [], [], []
    for _ in range(5):  # every query five times, as a citizen's keystrokes repeat prefixes
        for query in queries:
            start, used = time.perf_counter(), time.process_time()
            index.search(query)
            latencies.append(time.perf_counter() - start)
            cpu.append(time.process_time() - used)
        ranked = [[hit.code for hit in index.search(query)] for query in queries]
    keystrokes = []
    for query in queries:  # results update as the citizen types: every prefix of every query
        for end in range(1, len(query) + 1):
            start = time.perf_counter()
            index.search(query[:end])
            keystrokes.append(time.perf_counter() - start)
    baseline = [substring_search(catalog, q) for q in queries]
    latencies.sort()
    cpu.sort()
    keystrokes.sort()
    ms = 1000
    print(f"search over {len(catalog.items)} items, {len(catalog.bundles)} bundles, {len(catalog.faq)} questions; "
          f"{len(queries)} evaluation queries; shipped index loaded in {load_s * ms:.0f} ms")
    print(f"  {'':44} {'top-1':>7} {'top-3':>7}")
    old = len(sets["queries"])
    for name, part, goal in (("queries (the first set)", slice(0, old), 0.95),
                             ("spoken (as citizens speak)", slice(old, None), 0.97), ("all", slice(None), 0.95)):
        top1, top3 = score(ranked[part], expected[part])
        base1, base3 = score(baseline[part], expected[part])
        print(f"  {name + f', {len(expected[part])}':44} {top1:>7.1%} {top3:>7.1%}   goal top-3 ≥ {goal:.0%}: "
              f"{'met' if top3 >= goal else 'NOT met'}")
        print(f"  {'  baseline: substring in name/alias':44} {base1:>7.1%} {base3:>7.1%}")
    p95 = latencies[int(0.95 * len(latencies))]
    print(f"  latency per query: median {statistics.median(latencies) * ms:.1f} ms, p95 {p95 * ms:.1f} ms, "
          f"max {latencies[-1] * ms:.1f} ms (budget p95 20 ms: {'met' if p95 < 0.020 else 'NOT met'}); CPU median "
          f"{statistics.median(cpu) * ms:.1f} ms, p95 {cpu[int(0.95 * len(cpu))] * ms:.1f} ms")
    p95_key = keystrokes[int(0.95 * len(keystrokes))]
    print(f"  per keystroke (every prefix, {len(keystrokes)}): p95 {p95_key * ms:.1f} ms")
    if importing:
        print(f"  not in the figures above: the first query with a character the catalogue never uses imports "
              f"pypinyin once ({importing[1]}: {importing[0] * ms:.0f} ms); the booth's keyboard types only the "
              "catalogue's and the lexicon's words")
    shipped, built = start_up("shipped"), start_up("built")
    print(f"  the index's part of start-up (median of {STARTS} fresh processes each; the catalogue's parse, "
          f"{shipped['catalogue'] * ms:.0f} ms, apart):")
    for name, run in (("shipped with the catalogue", shipped), ("baseline: built at start", built)):
        print(f"    {name + ':':27} {run['index'] * ms:>5.0f} ms, CPU {run['cpu'] * ms:>4.0f} ms "
              f"(pypinyin imported: {run['pypinyin']})")
    print(f"    {built['index'] / shipped['index']:.1f}× less time, {built['cpu'] / shipped['cpu']:.1f}× less CPU")


if __name__ == "__main__":
    main()
