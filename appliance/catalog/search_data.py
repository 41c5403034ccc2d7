"""The search index shipped with a catalogue: what search would otherwise work out at the booth's start
(every text's pinyin, the pinyin table for queries, the keyboard's vocabulary) and the lexicon of
everyday phrases (lexicon.py), done once by `kiosk catalog build` and written beside the catalogue file
(catalog.json → catalog.search.json).

It names the sha256 of the exact catalogue bytes it was built from, travels signed beside them in the
update message (signing.py) and is used only with those bytes. Without one — an older catalogue, a
file lost or damaged — the booth builds the same data itself (`build`), with the lexicon its software
came with (the bundled catalogue's): a slower start, the same results. The holder ties the data it
loaded to the catalogue object (`attach`), so whoever makes a `SearchIndex` of that catalogue gets the
shipped data (`attached`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import weakref
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from appliance.catalog.chinese import HAN_RUN, clean, han, syllables
from appliance.catalog.lexicon import Lexicon
from appliance.catalog.model import Catalog

log = logging.getLogger("kiosk.catalog")

FORMAT = "kiosk-search/1"
SUFFIX = ".search.json"
Kind = Literal["name", "alias", "bundle", "faq", "department"]


class SearchDataError(ValueError):
    """Search data that cannot be used with this catalogue; the booth builds its own instead."""


class SearchData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["kiosk-search/1"] = FORMAT
    catalog_sha256: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")  # "": built here, for no file
    # code, kind, text, its syllables joined by spaces (one per Chinese character)
    texts: tuple[tuple[str, Kind, str, str], ...]
    # a 2–4 character word of names and aliases, its syllables, how often it occurs
    vocabulary: tuple[tuple[str, str, int], ...]
    readings: dict[str, str]  # character → the syllable the catalogue (or the lexicon) reads it with most often
    # everyday phrase, the catalogue's words for it ("" for a filler), the phrase's syllables
    lexicon: tuple[tuple[str, str, str], ...] = ()


def build(catalog: Catalog, catalog_bytes: bytes | None = None, lexicon: Lexicon | None = None) -> SearchData:
    """The search data of `catalog` (pypinyin's work); tied to `catalog_bytes` when they are given.
    Without a `lexicon` (the booth's fallback), the one shipped with the bundled catalogue is used.
    `CatalogError` for a lexicon whose words the catalogue does not have."""
    texts: list[tuple[str, Kind, str, str]] = []

    def add(code: str, kind: Kind, text: str) -> None:
        texts.append((code, kind, text, " ".join(syllables(clean(text)))))

    for item in catalog.items:
        add(item.code, "name", item.name)
        for alias in item.aliases:
            add(item.code, "alias", alias)
        add(item.code, "department", item.department)
    for bundle in catalog.bundles:
        add(bundle.code, "name", bundle.name)
        for alias in bundle.aliases:
            add(bundle.code, "alias", alias)
    for entry in catalog.faq:
        add(entry.item, "faq", entry.question)
    if lexicon is None:
        spoken = _bundled_lexicon()
    else:
        lexicon.check_against(catalog)
        rewrites = sorted(lexicon.rewrites().items())
        spoken = tuple((phrase, word, " ".join(syllables(phrase))) for phrase, word in rewrites)
    return SearchData(catalog_sha256=digest(catalog_bytes) if catalog_bytes is not None else "", texts=tuple(texts),
                      vocabulary=_vocabulary(catalog, spoken), readings=_readings(texts, spoken), lexicon=spoken)


def _vocabulary(catalog: Catalog, spoken: tuple[tuple[str, str, str], ...]) -> tuple[tuple[str, str, int], ...]:
    """Words a citizen may want to type: 2–4 character runs of names and aliases, with how often
    they occur, and their syllables; then the lexicon's everyday phrases."""
    counts: Counter[str] = Counter()
    sources = [item.name for item in catalog.items] + [a for item in catalog.items for a in item.aliases]
    for text in sources:
        for run in HAN_RUN.findall(text):
            for size in (2, 3, 4):
                counts.update(run[i:i + size] for i in range(len(run) - size + 1))
    words = tuple((word, " ".join(syllables(word)), count) for word, count in counts.items()
                  if count >= 2 or len(word) == 2)
    known = {word for word, _, _ in words}
    return words + tuple((phrase, sy, 1) for phrase, _, sy in spoken if len(phrase) >= 2 and phrase not in known)


def _readings(texts: list[tuple[str, Kind, str, str]], spoken: tuple[tuple[str, str, str], ...]) -> dict[str, str]:
    """Each character's reading as the catalogue's texts read it most often (还 in 还房贷 …), and the
    lexicon's phrases for characters the catalogue does not use."""
    seen: Counter[tuple[str, str]] = Counter()
    for _, _, text, sy in texts:
        seen.update(zip(han(clean(text)), sy.split(), strict=True))
    for phrase, _, sy in spoken:
        seen.update(zip(phrase, sy.split(), strict=True))
    best: dict[str, tuple[int, str]] = {}
    for (char, syllable), count in seen.items():
        if (count, syllable) > best.get(char, (0, "")):
            best[char] = (count, syllable)
    return {char: syllable for char, (_, syllable) in sorted(best.items())}


def _bundled_lexicon() -> tuple[tuple[str, str, str], ...]:
    raw = bundled_bytes()
    try:
        return SearchData.model_validate_json(raw).lexicon if raw else ()
    except ValidationError:
        return ()


def digest(catalog_bytes: bytes) -> str:
    return hashlib.sha256(catalog_bytes).hexdigest()


def data_json(data: SearchData) -> bytes:
    """The file's exact bytes: stable, so a rebuild of unchanged sources is byte-identical."""
    return (json.dumps(data.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def parse(raw: bytes, catalog_bytes: bytes) -> SearchData:
    """The search data in `raw` if it is well formed and was built from exactly `catalog_bytes`."""
    try:
        data = SearchData.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise SearchDataError(f"search index refused: {where}: {first['msg']}") from None
    if data.catalog_sha256 != digest(catalog_bytes):
        raise SearchDataError("search index was built from another catalogue")
    return data


def usable(raw: bytes | None, catalog_bytes: bytes, where: str) -> SearchData | None:
    """`parse`, or None (logged) when there is none or it cannot be used: search builds its own then."""
    if raw is None:
        log.info("%s: no search index beside the catalogue; search builds its own", where)
        return None
    try:
        return parse(raw, catalog_bytes)
    except SearchDataError as exc:
        log.warning("%s: %s; search builds its own", where, exc)
        return None


def path_beside(catalog_path: Path) -> Path:
    """Where a catalogue file's search index lives: catalog.json → catalog.search.json."""
    return catalog_path.with_name(catalog_path.stem + SUFFIX)


def read_beside(catalog_path: Path) -> bytes | None:
    try:
        return path_beside(catalog_path).read_bytes()
    except FileNotFoundError:
        return None


def bundled_bytes() -> bytes | None:
    """The search index shipped with the package's own catalogue."""
    try:
        return resources.files("appliance.catalog").joinpath("data/catalog" + SUFFIX).read_bytes()
    except FileNotFoundError:
        return None


# The search data the holder loaded with a catalogue, by the catalogue object (not by value: equal
# catalogues parsed twice are different objects), forgotten when the catalogue is.
_attached: dict[int, tuple[weakref.ref, SearchData]] = {}


def attach(catalog: Catalog, data: SearchData) -> None:
    key = id(catalog)

    def forget(ref: weakref.ref) -> None:
        if _attached.get(key, (None,))[0] is ref:
            del _attached[key]

    _attached[key] = (weakref.ref(catalog, forget), data)


def attached(catalog: Catalog) -> SearchData | None:
    ref, data = _attached.get(id(catalog), (None, None))
    return data if ref is not None and ref() is catalog else None

