"""The kiosk's core, UI-free: config, outbox, MQTT link, heartbeat, usage ledger, commands."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kiosk-appliance")  # a release bundle's build stamps its version here
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0.0.0+checkout"
