"""Receipt numbers a person can use (appliance/receipt_numbers.py): the Damm check digit catches every single
wrong digit and every swap of neighbours (proved on the table, and tried exhaustively on numbers); the booth's
daily sequence is unique, survives restarts and SIGKILLs at any moment (a number is never given twice, never
lost to a filing that did not happen, and every number a citizen was given is in the outbox), and goes on
wherever the clock goes."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from appliance.config import ConfigError, parse_config
from appliance.contract import EventKind
from appliance.delivery.outbox import Outbox
from appliance.receipt_numbers import _DAMM as TABLE
from appliance.receipt_numbers import (
    MAX_SEQUENCE,
    NumbersUsedUp,
    booth_of,
    check_digit,
    grouped,
    holder_digest,
    made_up_code,
    make,
    normalise,
    valid,
)
from appliance.state.receipt_sequence import ReceiptSequence, SequenceMoved
from appliance.state.sealing import Sealer, load_or_create_key
from appliance.state.store import Store
from tests.support import kiosk_config, kiosk_config_data, write_toml

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2026, 11, 23)


# -- the check digit ----------------------------------------------------------------------------------------
def test_the_damm_table_is_a_totally_anti_symmetric_quasigroup_with_a_zero_diagonal() -> None:
    """What makes Damm catch every single error and every adjacent transposition, for numbers of any length:
    each row and column a permutation (a changed digit always changes the interim digit), a zero diagonal
    (a correct number checks to 0), and weak total anti-symmetry (c∗x∗y ≠ c∗y∗x for x ≠ y)."""
    digits = set(range(10))
    assert all(set(row) == digits for row in TABLE)
    assert all({TABLE[r][c] for r in range(10)} == digits for c in range(10))
    assert all(TABLE[d][d] == 0 for d in range(10))
    assert all(TABLE[TABLE[c][x]][y] != TABLE[TABLE[c][y]][x]
               for c in range(10) for x in range(10) for y in range(10) if x != y)


def _errors(number: str):
    """Every number one wrong digit, or one swap of unequal neighbours, away from `number`."""
    for at in range(len(number)):
        for digit in "0123456789":
            if digit != number[at]:
                yield number[:at] + digit + number[at + 1:]
    for at in range(len(number) - 1):
        if number[at] != number[at + 1]:
            yield number[:at] + number[at + 1] + number[at] + number[at + 2:]


def test_every_single_error_and_adjacent_swap_is_caught_on_numbers() -> None:
    """Exhaustively on every 4-digit body, on one booth's whole day (all 9,999 numbers) and on 3,000 random
    numbers: each of the 144 single-digit errors and 15 neighbour swaps of a 16-digit number fails."""
    rng = random.Random(18)
    samples = [body + check_digit(body) for body in (f"{n:04d}" for n in range(10_000))]
    samples += [make("01234", DAY, sequence) for sequence in range(1, MAX_SEQUENCE + 1)]
    samples += [make(f"{rng.randrange(1, 90_000):05d}", DAY + timedelta(days=rng.randrange(36_000)),
                     rng.randrange(1, MAX_SEQUENCE + 1)) for _ in range(3_000)]
    tried = 0
    for number in samples:
        assert check_digit(number) == "0", number
        for wrong in _errors(number):
            assert check_digit(wrong) != "0", (number, wrong)
            tried += 1
    assert tried > 2_000_000
    assert valid(make("01234", DAY, 7)) and not any(valid(w) for w in _errors(make("01234", DAY, 7)))


def test_luhn_would_miss_09_90_which_damm_catches() -> None:
    def luhn_ok(number: str) -> bool:
        total = 0
        for at, char in enumerate(reversed(number)):
            digit = int(char) * (2 if at % 2 else 1)
            total += digit - 9 if digit > 9 else digit
        return total % 10 == 0

    body = "2611230123409000"
    with_luhn = next(body[:-1] + d for d in "0123456789" if luhn_ok(body[:-1] + d))
    swapped = with_luhn.replace("090", "900", 1)
    assert swapped != with_luhn and luhn_ok(swapped), "Luhn takes 09↔90 for right"
    assert check_digit(body[:-1] + "09" + "0") != check_digit(body[:-1] + "90" + "0")


def test_the_number_reads_as_day_booth_sequence_and_check() -> None:
    number = make("01234", DAY, 7)
    assert number.startswith("261123" + "01234" + "0007") and len(number) == 16 and number.isdigit()
    assert booth_of(number) == "01234" and valid(number)
    assert grouped(number) == f"{number[:4]} {number[4:8]} {number[8:12]} {number[12:]}"
    assert normalise(f" {grouped(number)} ") == number and normalise("2611-2301-2340-0073") == "2611230123400073"
    for bad in (number[:-1], number + "0", number[:-1] + "x", "", "0" * 15 + "a"):
        assert not valid(bad)
    for bad_code, sequence in (("1234", 1), ("01234", 0), ("01234", MAX_SEQUENCE + 1), ("0123a", 1)):
        with pytest.raises(ValueError):
            make(bad_code, DAY, sequence)
    assert 90_000 <= int(made_up_code("test-kiosk-0001")) <= 99_999
    assert made_up_code("test-kiosk-0001") == made_up_code("test-kiosk-0001") != made_up_code("test-kiosk-0002")


def test_the_holder_digest_needs_its_key() -> None:
    key, other = b"k" * 32, b"o" * 32
    assert holder_digest(key, "37020319900101302x") == holder_digest(key, " 37020319900101302X ")
    assert holder_digest(key, "37020319900101302X") != holder_digest(other, "37020319900101302X")
    assert len(holder_digest(key, "1")) == 64 and "37020319900101302X" not in holder_digest(key, "37020319900101302X")


def test_the_booth_code_is_checked_in_the_config(tmp_path: Path) -> None:
    data = kiosk_config_data(tmp_path / "state", 1883)
    assert parse_config(data).device.booth_code is None
    assert parse_config({**data, "device": {**data["device"], "booth_code": "01234"}}).device.booth_code == "01234"
    for bad in ("1234", "00000", "90001", "0123a", 1234):
        with pytest.raises(ConfigError) as refused:
            parse_config({**data, "device": {**data["device"], "booth_code": bad}})
        assert "device.booth_code" in str(refused.value) and "00001–89999" in str(refused.value)


# -- the booth's daily sequence ----------------------------------------------------------------------------
class Booth:
    """A state database, its outbox and the receipt sequence, as the kiosk wires them."""

    def __init__(self, state: Path, today=lambda: DAY) -> None:
        self.store = Store(state / "outbox.sqlite3")
        self.outbox = Outbox(self.store, Sealer(load_or_create_key(state / "device.key")),
                             kiosk_config(state, 1).outbox, boot=1, clock_synced=lambda: True)
        self.sequence = ReceiptSequence(self.store, "01234", today)

    def file(self) -> str:
        return self.sequence.issue(lambda number, commit: (
            self.outbox.enqueue(EventKind.SUBMISSION, {"item": "RS-002", "number": number}, also=commit), number))[1]

    def numbers_held(self) -> list[str]:
        return [json.loads(p.envelope)["payload"]["number"] for p in self.outbox.take(100_000)]

    def close(self) -> None:
        self.store.close()


def test_numbers_are_unique_and_continue_after_a_restart(tmp_path: Path) -> None:
    booth = Booth(tmp_path)
    first = [booth.file() for _ in range(50)]
    booth.close()
    booth = Booth(tmp_path)  # a restart
    second = [booth.file() for _ in range(50)]
    numbers = first + second
    assert len(set(numbers)) == 100 and all(valid(n) for n in numbers)
    assert [int(n[11:15]) for n in numbers] == list(range(1, 101)), "one sequence, no gap, across the restart"
    assert sorted(booth.numbers_held()) == sorted(numbers), "each number is in the event it was given to"


def test_a_filing_that_fails_gives_its_number_to_the_next(tmp_path: Path) -> None:
    booth = Booth(tmp_path)
    given = booth.file()

    def fail(number: str, commit):
        booth.outbox.enqueue(EventKind.SUBMISSION, {"item": "RS-002", "number": number},
                             also=lambda conn: (commit(conn), 1 / 0))

    with pytest.raises(ZeroDivisionError):
        booth.sequence.issue(fail)
    after = booth.file()
    assert int(after[11:15]) == int(given[11:15]) + 1, "the failed filing took no number"
    assert booth.numbers_held() == [given, after], "and left no event"

    def moved(number: str, commit):  # the counter moved under the filing: nothing is filed
        with booth.store.transaction() as conn:
            conn.execute("UPDATE receipt_days SET last = last + 5")
        booth.outbox.enqueue(EventKind.SUBMISSION, {"item": "RS-002", "number": number}, also=commit)

    with pytest.raises(SequenceMoved):
        booth.sequence.issue(moved)
    assert len(booth.numbers_held()) == 0  # (taken above) and nothing new


def test_each_day_has_its_own_sequence_and_the_clock_going_back_reuses_none(tmp_path: Path) -> None:
    days = iter([DAY, DAY, DAY + timedelta(days=1), DAY, DAY - timedelta(days=400), DAY + timedelta(days=1)])
    booth = Booth(tmp_path, today=lambda: next(days))
    numbers = [booth.file() for _ in range(6)]
    assert len(set(numbers)) == 6
    assert [(n[:6], n[11:15]) for n in numbers] == [
        ("261123", "0001"), ("261123", "0002"), ("261124", "0001"), ("261123", "0003"), ("251019", "0001"),
        ("261124", "0002")], "a day's sequence goes on from where it stopped, whichever day the clock says"


def test_the_ten_thousandth_filing_of_a_day_is_refused_and_the_next_day_goes_on(tmp_path: Path) -> None:
    today = [DAY]
    booth = Booth(tmp_path, today=lambda: today[0])
    booth.file()
    with booth.store.transaction() as conn:
        conn.execute("UPDATE receipt_days SET last = ?", (MAX_SEQUENCE - 1,))
    last = booth.file()
    assert last[11:15] == "9999"
    with pytest.raises(NumbersUsedUp):
        booth.file()
    today[0] = DAY + timedelta(days=1)
    assert booth.file()[11:15] == "0001"


def test_a_citizen_is_told_in_words_when_the_days_numbers_are_gone(make_kiosk) -> None:
    from appliance.services.errors import CitizenError
    from tests.support import free_port, place_card

    kiosk = make_kiosk(free_port())
    place_card(kiosk)
    first = kiosk.submit_application("RS-002", {"reason": "遗失", "phone": "13800000000"})
    with kiosk.store.transaction() as conn:
        conn.execute("UPDATE receipt_days SET last = ?", (MAX_SEQUENCE,))
    with pytest.raises(CitizenError) as refused:
        kiosk.submit_application("RS-002", {"reason": "遗失", "phone": "13800000000"})
    assert refused.value.code == "numbers_used_up" and valid(first.number)
    assert sum(p.kind == "submission" for p in kiosk.outbox.take(100)) == 1, "nothing filed without a number"


KILLS = 30


def test_sigkills_at_random_moments_never_give_a_number_twice_nor_lose_one(tmp_path: Path) -> None:
    """The booth process filing numbered submissions is SIGKILLed 30 times at random moments: every number it
    reported (what a citizen would hold on paper) is in an event in the outbox, no number is in two events, and
    the day's counter stands exactly at the highest number filed — none given without its event, none skipped."""
    config = write_toml(tmp_path / "kiosk.toml",
                        kiosk_config_data(tmp_path / "state", 1, device={"booth_code": "01234"}))
    rng = random.Random(20261123)
    promised: dict[str, str] = {}
    for _ in range(KILLS):
        worker = subprocess.Popen([sys.executable, "-m", "tests.receipt_worker", str(config)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert worker.stdout.readline().strip() == "READY"
        time.sleep(rng.uniform(0.0, 0.4))
        worker.kill()
        out, _ = worker.communicate()
        for line in out.splitlines():
            if line.startswith("ACK "):
                _, number, event = line.split()
                assert number not in promised, f"{number} promised twice"
                promised[number] = event
    assert len(promised) > KILLS * 5, "the workers hardly filed anything; the test would prove little"

    store = Store(tmp_path / "state" / "outbox.sqlite3")
    outbox = Outbox(store, Sealer(load_or_create_key(tmp_path / "state" / "device.key")),
                    kiosk_config(tmp_path / "state", 1).outbox, boot=1, clock_synced=lambda: True)
    held = {json.loads(p.envelope)["payload"]["number"]: p.id for p in outbox.take(1_000_000)}
    with store.read() as conn:
        counters = dict(conn.execute("SELECT day, last FROM receipt_days").fetchall())
    store.close()
    assert all(held.get(number) == event for number, event in promised.items()), "a promised number is missing"
    by_day: dict[str, list[int]] = {}
    for number in held:
        by_day.setdefault(number[:6], []).append(int(number[11:15]))
    for day, sequences in by_day.items():
        key = f"20{day[:2]}-{day[2:4]}-{day[4:]}"
        assert sorted(sequences) == list(range(1, counters[key] + 1)), "no gap, no number beyond the counter"
    print(f"{KILLS} SIGKILLs: {len(promised)} numbers promised, {len(held)} filed, all unique and contiguous")
