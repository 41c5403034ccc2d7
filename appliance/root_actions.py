"""The one way the unprivileged kiosk gets something done as root: a request file for a fixed action.

The kiosk (user `kiosk`) writes `{id}.request` into `/var/lib/kiosk/actions/`; `kiosk-actions.path`
starts `kiosk-actions.service` (root, oneshot), which runs `python -m appliance.root_actions DIR`:
every request names one action from `ACTIONS` (nothing else is run, no arguments are taken), gets a
`{id}.result` beside it, and is removed. Requests are read without following symlinks, because the
kiosk user owns the directory.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

ACTIONS: Mapping[str, Sequence[str]] = {
    "reboot": ("systemctl", "reboot"),
    "restart-kiosk": ("systemctl", "restart", "kiosk.service"),
    # The release the kiosk staged (appliance/release/guard.py verifies it all again itself) and the
    # commit of a release on trial; both run in kiosk-update@.service, not in this sandbox.
    "install-release": ("systemctl", "start", "--no-block", "kiosk-update@install-staged.service"),
    "commit-release": ("systemctl", "start", "--no-block", "kiosk-update@commit.service"),
}
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_REQUEST_BYTES = 1024


class ActionError(ValueError):
    """A request that names no allowed action; the message says what is allowed."""


def request_action(directory: Path, request_id: str, action: str) -> Path:
    """Kiosk side: ask for `action` (the root unit does it and leaves `{id}.result`)."""
    if action not in ACTIONS:
        raise ActionError(f"unknown action {action!r}; allowed: {', '.join(ACTIONS)}")
    if not REQUEST_ID.fullmatch(request_id):
        raise ActionError(f"request id {request_id!r} must be 1–64 letters, digits, '-' or '_'")
    if not directory.is_dir():
        directory.mkdir()
        directory.chmod(0o770)  # the root unit (no capabilities) writes results through the group
    temporary = directory / f".{request_id}.tmp"
    temporary.write_text(json.dumps({"id": request_id, "action": action}))
    path = directory / f"{request_id}.request"
    os.replace(temporary, path)  # the path unit sees a whole request, never half of one
    return path


def handle_requests(directory: Path, actions: Mapping[str, Sequence[str]] = ACTIONS) -> list[dict]:
    """Root side: carry out each waiting request once; returns the results written."""
    if directory.is_symlink():
        raise ActionError(f"{directory} is a symlink: refusing to work through it as root")
    results = []
    for path in sorted(directory.glob("*.request")):
        request_id = path.name.removesuffix(".request")
        if not REQUEST_ID.fullmatch(request_id):
            path.unlink(missing_ok=True)
            continue
        result = _carry_out(path, request_id, actions)
        _write_result(directory / f"{request_id}.result", result)
        results.append(result)
    return results


def _carry_out(path: Path, request_id: str, actions: Mapping[str, Sequence[str]]) -> dict:
    try:
        raw = _claim(path)
        if len(raw) > MAX_REQUEST_BYTES:
            raise ValueError(f"over {MAX_REQUEST_BYTES} bytes")
        body = json.loads(raw)
    except (OSError, ValueError) as exc:
        return {"id": request_id, "ok": False, "error": f"unreadable request: {exc}"}
    action = body.get("action") if isinstance(body, dict) else None
    if action not in actions:
        allowed = ", ".join(actions)
        return {"id": request_id, "ok": False, "error": f"action {action!r} is not allowed; allowed: {allowed}"}
    done = subprocess.run(list(actions[action]), capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        return {"id": request_id, "action": action, "ok": False, "error": done.stderr.strip()[-300:]}
    return {"id": request_id, "action": action, "ok": True}


def _claim(path: Path) -> bytes:
    """Read a request (never through a link) and remove it, read or not, before anything runs: a booth
    rebooted by it must not find it again at boot."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor, "rb") as request:
            return request.read(MAX_REQUEST_BYTES + 1)
    finally:
        path.unlink(missing_ok=True)


def _write_result(path: Path, result: dict) -> None:
    """Create the result afresh, never through a link someone else put at that name."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w") as out:
        out.write(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m appliance.root_actions DIRECTORY")
    for outcome in handle_requests(Path(sys.argv[1])):
        print(json.dumps(outcome))
