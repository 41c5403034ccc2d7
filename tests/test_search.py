"""Search as a citizen uses it: Chinese, pinyin, initials, mixes and typos find the item they mean.

The evaluation sets (tests/search_eval.yaml: what citizens type, and `spoken`, phrasings as citizens speak
that use none of the catalogue's own text) are scored here for top-3 accuracy; bench_search.py reports
top-1, top-3 and latency. Typos in it (社宝卡, 公积今) appear nowhere in the catalogue. Everyday phrases
reach the catalogue's words through the lexicon (central/catalog/lexicon.yaml), validated in one place.
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
from appliance.catalog.lexicon import load_lexicon
from appliance.catalog.model import CatalogError, bundled_text, parse_catalog
from appliance.catalog.search import SearchIndex

ROOT = Path(__file__).resolve().parent.parent
EVAL = Path(__file__).with_name("search_eval.yaml")


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    catalog = read_catalog(None)
    assert search_data.attached(catalog) is not None, "the bundled catalogue ships its search index"
    return SearchIndex(catalog)


def evaluation(part: str = "queries") -> list[tuple[str, str]]:
    return [tuple(pair) for pair in yaml.safe_load(EVAL.read_text(encoding="utf-8"))[part]]


def test_the_evaluation_set_is_large_and_names_real_items() -> None:
    pairs, spoken = evaluation(), evaluation("spoken")
    assert len(pairs) >= 80 and len(spoken) >= 100
    assert not {query for query, _ in pairs} & {query for query, _ in spoken}
    catalog = parse_catalog(json.loads(bundled_text()))
    codes = {item.code for item in catalog.items} | {bundle.code for bundle in catalog.bundles}
    assert not [code for _, code in pairs + spoken if code not in codes], "every expected code exists"
    catalogue = bundled_text()
    for typo in ("社宝", "公积今"):
        assert typo not in catalogue, f"{typo} must be found by sound, not planted as an alias"
    texts = ([item.name for item in catalog.items] + [a for item in catalog.items for a in item.aliases]
             + [entry.question for entry in catalog.faq] + [b.name for b in catalog.bundles]
             + [a for b in catalog.bundles for a in b.aliases])
    copied = [query for query, _ in spoken if any(query in text for text in texts)]
    assert copied == [], "a spoken phrasing is the catalogue's own text"


@pytest.mark.parametrize(("part", "goal"), [("queries", 0.95), ("spoken", 0.97)])
def test_top3_accuracy_meets_its_goal(index, part: str, goal: float) -> None:
    pairs = evaluation(part)
    misses = [(query, code) for query, code in pairs if code not in [h.code for h in index.search(query)[:3]]]
    assert len(misses) <= (1 - goal) * len(pairs), misses


def test_everyday_phrases_are_put_in_the_catalogues_words(index) -> None:
    assert index.rewrite("交一下水钱") == "交水费"  # a filler left out, money said as the fee
    assert index.rewrite("打一份无犯罪的证明") == "打印无犯罪证明"
    assert index.rewrite("身份证找不着了") == "身份证丢了"  # the longest phrase first (找不着了, not 找不着)
    assert index.rewrite("jiaodianqian") == "jiaodianqian", "pinyin stays as typed: 交电钱 or 交点钱?"
    assert index.search("交一下水钱")[0].code == "SDQ-001"
    assert index.candidates("maidian") == ["买电"], "the keyboard offers everyday phrases too"


@pytest.mark.parametrize(("text", "refusal"), [
    ("words: {丢了: [找不着, 找不着]}", "'找不着' is listed twice"),
    ("words: {丢了: [掉了]}\nfillers: [掉了]", "'掉了' is listed twice (under '丢了' and 'fillers')"),
    ("words: {坏了: [坏了]}", "'坏了' is listed as an everyday phrase of itself"),
    ("words: {丢了: [lost]}", "words.丢了.0"),
    ("words: {丢了: [掉了]}\nsynonyms: {}", "synonyms"),
    ("words: {飞船: [火箭]}", "words '飞船': not in any name, alias or question of the catalogue"),
])
def test_a_bad_lexicon_is_refused_naming_the_entry(tmp_path: Path, text: str, refusal: str) -> None:
    (tmp_path / "lexicon.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError) as refused:
        search_data.build(parse_catalog(json.loads(bundled_text())), lexicon=load_lexicon(tmp_path))
    assert refusal in str(refused.value)


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
