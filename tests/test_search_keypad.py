"""The 九宫格 pinyin keypad search takes on the 7-inch panel in elder mode, where ten letter keys across cannot be
15 mm each: which letters keys spell on the catalogue's words, the readings the booth offers (and follows with
its results), and a citizen keying in a service there, on keys measured ≥ 15 mm on the panel."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from appliance.catalog import search_data
from appliance.catalog.holder import read_catalog
from appliance.catalog.keypad import keys_of, spellings
from appliance.catalog.search import SearchIndex
from screens import theme
from tests.support import kiosk_config_data
from tests.test_screens import play_scenario

EVAL = Path(__file__).with_name("search_eval.yaml")


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    catalog = read_catalog(None)
    assert search_data.attached(catalog) is not None
    return SearchIndex(catalog)


def read(index: SearchIndex, letters: str, before: str = "") -> list[tuple[str, str]]:
    return [(r.word, r.letters) for r in index.keypad_readings(keys_of(letters), before)]


def test_keys_spell_syllables_in_full_or_by_their_first_letters() -> None:
    assert keys_of("sbk") == "725" and keys_of("wxyz") == "9999"
    assert list(spellings("725", ("she", "bao", "ka"))) == ["sbk"]
    assert list(spellings("743226", ("she", "bao"))) == ["shebao", "sheba", "sheb"], "the last two: keys left over"
    assert list(spellings("74", ("she", "bao"))) == ["sh"], "the keys may end inside the word"
    assert list(spellings("72547", ("she", "bao", "ka"))) == ["sbk"], "or the word before the keys do"
    assert list(spellings("8", ("she", "bao"))) == [] and list(spellings("", ("she",))) == []
    assert list(spellings("58", ("lv",))) == ["lv", "l"] and list(spellings("58", ("lü",))) == ["l"], "ü is keyed as v"


def test_the_keypad_reads_the_catalogues_words(index: SearchIndex) -> None:
    assert read(index, "sbk")[0] == ("社保卡", "sbk")
    assert read(index, "shebao")[0] == ("社保", "shebao"), "spelled in full comes first"
    assert read(index, "gjj")[0] == ("公积金", "gjj")
    assert read(index, "hkqy")[0] == ("户口迁移", "hkqy")


def test_keys_past_one_word_read_as_a_run_of_words_then_its_first_word_alone(index: SearchIndex) -> None:
    assert read(index, "gjjtiqu")[:3] == [("公积金提取", "gjjtiqu"), ("公积", "gj"), ("公积金", "gjj")]
    assert read(index, "sfzdl")[0] == ("身份证丢了", "sfzdl")
    assert read(index, "sbkgs")[0] == ("社保卡挂失", "sbkgs"), "挂失 follows 卡 in the catalogue; 个人 does not"


def test_what_was_chosen_before_ranks_the_words_after_it(index: SearchIndex) -> None:
    assert read(index, "gs", before="社保卡")[0] == ("挂失", "gs")
    assert read(index, "gs")[0] != ("挂失", "gs"), "alone, 个人 and others are used more"


def test_keys_no_word_spells_read_as_nothing(index: SearchIndex) -> None:
    assert index.keypad_readings("") == [] and index.keypad_readings("6666") == []


def test_pinyin_queries_keyed_on_the_keypad_find_their_item(index: SearchIndex) -> None:
    """The evaluation set's pinyin queries, each word keyed as letters on the keypad and its first reading chosen,
    as the letter keyboard takes them: the item is in the top 3 as often as typed on letters, but for one."""
    pinyin = [(query, code) for query, code in yaml.safe_load(EVAL.read_text(encoding="utf-8"))["queries"]
              if query.isascii()]
    keyed = typed = 0
    for query, code in pinyin:
        chosen = ""
        for word in query.split():
            chosen += index.keypad_readings(keys_of(word), chosen)[0].word
        keyed += code in [hit.code for hit in index.search(chosen, limit=3)]
        typed += code in [hit.code for hit in index.search(query, limit=3)]
    assert len(pinyin) >= 10 and keyed >= typed - 1, (keyed, typed)


@pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb (Debian package xvfb)")
def test_an_elderly_citizen_keys_in_a_service_on_the_7_inch_panel(display, tmp_path: Path, broker) -> None:
    """800×480 in elder mode: the search offers the keypad (no letter keys); 社保卡 read from pqrs-abc-jkl with the
    results following it, 挂失 after it from ghi-pqrs; keys no word fits are marked and deleted; 社保卡挂失 read from
    all five keys at once, and its result opens the guide. Every key tapped is 15 mm or more on the panel."""
    steps = [["tap", "elder"], ["tap", "tile_browse"], ["tap", "search"], ["look"],
             ["tap", "t9_7"], ["tap", "t9_2"], ["tap", "t9_5"], ["look"], ["tap", "cand_社保卡"],
             ["tap", "t9_4"], ["tap", "t9_7"], ["look"], ["tap", "key_clear"], *[["tap", "t9_6"]] * 4, ["look"],
             ["tap", "key_delete"], ["tap", "key_delete"], ["tap", "key_delete"], ["tap", "key_delete"],
             ["tap", "t9_7"], ["tap", "t9_2"], ["tap", "t9_5"], ["tap", "t9_4"], ["tap", "t9_7"], ["fits"],
             ["tap", "result_RS-002"], ["look"]]
    config = kiosk_config_data(tmp_path / "state", broker.port)
    played = play_scenario(display, tmp_path, config, steps)
    empty, sbk, gs, stray, keyed = (played.at(n)["text"] for n in (3, 7, 11, 17, 27))
    assert "key_s" not in str(empty) and {"abc", "pqrs", "wxyz", "清空", "删除"} <= set(empty)
    assert "按字母键拼写" in empty
    assert "sbk" in sbk and "社保卡" in sbk and "社会保障卡申领" in sbk, "read and followed at once"
    assert "社保卡gs" in gs and "挂失" in gs and "社会保障卡挂失" in gs, "挂失 after 社保卡, and followed"
    assert any(text.endswith("?") for text in stray) and "没有这样拼的词，请按“删除”" in stray
    assert "sbkgs" in keyed and "社保卡挂失" in keyed, "keys past one word: read as a run of words"
    overflow = played.at(27)["overflow"]
    below = [what for what in overflow if what.startswith("outside the body: result_")]
    assert all(what.startswith("scrolls: ScrollView") for what in overflow if what not in below), overflow
    assert len(below) <= 5, "of eight results, the list scrolls to the last five; keys, reading and words all show"
    assert played.last["screen"] == "guide" and "社会保障卡挂失" in played.last["text"]
    least = theme.ELDER_TOUCH_MM * theme.pixels_per_mm(800, 480)  # 78.75 px
    keys = [step for step in played.steps if step["step"][0] == "tap" and step["step"][1].startswith(("t9_", "key_"))]
    assert len(keys) == 19 and all(min(step["size"]) >= least for step in keys), [step["size"] for step in keys]
