"""The line-mode scanner driver against its simulator on a real pseudo-terminal."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.health import HealthState
from drivers.scanner import MAX_LINE, LineSplitter, ScanEvent, ScanEventKind, SerialLineScanner
from drivers.scanner_pty_sim import PtyScannerSimulator
from tests.support import wait_until


def test_scans_arrive_as_codes_and_bad_lines_as_errors(tmp_path: Path) -> None:
    sim = PtyScannerSimulator(tmp_path / "ttySCAN").start()
    scanner = SerialLineScanner(str(sim.port), 9600)
    events: list[ScanEvent] = []
    scanner.open(events.append)
    try:
        wait_until(lambda: scanner.health().state is HealthState.OK)
        sim.scan("https://zwfw.example.gov.cn/r/01KAX3")
        sim.scan("受理编号 01KAX3")
        sim.send_raw("电子证照 GB".encode("gb18030") + b"\n")
        sim.send_raw(b"\xff\xfe\xfa\r\n")  # neither UTF-8 nor GB18030
        sim.send_raw(b"ab\x07cd\r\n")  # a bell in the middle
        sim.send_raw(b"x" * (MAX_LINE + 10) + b"\r\nafter\r\n")
        wait_until(lambda: len(events) == 7, timeout=5)
        assert [(e.kind.value, e.text or e.reason) for e in events] == [
            ("code", "https://zwfw.example.gov.cn/r/01KAX3"),
            ("code", "受理编号 01KAX3"),
            ("code", "电子证照 GB"),
            ("error", "undecodable"),
            ("error", "control_characters"),
            ("error", "line_too_long"),
            ("code", "after"),
        ]
        sim.vanish()
        wait_until(lambda: scanner.health().state is HealthState.ABSENT, timeout=5)
        sim.come_back()
        wait_until(lambda: scanner.health().state is HealthState.OK, timeout=5)
        sim.scan("back again")
        wait_until(lambda: events[-1].text == "back again", timeout=5)
    finally:
        scanner.close()
        sim.stop()


@settings(max_examples=2000, deadline=None, database=None)
@given(st.binary(max_size=5000), st.lists(st.integers(0, 5000), max_size=6))
def test_line_splitter_takes_any_bytes_in_any_pieces(data: bytes, cuts: list[int]) -> None:
    splitter = LineSplitter()
    points = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    events = [e for a, b in itertools.pairwise(points) for e in splitter.feed(data[a:b])]
    for event in events:
        assert event.kind is ScanEventKind.ERROR or (event.text and len(event.text) <= MAX_LINE)
