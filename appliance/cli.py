"""The `kiosk` command: run the booth, check a config file, run a simulated device, work on catalogues.

Errors a maintainer can fix (bad config, unusable state directory) end with one clear message and
exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from appliance.catalog.command import add_catalog_commands
from appliance.catalog.model import CatalogError
from appliance.config import ConfigError, load_config
from appliance.devices.sim_command import add_sim_commands
from appliance.state.sealing import SealError
from appliance.state.store import StoreError
from central.cli import add_central_commands
from provisioning.init import add_provision_commands

log = logging.getLogger("kiosk")


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.headless:
        return _run_headless(config)
    from screens.theme import configure_kivy

    configure_kivy(args.width, args.height, fullscreen=args.fullscreen)
    from screens.app import run_app

    return run_app(config)


def _run_headless(config) -> int:
    from appliance.kiosk import Kiosk

    kiosk = Kiosk(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    kiosk.start()
    stop.wait()
    log.info("stopping")
    kiosk.stop()
    return 0


def _config_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(f"config OK: device {config.device.id} at {config.device.site} (region {config.device.region}), "
          f"broker {config.broker.host}:{config.broker.port}{' with TLS' if config.broker.tls else ''}")
    return 0


def _status(args: argparse.Namespace) -> int:
    """The running service's health, from the file it rewrites every few seconds."""
    from appliance.monitor.status_file import describe

    alive, text = describe(load_config(args.config).storage.dir)
    print(text)
    return 0 if alive else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk", description="Self-service government terminal firmware.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the kiosk until SIGTERM")
    run.add_argument("--config", type=Path, help="config file (default $KIOSK_CONFIG or /etc/kiosk/kiosk.toml)")
    run.add_argument("--headless", action="store_true", help="run the core without the touchscreen UI")
    run.add_argument("--fullscreen", action="store_true", help="take the whole screen (as on the booth)")
    run.add_argument("--width", type=int, default=800, help="window width when not fullscreen")
    run.add_argument("--height", type=int, default=480, help="window height when not fullscreen")
    run.set_defaults(func=_run)

    status = commands.add_parser("status", help="the running kiosk's health, readable (exit 1 when not running)")
    status.add_argument("--config", type=Path)
    status.set_defaults(func=_status)

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    check = config_commands.add_parser("check", help="validate a config file and say what is wrong")
    check.add_argument("--config", type=Path)
    check.set_defaults(func=_config_check)
    add_sim_commands(commands)
    add_catalog_commands(commands)
    add_central_commands(commands)
    add_provision_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,  # a library may have installed a root handler while being imported (escpos does)
    )
    # paho logs every failed reconnect at ERROR; the link reports connection problems once itself.
    logging.getLogger("kiosk.paho").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    try:
        return args.func(args)
    except (ConfigError, StoreError, SealError, CatalogError) as exc:
        print(f"kiosk: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
