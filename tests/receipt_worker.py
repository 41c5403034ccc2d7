"""A booth process for the receipt-number kill test: `python -m tests.receipt_worker CONFIG`.

Runs the real core (no broker needed) and files numbered submissions forever through the citizen services'
own numbering path, printing `ACK <number> <event id>` only after the filing returned: what the booth
promised the citizen (the number on their receipt).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from appliance.config import load_config
from appliance.contract import EventKind
from appliance.kiosk import Kiosk


def main() -> None:
    kiosk = Kiosk(load_config(Path(sys.argv[1])))
    print("READY", flush=True)
    n = 0
    while True:
        accepted, number = kiosk.citizen._file_numbered(EventKind.SUBMISSION, lambda number, n=n: {
            "item": "RS-002", "number": number, "session": "kill-test", "form": {"n": n},
            "applicant": {"name": "测试", "id_number": "110101199001011234"}})
        print(f"ACK {number} {accepted.id}", flush=True)
        n += 1
        time.sleep(0.001)


if __name__ == "__main__":
    main()
