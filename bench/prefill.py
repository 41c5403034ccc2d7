"""Fill a device's outbox quickly for the benchmarks (durability off while filling only)."""

from __future__ import annotations

from pathlib import Path

from appliance.config import KioskConfig
from appliance.contract import EventKind
from appliance.delivery.outbox import Outbox
from appliance.state.sealing import Sealer, load_or_create_key
from appliance.state.store import Store

PAYLOAD = {"item": "GA-001", "level": 5, "label": "非常满意", "channel": "self-service-terminal",
           "session": "a1b2c3d4e5f6", "comment": ""}


def prefill(config: KioskConfig, events: int) -> None:
    storage: Path = config.storage.dir
    storage.mkdir(parents=True, exist_ok=True)
    store = Store(storage / "outbox.sqlite3")
    store._conn.execute("PRAGMA synchronous=OFF")  # setting the stage, not measuring it
    outbox = Outbox(store, Sealer(load_or_create_key(storage / "device.key")), config.outbox, boot=1,
                    clock_synced=lambda: True)
    for n in range(events):
        outbox.enqueue(EventKind.RATING, {**PAYLOAD, "n": n})
    store.close()
