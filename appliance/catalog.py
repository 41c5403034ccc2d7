"""The service catalogue the booth offers: loaded from a file, the last good one kept on failure.

This is the core's holder of the catalogue (version, items by code). A broken file is refused with
a message naming the item and field, and whatever was loaded before stays in use. Without a file
of its own the device uses the small sample catalogue shipped in the package.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any


class CatalogError(Exception):
    """A catalogue that cannot be used; the message names the item and field."""


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    department: str
    materials: tuple[str, ...]
    promised_days: int


@dataclass(frozen=True)
class Catalog:
    version: str
    items: dict[str, Item]


def parse_catalog(data: Any) -> Catalog:
    if not isinstance(data, dict):
        raise CatalogError("catalogue must be a JSON object with version and items")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise CatalogError("catalogue version must be a non-empty string")
    raw_items = data.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise CatalogError("catalogue items must be a non-empty list")
    items: dict[str, Item] = {}
    for index, raw in enumerate(raw_items):
        where = f"item {index}"
        if not isinstance(raw, dict):
            raise CatalogError(f"{where}: must be an object")
        where = f"item {raw.get('code', index)!r}"
        for key in ("code", "name", "department"):
            if not isinstance(raw.get(key), str) or not raw[key].strip():
                raise CatalogError(f"{where}: field {key} must be a non-empty string")
        materials = raw.get("materials", [])
        if not isinstance(materials, list) or not all(isinstance(m, str) for m in materials):
            raise CatalogError(f"{where}: field materials must be a list of strings")
        days = raw.get("promised_days", 0)
        if not isinstance(days, int) or days < 0:
            raise CatalogError(f"{where}: field promised_days must be a whole number of days ≥ 0")
        if raw["code"] in items:
            raise CatalogError(f"{where}: code appears twice")
        items[raw["code"]] = Item(raw["code"], raw["name"], raw["department"], tuple(materials), days)
    return Catalog(version, items)


class CatalogStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self.current: Catalog | None = None

    def load(self) -> Catalog:
        """(Re)load the catalogue; on any problem raise `CatalogError` and keep the current one."""
        try:
            text = self._path.read_text(encoding="utf-8") if self._path.exists() else _sample_text()
            catalog = parse_catalog(json.loads(text))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CatalogError(f"catalogue {self._path} cannot be read: {exc}") from None
        with self._lock:
            self.current = catalog
        return catalog

    @property
    def version(self) -> str | None:
        return self.current.version if self.current else None

    def item(self, code: str) -> Item:
        catalog = self.current
        if catalog is None or code not in catalog.items:
            raise CatalogError(f"no service item with code {code!r}")
        return catalog.items[code]


def _sample_text() -> str:
    return resources.files("appliance").joinpath("data/catalog.sample.json").read_text(encoding="utf-8")
