"""Search as a citizen uses it: Chinese, pinyin, initials, mixes and typos find the item they mean.

The evaluation set (tests/search_eval.yaml) is scored here for top-3 accuracy; bench_search.py
reports top-1, top-3 and latency. Typos in it (社宝卡, 公积今) appear nowhere in the catalogue.
Search runs on the index shipped beside the catalogue, as the booth does; built at the booth (an older
catalogue without one) it ranks the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from appliance.catalog import search_data
from appliance.catalog.holder import read_catalog
from appliance.catalog.model import bundled_text, parse_catalog
from appliance.catalog.search import SearchIndex

ROOT = Path(__file__).resolve().parent.parent
EVAL = Path(__file__).with_name("search_eval.yaml")


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    catalog = read_catalog(None)
    assert search_data.attached(catalog) is not None, "the bundled catalogue ships its search index"
    return SearchIndex(catalog)


def evaluation() -> list[tuple[str, str]]:
    return [tuple(pair) for pair in yaml.safe_load(EVAL.read_text(encoding="utf-8"))["queries"]]


def test_the_evaluation_set_is_large_and_names_real_items() -> None:
    pairs = evaluation()
    assert len(pairs) >= 80
    catalog = parse_catalog(json.loads(bundled_text()))
    codes = {item.code for item in catalog.items} | {bundle.code for bundle in catalog.bundles}
    assert not [code for _, code in pairs if code not in codes], "every expected code exists"
    catalogue = bundled_text()
    for typo in ("社宝", "公积今"):
        assert typo not in catalogue, f"{typo} must be found by sound, not planted as an alias"


def test_top3_accuracy_is_at_least_95_percent(index) -> None:
    pairs = evaluation()
    misses = [(query, code) for query, code in pairs if code not in [h.code for h in index.search(query)[:3]]]
    assert len(misses) <= 0.05 * len(pairs), misses


@pytest.mark.parametrize(("query", "code"), [
    ("社宝卡丢了", "RS-002"),  # near-homophone typo
    ("公积今提取", "GJJ-002"),
    ("sbk", "RS-001"),  # initials
    ("gjj tiqu", "GJJ-002"),  # initials + full pinyin
    ("公积金 tiqu", "GJJ-002"),  # Chinese and pinyin mixed
    ("shenfenzheng diule", "GA-002"),
    ("zhengxin", "ZX-001"),
])
def test_typed_forms_reach_the_item(index, query: str, code: str) -> None:
    assert code in [hit.code for hit in index.search(query)[:3]]


def test_nothing_matches_nothing(index) -> None:
    assert index.search("") == [] and index.search("   ，。") == []
    assert index.search("qqqqqqxz") == []
    assert index.search("\x1b\x00☃") == []


def test_keyboard_candidates_come_from_the_catalogue(index) -> None:
    assert index.candidates("gjj")[0] == "公积金"
    assert index.candidates("shebao")[0] == "社保"
    assert "身份证" in index.candidates("sfz")
    assert index.candidates("") == [] and index.candidates("社保") == []


def test_search_command_prints_ranked_json() -> None:
    done = subprocess.run([sys.executable, "-m", "appliance.cli", "catalog", "search", "驾照到期", "--json"],
                          capture_output=True, text=True, timeout=60)
    hits = json.loads(done.stdout)
    assert done.returncode == 0 and hits[0]["code"] == "JG-001" and hits[0]["name"] == "机动车驾驶证期满换证"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)


def test_the_booth_builds_the_same_index_when_the_catalogue_comes_without_one(index) -> None:
    built = SearchIndex(parse_catalog(json.loads(bundled_text())))
    for query, _ in evaluation():
        assert built.search(query) == index.search(query), query
    assert built.candidates("gjj") == index.candidates("gjj")


def test_with_the_shipped_index_nothing_converts_pinyin_at_start() -> None:
    """pypinyin's dictionaries are the slow part of a start: a booth with the shipped index never imports
    them, not even for a query typed on its keyboard (whose Chinese words come from the catalogue)."""
    script = ("import sys; from appliance.catalog.holder import read_catalog; "
              "from appliance.catalog.search import SearchIndex; "
              "index = SearchIndex(read_catalog(None)); print('pypinyin' in sys.modules); "
              "print(index.search('社保卡丢了')[0].code, index.search('gjj tiqu')[0].code, 'pypinyin' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.stdout.split() == ["False", "RS-002", "GJJ-002", "False"], done.stderr


def test_an_index_that_does_not_fit_the_catalogue_is_left_out(tmp_path: Path) -> None:
    catalog = json.loads(bundled_text())
    catalog["items"][0]["aliases"].append("身份证旧了")
    (tmp_path / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "catalog.search.json").write_bytes(search_data.bundled_bytes())
    changed = read_catalog(tmp_path / "catalog.json")
    assert search_data.attached(changed) is None
    assert SearchIndex(changed).search("身份证旧了")[0].code == "GA-001", "the booth's own index has the new alias"
    (tmp_path / "catalog.search.json").write_bytes(b'{"format": "kiosk-search/9"}')
    assert search_data.attached(read_catalog(tmp_path / "catalog.json")) is None
