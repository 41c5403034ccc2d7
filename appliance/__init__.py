"""The kiosk's core, UI-free: config, outbox, MQTT link, heartbeat, usage ledger, commands."""

__version__ = "0.1.0"
