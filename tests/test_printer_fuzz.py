"""Hostile bytes for the printer's parsers:
random and mutated inputs (`tests/fuzzing.py`: 10,000 per test, more on a deep run; the status parser's short
answers a fifth of that, beside every single-byte answer tried). The status parser gives a status or
`StatusByteError`, nothing else; the simulator's ESC/POS decoder always makes progress and never raises, however
the stream is cut up."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.escpos_decoder import EscposDecoder
from drivers.escpos_encoder import EncoderSettings, ReceiptEncoder
from drivers.escpos_status import QUERIES, PrinterStatus, StatusByteError, is_end_of_job
from drivers.health import Health
from drivers.printer_pty_sim import PrinterState
from tests.fuzzing import FUZZ, mutated
from tests.test_printer import receipt_document

STATES = [PrinterState(), PrinterState(paper_near_end=True), PrinterState(paper_end=True, paper_near_end=True),
          PrinterState(cover_open=True), PrinterState(cutter_error=True)]
VALID_ANSWERS = [b"".join(state.answer(n) for n in QUERIES) for state in STATES]
answers = st.one_of(st.binary(min_size=0, max_size=8), mutated(VALID_ANSWERS))


def test_every_single_byte_answer_to_each_query_is_a_status_or_a_status_byte_error() -> None:
    """Exhaustively where the space is small: each of the 256 bytes as the answer to each query, the others valid;
    a status byte has four fixed bits, so 16 of them are statuses."""
    valid = {n: bytes([VALID_ANSWERS[0][i]]) for i, n in enumerate(QUERIES)}
    for n in QUERIES:
        assert sum(check_status_parts({**valid, n: bytes([byte])}) for byte in range(256)) == 16


# Its inputs are at most 12 bytes in 4 parts, and every single-byte answer is tried above: a fifth of the budget.
@settings(FUZZ, max_examples=max(1, FUZZ.max_examples // 5))
@given(data=answers, split=st.lists(st.integers(0, 3), min_size=4, max_size=4))
def test_status_parser_gives_a_status_or_a_status_byte_error(data: bytes, split: list[int]) -> None:
    parts, rest = {}, data
    for n, size in zip(QUERIES, split, strict=True):  # answers of any length, including none
        parts[n], rest = rest[:size], rest[size:]
    check_status_parts(parts)


def check_status_parts(parts: dict[int, bytes]) -> bool:
    """A status (True), or `StatusByteError` (False) when some answer is not one status byte."""
    try:
        status = PrinterStatus.from_bytes(parts)
    except StatusByteError:
        assert any(len(p) != 1 or p[0] & 0x93 != 0x12 for p in parts.values())
        return False
    assert isinstance(status.health(), Health)
    assert all(len(p) == 1 for p in parts.values())
    assert is_end_of_job(parts[1]) is False, "a status byte is never taken for the end of a job"
    return True


RECEIPTS = [ReceiptEncoder(EncoderSettings(width, font, qr)).encode(receipt_document())
            for width, font, qr in [(80, True, True), (58, True, True), (80, True, False)]]


@FUZZ
@given(data=st.one_of(st.binary(max_size=4096), mutated(RECEIPTS)), cuts=st.lists(st.integers(0, 5000), max_size=8))
def test_decoder_always_makes_progress_and_never_raises(data: bytes, cuts: list[int]) -> None:
    decoder = EscposDecoder()
    points = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    for start, end in itertools.pairwise(points):
        decoder.feed(data[start:end])
        before = decoder.pending
        while (op := decoder.next_op()) is not None:
            assert decoder.pending < before, f"{op} consumed nothing"
            before = decoder.pending
    assert decoder.pending <= len(data)
