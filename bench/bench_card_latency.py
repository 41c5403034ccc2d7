"""Time from a card placed on the reader to the identity event, over a real pseudo-terminal with the
reader simulator at the far end (find card → select → read base message → decode and check).

Two lines, each with its own baseline taken in the same run on the same line — one bare
request/answer exchange (the SAM id), the floor of any exchange:
- the pseudo-terminal as it is, carrying bytes at memory speed (the wire time of the same exchanges at
  115200 baud is printed to add);
- the simulator keeping a 115200 baud line's pace (`line_baud`), so the figure includes the wire time:
  what issue 19's goal (p95 ≤ 150 ms) is about.
On the paced line the identity event is taken twice: the driver's `CardEvent`, and the screens'
`CardRead` after the core's `ReaderEvents` has begun the visit (a real state database: the visit's start
is counted in the usage ledger with synchronous=FULL). The driver's port thread's CPU while no card is
there is the price of its poll period. The last line is the issue's figure beside its baseline.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.config import OutboxSection, SessionSection
from appliance.delivery.outbox import Outbox
from appliance.events import CardRead
from appliance.monitor.usage import UsageLedger
from appliance.services.reader_events import ReaderEvents
from appliance.services.self_test import CardProbe
from appliance.services.visits import Visits
from appliance.state.sealing import Sealer, load_or_create_key
from appliance.state.store import Store
from drivers import idcard_protocol as proto
from drivers.card_reader import CardEvent, CardEventKind
from drivers.card_reader_pty_sim import TEST_CITIZENS, PtyCardReaderSimulator
from drivers.card_reader_serial import POLL_S, SerialCardReader
from drivers.health import HealthState
from drivers.idcard_data import encode_base_message

BAUD = 115_200
GOAL_P95_S = 0.150
MS = 1000


def percentile(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(p * len(values)))]


@dataclass
class Run:
    line: str
    exchanges: list[float] = field(default_factory=list)  # one bare request and its answer
    latencies: list[float] = field(default_factory=list)  # card placed → the driver's READ event
    to_core: list[float] = field(default_factory=list)  # card placed → the screens' CardRead
    work: list[float] = field(default_factory=list)  # the "find card" that saw it → the READ event
    idle_cpu: float = 0.0  # seconds of CPU a second on the reader's port thread while no card is there


def measure(tmp: Path, line_baud: int | None, placements: int, seed: int) -> Run:
    run = Run("paced at 115200 baud (wire time included)" if line_baud else "pseudo-terminal (memory speed)")
    sim = PtyCardReaderSimulator(tmp / "ttyIDCARD", line_baud=line_baud).start()
    store = Store(tmp / "outbox.sqlite3")
    outbox = Outbox(store, Sealer(load_or_create_key(tmp / "device.key")), OutboxSection(), boot=1,
                    clock_synced=lambda: True)
    core_events: list[tuple[float, object]] = []
    visits = Visits(SessionSection(), UsageLedger(store, outbox, 3600),
                    lambda event: core_events.append((time.perf_counter(), event)))
    core = ReaderEvents(visits, CardProbe(), lambda event: core_events.append((time.perf_counter(), event)))
    reader = SerialCardReader(str(sim.port), BAUD)
    events: list[tuple[float, CardEvent]] = []
    arrived = threading.Event()

    def listener(event: CardEvent) -> None:
        events.append((time.perf_counter(), event))
        core.card(event)  # on the port thread, as the kiosk wires it
        arrived.set()

    try:
        reader.open(listener)
        while reader.health().state is not HealthState.OK:
            time.sleep(0.01)

        for _ in range(200):  # the floor: one request and its answer, taken while no card is there
            start = time.perf_counter()
            reader.self_test()  # one SAM id request and its answer
            run.exchanges.append(time.perf_counter() - start)

        port_thread = next(t for t in threading.enumerate() if t.name == "card reader")
        clock = time.pthread_getcpuclockid(port_thread.ident)
        cpu, wall = time.clock_gettime(clock), time.perf_counter()
        time.sleep(2.0)
        run.idle_cpu = (time.clock_gettime(clock) - cpu) / (time.perf_counter() - wall)

        phase = random.Random(seed)
        for i in range(placements):
            arrived.clear()
            core_events.clear()
            placed = time.perf_counter()
            sim.place(TEST_CITIZENS[i % len(TEST_CITIZENS)])
            if not arrived.wait(5):
                raise RuntimeError("no card event within 5 s")
            when, event = events[-1]
            assert event.kind is CardEventKind.READ, event
            run.latencies.append(when - placed)
            run.work.append(when - sim.card_seen_at)
            run.to_core.append(next(at for at, e in core_events if isinstance(e, CardRead)) - placed)
            arrived.clear()
            sim.remove()
            if not arrived.wait(5):  # the REMOVED event
                raise RuntimeError("no removal event within 5 s")
            visits.end()  # the next card begins a new visit, as a new citizen's does
            time.sleep(0.03 + phase.uniform(0, 2 * POLL_S))  # place at different moments of the poll cycle
    finally:
        reader.close()
        sim.stop()
        store.close()
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--placements", type=int, default=100, help="cards placed on each line (default 100)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "pty").mkdir()
        (Path(tmp) / "paced").mkdir()
        pty = measure(Path(tmp) / "pty", None, args.placements, seed=1)
        paced = measure(Path(tmp) / "paced", BAUD, args.placements, seed=2)

    read_bytes = (len(proto.encode_request(*proto.FIND_CARD)) + len(proto.encode_request(*proto.SELECT_CARD))
                  + len(proto.encode_request(*proto.READ_BASE))
                  + len(proto.encode_answer(proto.CARD_FOUND, bytes(4))) + len(proto.encode_answer(proto.OK, bytes(8)))
                  + len(proto.encode_answer(proto.OK, encode_base_message(TEST_CITIZENS[0]))))
    wire_s = read_bytes * 10 / BAUD

    def figures(values: list[float]) -> str:
        return (f"p50 {statistics.median(values) * MS:6.1f} ms   p95 {percentile(values, 0.95) * MS:6.1f} ms   "
                f"max {max(values) * MS:6.1f} ms")

    def floor(run: Run) -> str:
        return (f"one bare exchange p50 {statistics.median(run.exchanges) * MS:5.2f} ms   "
                f"p95 {percentile(run.exchanges, 0.95) * MS:5.2f} ms")

    print(f"card placed → identity event, {args.placements} placements on each line, "
          f"poll period {POLL_S * MS:.0f} ms (a card waits for the next 'find card': on average half of it); "
          f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for run in (pty, paced):
        print(f"{run.line}:")
        print(f"  driver's READ event:   {figures(run.latencies)}   | {floor(run)}")
        print(f"  of which reading the found card: {figures(run.work)}")
        print(f"  screens' CardRead:     {figures(run.to_core)}")
        print(f"  port thread's CPU while no card is there: {run.idle_cpu * 100:.1f} % of a core")
    print(f"wire time of find + select + read at 115200 baud: {read_bytes:,} bytes = {wire_s * MS:.0f} ms; "
          f"pty p95 + wire = {(percentile(pty.latencies, 0.95) + wire_s) * MS:.0f} ms")
    p95 = percentile(paced.to_core, 0.95)
    print(f"card placed → CardRead at 115200 baud: p50 {statistics.median(paced.to_core) * MS:.0f} ms, "
          f"p95 {p95 * MS:.0f} ms (goal ≤ {GOAL_P95_S * MS:.0f} ms: {'met' if p95 <= GOAL_P95_S else 'NOT met'}) "
          f"beside one bare exchange on the same line p50 {statistics.median(paced.exchanges) * MS:.2f} ms")


if __name__ == "__main__":
    main()
