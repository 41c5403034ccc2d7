"""A kiosk process for the kill tests: `python -m tests.kiosk_worker CONFIG enqueue|drain [FIRST_N]`.

`enqueue` runs the real core and enqueues ratings forever, printing `ACK <id>` only after `enqueue`
returned (so the parent knows exactly which events the device promised to deliver); `drain` runs
until the outbox is empty, then stops cleanly and prints `DRAINED`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from appliance.config import load_config
from appliance.contract import EventKind
from appliance.kiosk import Kiosk


def main() -> None:
    config_path, mode = Path(sys.argv[1]), sys.argv[2]
    kiosk = Kiosk(load_config(config_path))
    kiosk.start()
    if mode == "enqueue":
        n = int(sys.argv[3])
        while True:
            accepted = kiosk.outbox.enqueue(EventKind.RATING, {"item": "GA-001", "level": 5, "n": n})
            print(f"ACK {accepted.id}", flush=True)
            n += 1
            time.sleep(0.002)
    while kiosk.outbox.stats()["depth"] or not kiosk.link.connected:
        time.sleep(0.05)
    kiosk.stop()
    print("DRAINED", flush=True)


if __name__ == "__main__":
    main()
