"""Time from a card placed on the reader to the identity event, over a real pseudo-terminal with the
reader simulator at the far end (find card → select → read base message → decode and check).

Baselines in the same run: the reader's poll period (a card waits on average half of it before the
next "find card"), and one bare request/answer exchange on the same line (SAM status), the floor
of any exchange. A pty carries bytes at memory speed; the wire time of the same exchanges at
115200 baud is printed alongside to add for a real serial line.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers import idcard_protocol as proto
from drivers.card_reader import CardEvent, CardEventKind
from drivers.card_reader_pty_sim import TEST_CITIZENS, PtyCardReaderSimulator
from drivers.card_reader_serial import POLL_S, SerialCardReader
from drivers.health import HealthState
from drivers.idcard_data import encode_base_message

PLACEMENTS = 40
BAUD = 115_200


def percentile(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(p * len(values)))]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sim = PtyCardReaderSimulator(Path(tmp) / "ttyIDCARD").start()
        reader = SerialCardReader(str(sim.port), BAUD)
        events: list[tuple[float, CardEvent]] = []
        arrived = threading.Event()

        def listener(event: CardEvent) -> None:
            events.append((time.perf_counter(), event))
            arrived.set()

        reader.open(listener)
        while reader.health().state is not HealthState.OK:
            time.sleep(0.01)

        exchanges = []
        for _ in range(200):  # the floor: one request and its answer, taken while no card is there
            start = time.perf_counter()
            reader.self_test()  # one SAM request and its answer
            exchanges.append(time.perf_counter() - start)

        latencies, work = [], []
        for i in range(PLACEMENTS):
            arrived.clear()
            placed = time.perf_counter()
            sim.place(TEST_CITIZENS[i % len(TEST_CITIZENS)])
            arrived.wait(5)
            when, event = events[-1]
            assert event.kind is CardEventKind.READ, event
            latencies.append(when - placed)
            work.append(when - sim.card_seen_at)  # from the "find card" that saw it: select, read, decode
            arrived.clear()
            sim.remove()
            arrived.wait(5)  # the REMOVED event
            time.sleep(0.05 + (i * 0.0371) % POLL_S)  # place at different moments of the poll cycle
        reader.close()
        sim.stop()

    read_bytes = (len(proto.encode_request(*proto.FIND_CARD)) + len(proto.encode_request(*proto.SELECT_CARD))
                  + len(proto.encode_request(*proto.READ_BASE))
                  + len(proto.encode_answer(proto.CARD_FOUND, bytes(4))) + len(proto.encode_answer(proto.OK, bytes(8)))
                  + len(proto.encode_answer(proto.OK, encode_base_message(TEST_CITIZENS[0]))))
    ms = 1000
    print(f"card placed → identity event, {PLACEMENTS} placements over a pseudo-terminal")
    print(f"  measured:            median {statistics.median(latencies) * ms:6.1f} ms   "
          f"p95 {percentile(latencies, 0.95) * ms:6.1f} ms   max {max(latencies) * ms:6.1f} ms")
    print(f"  baseline, poll wait: mean {POLL_S / 2 * ms:6.1f} ms   (poll period {POLL_S * ms:.0f} ms)")
    print(f"  baseline, one bare exchange on the same line: median {statistics.median(exchanges) * ms:6.2f} ms")
    print(f"  of which reading the card (found → event): median {statistics.median(work) * ms:6.2f} ms   "
          f"p95 {percentile(work, 0.95) * ms:6.2f} ms")
    print(f"  on a real 115200 baud line add the wire time of find + select + read: {read_bytes:,} bytes = "
          f"{read_bytes * 10 / BAUD * ms:.0f} ms")


if __name__ == "__main__":
    main()
