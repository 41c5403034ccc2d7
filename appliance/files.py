"""Writing a whole file or nothing, written once for the booth's release area (`release/layout.py` and the
parts beside it) and for `kiosk provision init` (config, key, certificate)."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o644, group: int | None = None) -> Path:
    """Write beside `path` (created with `mode` from the start, so a key is never readable by others even
    for a moment; the group too, when given), flush to disk, rename over `path`, then flush the directory
    (a rename is durable only once its directory is). A reader sees the old file or the new one, never
    half of one; a failed write leaves no temporary behind."""
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(descriptor, "wb") as out:
            if group is not None:
                os.fchown(out.fileno(), -1, group)
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)  # the umask may have taken bits off at creation
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    sync(path.parent)
    return path


def sync(path: Path) -> None:
    """Flush a file's data, or a directory's entries (a rename is durable only once its directory is)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
