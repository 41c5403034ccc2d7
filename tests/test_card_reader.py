"""The serial card-reader driver against its simulator on a real pseudo-terminal."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.card_reader import CardEvent
from drivers.card_reader_pty_sim import TEST_CITIZENS, PtyCardReaderSimulator
from drivers.card_reader_serial import SerialCardReader
from drivers.health import HealthState
from drivers.idcard_data import decode_base_message, encode_base_message
from tests.support import wait_until


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[PtyCardReaderSimulator, SerialCardReader, list[CardEvent]]]:
    sim = PtyCardReaderSimulator(tmp_path / "ttyIDCARD").start()
    reader = SerialCardReader(str(sim.port), 115200)
    events: list[CardEvent] = []
    reader.open(events.append)
    wait_until(lambda: reader.health().state is HealthState.OK, timeout=5)
    yield sim, reader, events
    reader.close()
    sim.stop()


def kinds(events: list[CardEvent]) -> list[str]:
    return [e.kind.value for e in events]


def test_a_card_is_read_once_per_placement(rig) -> None:
    sim, reader, events = rig
    sim.place(TEST_CITIZENS[1])
    wait_until(lambda: kinds(events) == ["read"], timeout=5)
    assert events[0].card == TEST_CITIZENS[1]
    assert events[0].card.valid_until == "长期"
    requests = sim.requests
    wait_until(lambda: sim.requests > requests + 4, timeout=5)  # it keeps polling …
    assert kinds(events) == ["read"]  # … but does not read the same placement again
    sim.remove()
    wait_until(lambda: kinds(events) == ["read", "removed"], timeout=5)
    sim.place(TEST_CITIZENS[2])
    wait_until(lambda: kinds(events) == ["read", "removed", "read"], timeout=5)
    assert events[2].card.nation == "维吾尔" and events[2].card.name == "阿依古丽·买买提"
    assert reader.self_test().startswith("SAM 0501")
    assert "欧阳" not in repr(events[2].card) and TEST_CITIZENS[2].id_number not in repr(events)


def test_garbage_on_the_line_is_skipped(rig) -> None:
    sim, reader, events = rig
    sim.send_garbage(b"\x00\xff\xaa\xaa\x13\x37" * 50 + b"\xaa\xaa\xaa\x96\x69\xff\xff")
    sim.place(TEST_CITIZENS[0])
    wait_until(lambda: kinds(events) == ["read"], timeout=5)
    assert reader.health().state is HealthState.OK


def test_silence_is_a_fault_and_recovery_is_noticed(rig) -> None:
    sim, reader, events = rig
    sim.silent = True
    wait_until(lambda: reader.health().reason == "no_answer", timeout=10)
    assert reader.health().state is HealthState.FAULT
    sim.silent = False
    wait_until(lambda: reader.health().state is HealthState.OK, timeout=5)
    sim.place(TEST_CITIZENS[0])
    wait_until(lambda: kinds(events) == ["read"], timeout=5)


def test_an_answer_cut_off_mid_frame_is_retried(rig) -> None:
    sim, _reader, events = rig
    sim.cut_next_answer = True
    sim.place(TEST_CITIZENS[0])
    wait_until(lambda: kinds(events) == ["read"], timeout=10)


def test_the_adapter_vanishes_and_comes_back(rig) -> None:
    sim, reader, events = rig
    sim.vanish()
    wait_until(lambda: reader.health().state is HealthState.ABSENT, timeout=5)
    assert reader.health().reason in ("port_lost", "port_missing")
    sim.come_back()
    wait_until(lambda: reader.health().state is HealthState.OK, timeout=10)
    sim.place(TEST_CITIZENS[0])
    wait_until(lambda: kinds(events) == ["read"], timeout=5)


def test_a_card_with_a_wrong_check_digit_is_an_error_event_not_a_citizen(rig) -> None:
    sim, _reader, events = rig
    good = TEST_CITIZENS[0]
    wrong = "0" if good.id_number[-1] != "0" else "1"
    sim.place(dataclasses.replace(good, id_number=good.id_number[:17] + wrong))
    wait_until(lambda: kinds(events) == ["error"], timeout=10)
    assert events[0].reason == "id_checksum" and events[0].card is None
    sim.remove()
    wait_until(lambda: kinds(events) == ["error", "removed"], timeout=5)


def test_a_card_whose_sex_digit_disagrees_with_its_sex_is_an_error_event_not_a_citizen(rig) -> None:
    sim, _reader, events = rig

    def events_become(expected: list[str], timeout: float = 10) -> None:
        wait_until(lambda: kinds(events) == expected, timeout=timeout)

    for n, good in enumerate(TEST_CITIZENS[:2]):  # a woman (even 17th digit) and a man (odd)
        before = ["error", "removed", "read", "removed"] * n
        sim.place(dataclasses.replace(good, sex="男" if good.sex == "女" else "女"))
        events_become([*before, "error"])
        assert events[-1].reason == "id_sex" and events[-1].card is None
        sim.remove()
        events_become([*before, "error", "removed"])
        sim.place(good)  # the same card with its true sex is read
        events_become([*before, "error", "removed", "read"])
        assert events[-1].card == good
        sim.remove()
        events_become([*before, "error", "removed", "read", "removed"])


def test_every_test_citizen_is_a_consistent_card() -> None:
    for citizen in TEST_CITIZENS:
        assert decode_base_message(encode_base_message(citizen)) == citizen
        assert int(citizen.id_number[16]) % 2 == (1 if citizen.sex == "男" else 0)


def test_a_missing_port_is_absent_not_a_crash(tmp_path: Path) -> None:
    reader = SerialCardReader(str(tmp_path / "no-such-tty"))
    reader.open(lambda event: None)
    try:
        wait_until(lambda: reader.health().reason == "port_missing", timeout=5)
        assert reader.health().state is HealthState.ABSENT
    finally:
        reader.close()
