"""The bundled service catalogue: its size and contents, that it is exactly what its sources build,
and that a broken catalogue is refused with the item and field named."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.catalog.command import catalog_json
from appliance.catalog.holder import CatalogHolder
from appliance.catalog.model import CatalogError, FormProblem, parse_catalog
from appliance.catalog.source import build_catalog

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "appliance" / "catalog" / "data" / "catalog.json"

# The services a Chinese service hall offers that the booth must know, by the names citizens see.
REQUIRED = ["居民身份证到期换领", "居民身份证挂失补领", "户口迁移", "居住证申领", "无犯罪记录证明", "社会保障卡申领",
            "社会保障卡挂失", "社会保障卡补换", "参保证明打印", "养老保险待遇资格认证", "失业登记", "失业保险金申领",
            "就业创业证申领", "城乡居民基本医疗保险参保登记", "医保个人账户查询", "异地就医备案", "医疗保险关系转移",
            "社会保险关系转移", "生育津贴", "住房公积金缴存证明", "住房公积金提取", "不动产登记信息查询",
            "个体工商户登记", "企业开办", "营业执照补领", "个人所得税纳税记录", "代开增值税发票", "驾驶证期满换证",
            "交通违法信息查询", "婚姻登记预约", "最低生活保障申请", "新生儿出生登记", "个人信用报告查询", "水费缴纳",
            "电费缴纳", "燃气费缴纳", "残疾人证新办", "企业职工退休申请"]


@pytest.fixture(scope="module")
def catalog():
    return parse_catalog(json.loads(BUNDLED.read_text(encoding="utf-8")))


def test_the_catalogue_is_big_enough_and_has_every_required_service(catalog) -> None:
    assert len(catalog.items) >= 120 and len(catalog.departments) >= 12
    assert len(catalog.bundles) >= 3 and len(catalog.faq) >= 400
    names = [item.name for item in catalog.items]
    missing = [wanted for wanted in REQUIRED if not any(wanted in name for name in names)]
    assert missing == []
    for item in catalog.items:
        assert item.materials or item.code.startswith("SDQ"), f"{item.code} lists no materials"
        assert any(entry.item == item.code for entry in catalog.faq), f"{item.code} has no questions"


def test_the_bundled_file_is_exactly_what_the_sources_build(catalog) -> None:
    rebuilt = build_catalog(ROOT / "central" / "catalog", catalog.version, catalog.sequence)
    assert catalog_json(rebuilt.model_dump(mode="json")) == BUNDLED.read_text(encoding="utf-8"), \
        "run: kiosk catalog build central/catalog --version VERSION --sequence N -o appliance/catalog/data/catalog.json"


def test_build_writes_the_search_index_beside_the_catalogue_and_sign_carries_both(catalog, tmp_path: Path) -> None:
    """`kiosk catalog build` writes the bundled pair byte for byte; `check` checks the index with the
    catalogue; `sign` puts both into the message, and refuses an index that does not fit."""
    kiosk = [sys.executable, "-m", "appliance.cli", "catalog"]
    out = tmp_path / "catalog.json"
    built = subprocess.run([*kiosk, "build", str(ROOT / "central" / "catalog"), "--version", catalog.version,
                            "--sequence", str(catalog.sequence), "-o", str(out)], capture_output=True, text=True,
                           timeout=120)
    assert built.returncode == 0, built.stderr
    assert out.read_bytes() == BUNDLED.read_bytes()
    assert (tmp_path / "catalog.search.json").read_bytes() == BUNDLED.with_name("catalog.search.json").read_bytes(), \
        "run: kiosk catalog build central/catalog --version VERSION --sequence N -o appliance/catalog/data/catalog.json"
    checked = subprocess.run([*kiosk, "check", str(out)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "search index OK" in checked.stdout
    assert subprocess.run([*kiosk, "keygen", "--key", str(tmp_path / "key.pem")], capture_output=True,
                          timeout=60).returncode == 0
    signed = subprocess.run([*kiosk, "sign", str(out), "--key", str(tmp_path / "key.pem"), "-o",
                             str(tmp_path / "update.json")], capture_output=True, text=True, timeout=60)
    assert signed.returncode == 0 and "with its search index" in signed.stdout
    message = json.loads((tmp_path / "update.json").read_bytes())
    assert {"catalog", "signature", "search", "search_signature"} <= set(message)
    out.write_bytes(out.read_bytes().replace(b"\"sequence\": 1", b"\"sequence\": 2"))
    for command in (["check", str(out)], ["sign", str(out), "--key", str(tmp_path / "key.pem"), "-o",
                                          str(tmp_path / "stale.json")]):
        stale = subprocess.run([*kiosk, *command], capture_output=True, text=True, timeout=60)
        assert stale.returncode == 2 and "built from another catalogue" in stale.stderr, stale.stderr


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["items"][3].update(promised_days=-1), "item 'GA-004': field promised_days"),
    (lambda d: d["items"][0]["materials"][0].update(form="影印件"), "item 'GA-001': field materials.0.form"),
    (lambda d: d["items"][5].update(colour="red"), "item 'GA-006': field colour is not a known field"),
    (lambda d: d["items"][1].update(code="GA-001"), "item codes appear twice: GA-001"),
    (lambda d: d["faq"][0].update(item="NO-999"), "faq 'Q-0001': field item 'NO-999' is not in the catalogue"),
    (lambda d: d["bundles"][0]["items"].append("XX-001"), "bundle 'YJS-001': field items names unknown items"),
    (lambda d: d["items"][12].update(form=[]), "item 'RS-002': an item that can be applied for here needs its form"),
])
def test_a_broken_catalogue_names_item_and_field(catalog, change, expected: str) -> None:
    data = catalog.model_dump(mode="json")
    change(data)
    with pytest.raises(CatalogError) as refused:
        parse_catalog(data)
    assert expected in str(refused.value)


def test_the_last_good_catalogue_stays_in_use(tmp_path: Path) -> None:
    store = CatalogHolder(tmp_path / "catalog.json")
    assert store.load().version == json.loads(BUNDLED.read_text(encoding="utf-8"))["version"]
    (tmp_path / "catalog.json").write_text('{"version": "x", "items": [', encoding="utf-8")
    with pytest.raises(CatalogError):
        store.load()
    assert store.item("GA-001").name == "居民身份证到期换领"


def test_forms_take_only_their_choices_and_digits(catalog) -> None:
    loss = catalog.item("RS-002")
    assert loss.check_form({"reason": "遗失", "phone": "13800000000"}) == {"reason": "遗失", "phone": "13800000000"}
    for bad, problem in [({"reason": "丢了", "phone": "13800000000"}, "not one of the choices"),
                         ({"reason": "遗失", "phone": "1380000000"}, "11 digits"),
                         ({"reason": "遗失", "phone": "１３８００００００００"}, "11 digits"),
                         ({"reason": "遗失"}, "required"),
                         ({"reason": "遗失", "phone": "13800000000", "name": "x"}, "no field 'name'")]:
        with pytest.raises(FormProblem) as refused:
            loss.check_form(bad)
        assert problem in str(refused.value) and refused.value.code == "bad_form"
    with pytest.raises(FormProblem) as elsewhere:
        catalog.item("GA-001").check_form({})
    assert elsewhere.value.code == "not_here"


def test_catalog_check_command_exit_status(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "appliance.cli", "catalog", "check"]
    good = subprocess.run([*command, str(BUNDLED)], capture_output=True, text=True, timeout=60)
    assert good.returncode == 0 and "121 items" in good.stdout
    (tmp_path / "bad.json").write_text('{"version": "v", "items": [{"code": "GA-001"}]}', encoding="utf-8")
    bad = subprocess.run([*command, str(tmp_path / "bad.json")], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "item 'GA-001': field name Field required" in bad.stderr
    assert "Traceback" not in bad.stderr
