"""The names of the catalogue central publishes, so that every view names items, not codes.

The catalogue's source is a folder of department YAML files plus `bundles.yaml` (central/catalog in the
package, or the folder `CentralSettings.catalogue` names); `appliance.catalog.source.build_catalog` turns it
into the checked catalogue the booths load, and the names here are taken from that same catalogue, so a
view never names an item differently from the booth. Loading takes a few tenths of a second: load once (at
start, or when the catalogue changes) and look names up per row (a dict lookup each).

A code the catalogue does not know (an item withdrawn since a booth counted it, or a booth on another
catalogue) is shown as itself with a marker, never as an error: a view or an export must not fail over it.
"""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from appliance.catalog.model import CatalogError
from appliance.catalog.source import build_catalog

UNKNOWN = "（目录中无此事项）"  # after a code the catalogue does not know: GA-001（目录中无此事项）
BUNDLE_DEPARTMENT_SEPARATOR = "、"


class CatalogueNamesError(CatalogError):
    """The catalogue's source cannot be used; the message names the file (or the folder) and why."""


def _empty() -> MappingProxyType[Any, str]:
    return MappingProxyType({})


@dataclasses.dataclass(frozen=True)
class CatalogueNames:
    """Code → name and code → department of every item and 一件事 bundle of one catalogue."""

    _names: MappingProxyType[str, str] = dataclasses.field(default_factory=_empty, repr=False)
    _departments: MappingProxyType[str, str] = dataclasses.field(default_factory=_empty, repr=False)
    _fields: MappingProxyType[tuple[str, str], str] = dataclasses.field(default_factory=_empty, repr=False)

    @staticmethod
    def load(source: Path | None = None) -> CatalogueNames:
        """The names of the catalogue built from `source` (None: the folder shipped in the package).
        Raises `CatalogueNamesError` naming the file when the source is broken."""
        if source is None:
            return _shipped()
        return _load(Path(source))

    def item(self, code: str) -> str:
        """The item's (or bundle's) name; an unknown code as itself with a marker; "" for no code."""
        if not code:
            return ""
        if not isinstance(code, str):  # a stray value from an old row: shown, never an error
            return f"{code}{UNKNOWN}"
        name = self._names.get(code)
        return name if name is not None else f"{code}{UNKNOWN}"

    def department(self, code: str) -> str:
        """The department that handles the item (a bundle: its items' departments); "" when unknown."""
        return self._departments.get(code, "") if code and isinstance(code, str) else ""

    def field(self, code: str, key: str) -> str:
        """The label of a field of the item's application form (联系电话 for phone); the key when unknown."""
        return self._fields.get((code, key), key)

    def known(self, code: str) -> bool:
        return code in self._names

    def rows(self) -> tuple[tuple[str, str, str], ...]:
        """(code, name, department) of every item, then every bundle, in the catalogue's order."""
        return tuple((code, name, self._departments.get(code, "")) for code, name in self._names.items())


@functools.cache
def _shipped() -> CatalogueNames:
    """The package's own catalogue does not change while central runs: built once per process."""
    folder = resources.files("central") / "catalog"
    if isinstance(folder, Path):
        return _load(folder)
    with resources.as_file(folder) as path:  # a zipped install: unpacked to a temporary folder
        return _load(Path(path))


def _load(source: Path) -> CatalogueNames:
    departments = source / "departments"
    if not departments.is_dir():
        raise CatalogueNamesError(f"{departments}: no such folder (the catalogue source is a folder holding "
                                  "departments/*.yaml and bundles.yaml)")
    files = sorted(departments.glob("*.yaml"))
    if not files:
        raise CatalogueNamesError(f"{departments}: holds no department file (*.yaml)")
    where = {}  # item code → the file it is written in, to name it in an error
    for path in files:
        where.update(_shape(path))
    try:
        catalog = build_catalog(source, "central")
    except CatalogError as exc:
        raise CatalogueNamesError(_located(str(exc), where, source)) from None
    except (KeyError, TypeError, AttributeError, ValueError) as exc:  # a shape _shape does not foresee
        raise CatalogueNamesError(f"{source}: the catalogue cannot be built: {type(exc).__name__}: {exc}") from None
    names = {item.code: item.name for item in catalog.items}
    departments_of = {item.code: item.department for item in catalog.items}
    for bundle in catalog.bundles:
        names[bundle.code] = bundle.name
        departments_of[bundle.code] = BUNDLE_DEPARTMENT_SEPARATOR.join(
            dict.fromkeys(departments_of[code] for code in bundle.items))
    labels = {(item.code, f.key): f.label for item in catalog.items for f in item.form}
    return CatalogueNames(_names=MappingProxyType(names), _departments=MappingProxyType(departments_of),
                          _fields=MappingProxyType(labels))


def _shape(path: Path) -> dict[str, Path]:
    """Check that a department file has the shape build_catalog expects (it would fail with a bare
    KeyError or AttributeError otherwise); the codes it defines."""
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogueNamesError(f"{path}: cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogueNamesError(f"{path}: must be a mapping with department and items")
    if not isinstance(data.get("department"), str) or not data["department"].strip():
        raise CatalogueNamesError(f"{path}: field department (the department's name) is missing or not text")
    items = data.get("items", [])
    if not isinstance(items, list):
        raise CatalogueNamesError(f"{path}: field items must be a list")
    codes = {}
    for n, raw in enumerate(items, 1):
        if not isinstance(raw, dict):
            raise CatalogueNamesError(f"{path}: item #{n} must be a mapping (code, name, …)")
        for key in ("materials", "faq"):
            if not isinstance(raw.get(key, []), list):
                raise CatalogueNamesError(f"{path}: item {raw.get('code', f'#{n}')!r}: field {key} must be a list")
        if isinstance(raw.get("code"), str):
            codes[raw["code"]] = path
    return codes


def _located(message: str, where: dict[str, Path], source: Path) -> str:
    """build_catalog's message, with the file of each item it names (its own messages name the item by code,
    or already name the file)."""
    if str(source) in message:
        return message
    files = sorted({str(path) for code, path in where.items() if f"'{code}'" in message})
    if files:
        return f"{', '.join(files)}: {message}"
    return f"{source}: {message}"
