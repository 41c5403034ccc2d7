"""Building a catalogue from the files its editors write: one YAML file per department.

The editors' form is short on purpose — a material is one line, a question and its answer are one
line — and this module expands it into the JSON the devices load (`appliance.catalog.model`):

    materials:
      - 户口簿 | 原件                       name | form [| copies [| source [| optional]]]
    faq:
      - 身份证过期了还能用吗？ | 不能……      question | answer

Every item also gets the questions citizens ask about any service (what to bring, how long, what it
costs, where it can be done), answered from that item's own guide, so the knowledge base never says
something the guide does not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from appliance.catalog.model import Catalog, CatalogError, Item, parse_catalog

CHANNEL_NAMES = {"self_service": "本自助机", "online": "网上（政务服务网或“爱山东”App）", "window": "政务服务大厅窗口"}


def build_catalog(source: Path, version: str, sequence: int = 0) -> Catalog:
    """The checked catalogue from a source directory (departments/*.yaml and bundles.yaml)."""
    items: list[dict[str, Any]] = []
    faq: list[dict[str, str]] = []
    for path in sorted((source / "departments").glob("*.yaml")):
        department = _load(path)
        for raw in department.get("items", []):
            item, questions = _expand_item(raw, department["department"], path)
            items.append(item)
            faq.extend({"item": item["code"], "question": q, "answer": a} for q, a in questions)
    bundles = _load(source / "bundles.yaml").get("bundles", [])
    catalog = parse_catalog({"version": version, "sequence": sequence, "items": items, "bundles": bundles, "faq": []})
    for entry in _common_questions(catalog.items):
        faq.append(entry)
    numbered = [{"id": f"Q-{n:04d}", **entry} for n, entry in enumerate(faq, 1)]
    return parse_catalog({"version": version, "sequence": sequence, "items": items, "bundles": bundles,
                          "faq": numbered})


def _load(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: must be a mapping")
    return data


def _expand_item(raw: dict[str, Any], department: str, path: Path) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    item = {key: value for key, value in raw.items() if key != "faq"}
    item["department"] = department
    code = raw.get("code", "?")
    try:
        item["materials"] = [_material(line) for line in raw.get("materials", [])]
        questions = [_pair(line) for line in raw.get("faq", [])]
    except ValueError as exc:
        raise CatalogError(f"{path}: item {code!r}: {exc}") from None
    return item, questions


def _material(line: str) -> dict[str, Any]:
    parts = [part.strip() for part in str(line).split("|")]
    if not parts[0]:
        raise ValueError(f"material {line!r} has no name")
    material: dict[str, Any] = {"name": parts[0]}
    if len(parts) > 1:
        material["form"] = parts[1]
    if len(parts) > 2:
        if not parts[2].isdigit():
            raise ValueError(f"material {line!r}: copies must be a number")
        material["copies"] = int(parts[2])
    if len(parts) > 3:
        material["source"] = parts[3]
    if len(parts) > 4:
        material["required"] = parts[4] != "可选"
    return material


def _pair(line: str) -> tuple[str, str]:
    question, sep, answer = str(line).partition("|")
    if not sep or not question.strip() or not answer.strip():
        raise ValueError(f"faq line {line!r} must read: question | answer")
    return question.strip(), answer.strip()


def _common_questions(items: tuple[Item, ...]) -> list[dict[str, str]]:
    entries = []
    for item in items:
        for question, answer in _answers(item):
            entries.append({"item": item.code, "question": question, "answer": answer})
    return entries


def _answers(item: Item) -> list[tuple[str, str]]:
    required = [m for m in item.materials if m.required]
    bring = "；".join(m.line() for m in required) if required else "无需提交纸质材料，带好居民身份证即可"
    optional = [m.name for m in item.materials if not m.required]
    also = f"。如有以下材料请一并带上：{'、'.join(optional)}" if optional else ""
    where = "、".join(CHANNEL_NAMES[c] for c in item.channels)
    legal = f"（法定时限 {item.legal_days} 个工作日）" if item.legal_days else ""
    return [
        (f"办理{item.name}需要带什么材料？", f"{bring}{also}。"),
        (f"{item.name}多久能办好？", f"承诺时限为{item.time_limit}{legal}，办结后可获得：{item.result}。"),
        (f"{item.name}收费吗？", f"{item.fee}。"),
        (f"{item.name}在哪里办？能不能网上办？", f"可以通过{where}办理。"),
    ]
