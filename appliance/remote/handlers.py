"""One handler per remote command name (`contract.COMMAND_NAMES`), each given only the parts it needs.
`command_handlers` refuses to start a booth whose table and the contract disagree."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from appliance.catalog.holder import CatalogHolder
from appliance.catalog.model import CatalogError
from appliance.contract import COMMAND_NAMES
from appliance.delivery.outbox import Outbox
from appliance.delivery.pump import Pump
from appliance.monitor.heartbeat import Heartbeat
from appliance.remote.command_center import CommandError, Handler
from appliance.root_actions import request_action
from appliance.services import self_test
from appliance.services.maintenance import Maintenance
from appliance.services.printing import Printing
from drivers.health import DeviceAbsent
from drivers.leds import Leds
from drivers.printer import PrintError


def ping(heartbeat: Heartbeat, boot: int) -> Handler:
    return lambda args: {"pong": True, "uptime_s": heartbeat.uptime_s(), "boot": boot}


def status(heartbeat: Heartbeat) -> Handler:
    return lambda args: heartbeat.snapshot()


def maintenance(mode: Maintenance) -> Handler:
    def switch(args: dict[str, Any]) -> dict[str, Any]:
        on = args.get("on")
        if not isinstance(on, bool):
            raise CommandError("bad_args", 'maintenance needs args {"on": true} or {"on": false}')
        mode.set(on)
        return {"mode": "maintenance" if on else "online"}

    return switch


def reload_catalog(catalog: CatalogHolder) -> Handler:
    def reload(args: dict[str, Any]) -> dict[str, Any]:
        try:
            loaded = catalog.load()
        except CatalogError as exc:
            raise CommandError("catalog_invalid", f"{exc}; still using {catalog.version}") from exc
        return {"version": loaded.version, "items": len(loaded.items)}

    return reload


def print_test(printing: Printing, device_id: str, site: str) -> Handler:
    def print_page(args: dict[str, Any]) -> dict[str, Any]:
        try:
            printing.print(self_test.test_page(device_id, site))
        except PrintError as exc:
            raise CommandError("print_failed", f"printer: {exc}") from exc
        return {"printed": True}

    return print_page


def led_test(leds: Leds) -> Handler:
    def cycle(args: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"cycled": self_test.cycle_leds(leds)}
        except DeviceAbsent as exc:
            raise CommandError("no_leds", str(exc)) from exc

    return cycle


def retry_set_aside(outbox: Outbox, pump: Pump) -> Handler:
    """Someone looked at why events were set aside and fixed it (e.g. raised a broker limit)."""
    def retry(args: dict[str, Any]) -> dict[str, Any]:
        retried = outbox.retry_set_aside()
        pump.notify()
        return {"retried": retried}

    return retry


def ask_root(actions_dir: Path, action: str) -> Handler:
    """Reboot or restart: done by the root unit (kiosk-actions), asked through a request file."""
    def ask(args: dict[str, Any]) -> dict[str, Any]:
        request = request_action(actions_dir, f"{action}-{int(time.time())}", action)
        return {"requested": action, "request": request.name}

    return ask


def checked(handlers: dict[str, Handler]) -> dict[str, Handler]:
    """The table, after making sure it answers exactly the contract's command names."""
    missing, extra = set(COMMAND_NAMES) - set(handlers), set(handlers) - set(COMMAND_NAMES)
    if missing or extra:
        raise RuntimeError(f"remote command table disagrees with contract.COMMAND_NAMES: missing {sorted(missing)},"
                           f" not in the contract {sorted(extra)}")
    return handlers


