"""The kiosk's core, UI-free: config, outbox, MQTT link, heartbeat, usage ledger, commands."""

from __future__ import annotations

from functools import cache


@cache
def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kiosk-appliance")  # a release bundle's build stamps its version here
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0.0.0+checkout"


def __getattr__(name: str) -> str:
    """`appliance.__version__`, looked up when first asked for: reading the installed packages' metadata
    costs 20 ms, and every process that imports a part of the core (the booth's screens first) paid it."""
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module 'appliance' has no attribute {name!r}")
