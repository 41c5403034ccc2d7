"""`status.json` in the state directory: the running service's health snapshot (what its heartbeat
carries, no personal data), rewritten every few seconds, so `kiosk status` can show it to a person on
site without starting a second kiosk or reaching the broker."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

FILE_NAME = "status.json"
WRITE_EVERY_S = 5.0
STALE_AFTER_S = 3 * WRITE_EVERY_S


def write_status(state_dir: Path, device_id: str, snapshot: dict[str, Any], running: bool = True) -> None:
    """Replace the file atomically (a reader never sees half of it)."""
    body = {"device": device_id, "written": time.time(), "running": running, "snapshot": snapshot}
    temporary = state_dir / f".{FILE_NAME}.tmp"
    temporary.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
    os.chmod(temporary, 0o644)
    os.replace(temporary, state_dir / FILE_NAME)


def describe(state_dir: Path) -> tuple[bool, str]:
    """(service alive, the text for a person) from the file the service writes."""
    path = state_dir / FILE_NAME
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        snapshot, written = body["snapshot"], float(body["written"])
    except FileNotFoundError:
        return False, f"no status at {path}: the kiosk service has not run with this state directory"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, f"{path} cannot be read ({exc}); the service rewrites it every {WRITE_EVERY_S:g} s"
    age = time.time() - written
    alive = body.get("running", False) and age < STALE_AFTER_S
    head = (f"kiosk {body.get('device')}: running, {snapshot.get('mode')}" if alive else
            f"kiosk {body.get('device')}: NOT running (status written {age:.0f} s ago"
            + (", at a clean stop)" if not body.get("running") else ")"))
    return alive, "\n".join([head, *snapshot_lines(snapshot)])


def snapshot_lines(snapshot: dict[str, Any]) -> list[str]:
    """The health snapshot as lines a person reads (here and on the maintenance screen)."""
    outbox, link, system = snapshot.get("outbox", {}), snapshot.get("link", {}), snapshot.get("system", {})
    lines = [f"  software {snapshot.get('software')}, catalogue {snapshot.get('catalog_version')}, "
             f"boot {snapshot.get('boot')}, up {snapshot.get('uptime_s')} s",
             f"  broker: {'connected' if link.get('connected') else 'NOT connected'}"
             + (f" ({link.get('last_error')})" if link.get("last_error") else "")
             + (", TLS" if link.get("tls") else ""),
             *([f"  personal data: {link['held_for_tls']} applications, bookings or calls for help held until the "
                f"broker link is TLS (broker.tls is not set)"] if link.get("held_for_tls") else []),
             f"  outbox: {outbox.get('depth')} held, {outbox.get('in_flight')} in flight, "
             f"{outbox.get('set_aside')} set aside, oldest " + _age(outbox.get("oldest_age_s")),
             # held until central confirms it committed them (the broker's PUBACK is not enough)
             f"  unconfirmed by central: {outbox.get('unconfirmed', '-')}, oldest "
             + _age(outbox.get("oldest_unconfirmed_age_s")),
             f"  LEDs: {snapshot.get('leds')}"]
    for name, health in sorted((snapshot.get("drivers") or {}).items()):
        lines.append(f"  {name}: {health.get('state')} ({health.get('reason')})")
    temperature = system.get("cpu_temp_c")
    lines.append(f"  disk {system.get('disk_free_mb')} MB free of {system.get('disk_total_mb')}, "
                 + (f"CPU {temperature} °C, " if temperature is not None else "CPU temperature not readable, ")
                 + f"load {system.get('load_1m')}")
    pi = system.get("pi") or {}
    throttling, errors = pi.get("throttling"), pi.get("filesystem_errors")
    lines.append("  power: " + ("unknown" if throttling is None else
                                "UNDER-VOLTAGE" if throttling.get("under_voltage_now") else "ok")
                 + "; SD errors: " + ("unknown" if errors is None else str(sum(errors.values())))
                 + "; service restarts: " + ("unknown" if pi.get("service_restarts") is None
                                              else str(pi["service_restarts"])))
    return lines


def _age(seconds: int | None) -> str:
    return "-" if seconds is None else f"{seconds} s"
