"""What the fuzz tests share: the example budget and a mutator of valid inputs."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# 10,000 examples per test in the regular suite. Hypothesis's drawing is what costs (3–10 ms an example; the
# parsers take microseconds): at 100,000 the five fuzz tests took 45 of the suite's 73 worker-minutes, at 20,000
# twenty minutes of a 2-core machine's suite went to 12 worker-minutes of fuzzing. FUZZ_EXAMPLES=100000 for a
# deep run (`FUZZ_EXAMPLES=100000 ./dev test tests/test_card_reader_fuzz.py tests/test_printer_fuzz.py`),
# FUZZ_EXAMPLES=2000 for a quick one.
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 10_000)), deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@st.composite
def mutated(draw, originals: list[bytes]) -> bytes:
    """One of `originals` with up to six bytes flipped, runs inserted or deleted, or its tail cut."""
    data = bytearray(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(0, 6))):
        action = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        position = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[position] ^= draw(st.integers(1, 255))
        elif action == "cut":
            del data[position:]
        elif action == "insert":
            data[position:position] = draw(st.binary(max_size=16))
        elif action == "delete" and data:
            del data[position : position + draw(st.integers(1, 16))]
    return bytes(data)
