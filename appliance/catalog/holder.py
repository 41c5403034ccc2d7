"""The catalogue in use: loaded at start, swapped whole when a good one arrives, never half-replaced.
Readers (the screens, the use-cases) take `current` without a lock: a swap is one reference store.

Beside the catalogue file lives the search index built with it (search_data.py); the holder loads it
with the catalogue and ties it to that catalogue, so search need not build its own at start."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from appliance.catalog import search_data
from appliance.catalog.model import Catalog, CatalogError, Item, bundled_text, parse_catalog


class CatalogHolder:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self.current: Catalog | None = None

    def load(self) -> Catalog:
        """(Re)load the catalogue; on any problem raise `CatalogError` and keep the current one."""
        catalog = read_catalog(self._path if self._path.exists() else None)
        self.install(catalog)
        return catalog

    def replace(self, text: bytes, search: bytes | None = None) -> Catalog:
        """Take a new catalogue file's bytes (and its search index's, if it came with one): check them,
        write them durably in place of the old files, then use them. A `CatalogError` leaves the files
        and the catalogue in use as they were. An index that does not fit these bytes is left out."""
        try:
            catalog = parse_catalog(json.loads(text))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CatalogError(f"catalogue cannot be read: {exc}") from None
        data = search_data.usable(search, text, "catalogue update")
        index = search_data.path_beside(self._path)
        if data is not None:  # a crash between the two writes leaves a pair whose digests differ: a rebuild at start
            _write_durably(index, search)
            search_data.attach(catalog, data)
        else:
            index.unlink(missing_ok=True)
        _write_durably(self._path, text)
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


def read_catalog(path: Path | None) -> Catalog:
    """A catalogue file (None: the package's own) with the search index beside it tied to it, if that
    index fits; `CatalogError` if the catalogue cannot be used."""
    where = str(path) if path else "bundled catalogue"
    try:
        if path is None:
            text, search = bundled_text().encode(), search_data.bundled_bytes()
        else:
            text, search = path.read_bytes(), search_data.read_beside(path)
        catalog = parse_catalog(json.loads(text))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"catalogue {where} cannot be read: {exc}") from None
    data = search_data.usable(search, text, where)
    if data is not None:
        search_data.attach(catalog, data)
    return catalog


def _write_durably(path: Path, content: bytes) -> None:
    staged = path.with_name(path.name + ".new")
    with open(staged, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(staged, path)
