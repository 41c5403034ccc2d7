"""Hostile bytes for the card-reader parsers:
random and mutated inputs (`tests/fuzzing.py`: 10,000 per test, more on a deep run), and the only
outcomes are frames that check out, `FrameError` / `CardDataError`, or a valid card."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from drivers import idcard_protocol as proto
from drivers.card_reader_pty_sim import TEST_CITIZENS
from drivers.idcard_data import CardDataError, decode_base_message, encode_base_message
from tests.fuzzing import FUZZ, mutated

VALID_ANSWERS = [
    proto.encode_answer(proto.OK, encode_base_message(TEST_CITIZENS[0])),
    proto.encode_answer(proto.CARD_FOUND, b"\x00\x00\x00\x00"),
    proto.encode_answer(proto.NO_CARD),
]


wire_bytes = st.one_of(st.binary(max_size=2048), mutated(VALID_ANSWERS),
                       st.lists(mutated(VALID_ANSWERS), max_size=4).map(b"".join))


@FUZZ
@given(data=wire_bytes, cuts=st.lists(st.integers(0, 3000), max_size=8))
def test_frame_splitter_yields_only_checked_frames(data: bytes, cuts: list[int]) -> None:
    splitter = proto.FrameSplitter(minimum=4)
    points = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    for start, end in itertools.pairwise(points):  # arrives in arbitrary pieces
        frames, errors = splitter.feed(data[start:end])
        assert all(isinstance(e, proto.FrameError) for e in errors)
        for frame in frames:
            answer = proto.decode_answer(frame)  # a frame it yields always decodes
            assert isinstance(answer, proto.Answer)
    assert splitter.pending <= max(len(data), 6)


@FUZZ
@given(data=wire_bytes)
def test_decode_answer_raises_only_frame_errors(data: bytes) -> None:
    try:
        answer = proto.decode_answer(data)
    except proto.FrameError:
        return
    assert proto.encode_answer(answer.status, answer.data, answer.sw1, answer.sw2) == data


@FUZZ
@given(data=st.one_of(st.binary(max_size=1400), mutated([encode_base_message(c) for c in TEST_CITIZENS])))
def test_base_message_decoding_raises_only_card_data_errors(data: bytes) -> None:
    try:
        card = decode_base_message(data)
    except CardDataError:
        return
    assert len(card.id_number) == 18 and card.id_number[6:14] == card.birth_date
    assert card.sex not in ("男", "女") or int(card.id_number[16]) % 2 == (card.sex == "男")
