"""The `kiosk` command: run the booth, check a config file, show the running kiosk's status.

Everything else (`catalog`, `sim`, `central`, `provision`) and the touchscreen are found through entry
points (the `kiosk.commands` and `kiosk.touchscreen` groups in pyproject.toml), so the core imports none
of the layers above it. A subcommand whose extra is not installed still shows in `kiosk --help`, and
using it says in one line which extra to install.

Errors a maintainer can fix (bad config, unusable state directory) end with one clear message and
exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points
from pathlib import Path
from typing import Any

from appliance.catalog.model import CatalogError
from appliance.config import ConfigError, KioskConfig, load_config
from appliance.errors import friendly, operator_error
from appliance.state.sealing import SealError
from appliance.state.store import StoreError

log = logging.getLogger("kiosk")

COMMANDS = "kiosk.commands"  # entry point: a function that adds its subcommand to the `kiosk` parser
TOUCHSCREEN = "kiosk.touchscreen"  # entry point: run(config, width, height, fullscreen) -> exit status
REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.headless:
        return _run_headless(config)
    return _run_touchscreen(config, args)


def _run_headless(config: KioskConfig) -> int:
    try:
        from appliance.kiosk import Kiosk  # the booth's drivers: the `kiosk` extra
    except ModuleNotFoundError as exc:
        return operator_error("kiosk", f"the booth's core needs pip install 'kiosk-appliance[kiosk]' ({exc})")

    kiosk = Kiosk(config)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    kiosk.start()
    stop.wait()
    log.info("stopping")
    kiosk.stop()
    return 0


def _run_touchscreen(config: KioskConfig, args: argparse.Namespace) -> int:
    """The touchscreen is whichever `kiosk.touchscreen` entry point is installed (the `screens` extra)."""
    found = sorted(entry_points(group=TOUCHSCREEN), key=lambda ep: ep.name)
    if not found:
        return operator_error("kiosk", "no touchscreen is installed: pip install 'kiosk-appliance[screens]' "
                                       "(or run the core alone with --headless)")
    run, problem = _load(found[0])
    if run is None:
        return operator_error("kiosk", f"the touchscreen {problem} (or run the core alone with --headless)")
    return run(config, width=args.width, height=args.height, fullscreen=args.fullscreen)


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


# -- subcommands found by entry points ------------------------------------------------------------------
def _load(entry: EntryPoint) -> tuple[Any, str]:
    """(what the entry point names, "") when it can run here, else (None, what to install)."""
    problem = _missing_extra(entry)
    if problem is not None:
        return None, problem
    try:
        return entry.load(), ""
    except ImportError as exc:
        return None, _needs(entry, exc)


def _missing_extra(entry: EntryPoint) -> str | None:
    """What to install when one of the extras the entry point names is not (fully) installed, else None.
    Only a requirement that depends on nothing but its extra is looked for (`lgpio` is for a Pi only)."""
    dist = entry.dist
    if dist is None or not entry.extras:
        return None
    for extra in entry.extras:
        for requirement in dist.requires or ():
            spec, _, marker = requirement.partition(";")
            if marker.strip().replace("'", '"') != f'extra == "{extra}"':
                continue
            name = REQUIREMENT_NAME.match(spec)
            try:
                distribution(name[1] if name else spec.strip())
            except PackageNotFoundError:
                return f"needs pip install '{dist.name}[{extra}]'"
    return None


def _needs(entry: EntryPoint, exc: ImportError) -> str:
    """Why an entry point could not be loaded, naming the extra it declares when it declares one."""
    dist = entry.dist.name if entry.dist is not None else "kiosk-appliance"
    if entry.extras:
        return f"needs pip install '{dist}[{','.join(entry.extras)}]' ({exc})"
    return f"cannot be loaded ({exc}): reinstall {dist}"


def _add_unavailable(commands: argparse._SubParsersAction, name: str, problem: str) -> None:
    """A subcommand that is listed but cannot run here: whatever is given, it says what to install."""
    parser = commands.add_parser(name, help=f"(not installed here: {problem.removeprefix('needs ')})",
                                 add_help=False)
    parser.set_defaults(func=lambda _args: operator_error("kiosk", f"`kiosk {name}` {problem}"),
                        unavailable=True)


def add_plugin_commands(commands: argparse._SubParsersAction) -> None:
    """Each `kiosk.commands` entry point adds its subcommand; one whose extra is missing still shows."""
    seen: set[str] = set()
    for entry in sorted(entry_points(group=COMMANDS), key=lambda ep: ep.name):
        if entry.name in seen:  # the same distribution found twice on the path
            continue
        seen.add(entry.name)
        add, problem = _load(entry)
        if add is None:
            _add_unavailable(commands, entry.name, problem)
            continue
        add(commands)


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
    add_plugin_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "unavailable", False):  # as parse_args; a missing extra's flags are moot
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,  # a library may have installed a root handler while being imported (escpos does)
    )
    # paho logs every failed reconnect at ERROR; the link reports connection problems once itself.
    logging.getLogger("kiosk.paho").setLevel(logging.DEBUG if args.verbose else logging.CRITICAL)
    return friendly("kiosk", (ConfigError, StoreError, SealError, CatalogError))(args.func)(args)


if __name__ == "__main__":
    sys.exit(main())
