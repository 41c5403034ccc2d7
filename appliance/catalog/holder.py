"""The catalogue in use: loaded at start, swapped whole when a good one arrives, never half-replaced.
Readers (the screens, the use-cases) take `current` without a lock: a swap is one reference store."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from appliance.catalog.model import Catalog, CatalogError, Item, bundled_text, parse_catalog


class CatalogHolder:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self.current: Catalog | None = None

    def load(self) -> Catalog:
        """(Re)load the catalogue; on any problem raise `CatalogError` and keep the current one."""
        try:
            text = self._path.read_text(encoding="utf-8") if self._path.exists() else bundled_text()
            catalog = parse_catalog(json.loads(text))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CatalogError(f"catalogue {self._path} cannot be read: {exc}") from None
        self.install(catalog)
        return catalog

    def replace(self, text: bytes) -> Catalog:
        """Take a new catalogue file's bytes: check them, write them durably in place of the old file,
        then use them. A `CatalogError` leaves both the file and the catalogue in use as they were."""
        try:
            catalog = parse_catalog(json.loads(text))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CatalogError(f"catalogue cannot be read: {exc}") from None
        staged = self._path.with_name(self._path.name + ".new")
        with open(staged, "wb") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(staged, self._path)
        self.install(catalog)
        return catalog

    def install(self, catalog: Catalog) -> None:
        with self._lock:
            self.current = catalog

    @property
    def version(self) -> str | None:
        return self.current.version if self.current else None

    def item(self, code: str) -> Item:
        if self.current is None:
            raise CatalogError("no catalogue loaded")
        return self.current.item(code)
