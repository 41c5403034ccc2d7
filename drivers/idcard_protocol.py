"""The wire protocol of second-generation resident ID card readers (SAM modules), both directions.

Request:  AA AA AA 96 69 | len (2, big-endian) | cmd | para | data | xor
Answer:   AA AA AA 96 69 | len (2, big-endian) | SW1 SW2 SW3 | data | xor
`len` counts every byte after itself, checksum included; the checksum is the XOR of every byte
after the preamble except itself. Shared by the serial driver and its simulator; every byte that
comes from a wire is treated as hostile and turns into a `FrameError`, never anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
MAX_LENGTH = 4096  # the longest real answer (text + photo + fingerprint) is well below this

SAM_STATUS = (0x11, 0xFF)
SAM_ID = (0x12, 0xFF)
FIND_CARD = (0x20, 0x01)
SELECT_CARD = (0x20, 0x02)
READ_BASE = (0x30, 0x01)

OK = 0x90
CARD_FOUND = 0x9F
NO_CARD = 0x80
SELECT_FAILED = 0x81
READ_FAILED = 0x41

STATUS_MEANINGS = {
    0x90: "ok",
    0x9F: "card found",
    0x80: "no card in the field",
    0x81: "card could not be selected",
    0x41: "card could not be read",
    0x10: "checksum error in the request",
    0x11: "length error in the request",
    0x21: "unknown command",
    0x23: "no permission for this command",
    0x24: "cannot recognise the command",
    0x31: "card authentication of the SAM failed",
    0x32: "SAM authentication of the card failed",
    0x33: "information verification failed",
    0x40: "unknown card type",
    0x47: "card operation not allowed",
    0x60: "SAM self-test failed",
    0x66: "SAM is not authorised",
    0x91: "no content for this item",
}


class FrameError(Exception):
    """Bytes from the wire that do not make a valid frame; `code` names the kind of damage."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Answer:
    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @property
    def status(self) -> int:
        return self.sw3

    @property
    def meaning(self) -> str:
        return STATUS_MEANINGS.get(self.sw3, f"unknown status {self.sw1:02X} {self.sw2:02X} {self.sw3:02X}")


@dataclass(frozen=True)
class Request:
    cmd: int
    para: int
    data: bytes = b""


def _xor(data: bytes) -> int:
    return reduce(lambda a, b: a ^ b, data, 0)


def _frame(body: bytes) -> bytes:
    length = (len(body) + 1).to_bytes(2, "big")
    return PREAMBLE + length + body + bytes([_xor(length + body)])


def encode_request(cmd: int, para: int, data: bytes = b"") -> bytes:
    return _frame(bytes([cmd, para]) + data)


def encode_answer(status: int, data: bytes = b"", sw1: int = 0x00, sw2: int = 0x00) -> bytes:
    return _frame(bytes([sw1, sw2, status]) + data)


def check_body(length_bytes: bytes, rest: bytes) -> bytes:
    """Verify the checksum of a frame's `len` field plus the `len` bytes after it; return the body."""
    body, checksum = rest[:-1], rest[-1]
    if _xor(length_bytes + body) != checksum:
        raise FrameError("checksum", "frame checksum does not match")
    return body


def parse_length(length_bytes: bytes, minimum: int) -> int:
    length = int.from_bytes(length_bytes, "big")
    if not minimum <= length <= MAX_LENGTH:
        raise FrameError("length", f"frame length {length} outside {minimum}..{MAX_LENGTH}")
    return length


def decode_answer(frame: bytes) -> Answer:
    """A whole answer frame (preamble included) → `Answer`; `FrameError` on any damage."""
    body = _decode(frame, minimum=4)
    return Answer(body[0], body[1], body[2], body[3:])


def decode_request(frame: bytes) -> Request:
    body = _decode(frame, minimum=3)
    return Request(body[0], body[1], body[2:])


def _decode(frame: bytes, minimum: int) -> bytes:
    if not frame.startswith(PREAMBLE):
        raise FrameError("preamble", "frame does not start with AA AA AA 96 69")
    if len(frame) < len(PREAMBLE) + 2:
        raise FrameError("truncated", "frame ends before its length")
    length_bytes = frame[5:7]
    length = parse_length(length_bytes, minimum)
    rest = frame[7:]
    if len(rest) != length:
        raise FrameError("truncated" if len(rest) < length else "length",
                         f"frame announces {length} bytes after its length, carries {len(rest)}")
    return check_body(length_bytes, rest)


class FrameSplitter:
    """Cuts frames out of a byte stream that may hold garbage, partial frames or several frames.

    Feed it whatever arrived; it returns complete frames (checked) and the damage it skipped.
    Bytes before a preamble are dropped; a frame whose length or checksum is wrong is dropped and
    the search resumes one byte after its preamble, so one bad frame cannot swallow a good one.
    """

    def __init__(self, minimum: int) -> None:
        self._buffer = bytearray()
        self._minimum = minimum

    def feed(self, data: bytes) -> tuple[list[bytes], list[FrameError]]:
        self._buffer += data
        frames: list[bytes] = []
        errors: list[FrameError] = []
        while True:
            start = self._buffer.find(PREAMBLE)
            if start < 0:
                # keep a tail that may be the beginning of a preamble
                keep = next((k for k in range(len(PREAMBLE) - 1, 0, -1) if self._buffer.endswith(PREAMBLE[:k])), 0)
                if len(self._buffer) > keep:
                    errors.append(FrameError("garbage", f"{len(self._buffer) - keep} bytes without a preamble"))
                del self._buffer[: len(self._buffer) - keep]
                return frames, errors
            if start:
                errors.append(FrameError("garbage", f"{start} bytes before a preamble"))
                del self._buffer[:start]
            if len(self._buffer) < 7:
                return frames, errors
            try:
                length = parse_length(bytes(self._buffer[5:7]), self._minimum)
            except FrameError as exc:
                errors.append(exc)
                del self._buffer[:1]
                continue
            if len(self._buffer) < 7 + length:
                return frames, errors
            frame = bytes(self._buffer[: 7 + length])
            try:
                check_body(frame[5:7], frame[7:])
            except FrameError as exc:
                errors.append(exc)
                del self._buffer[:1]
                continue
            frames.append(frame)
            del self._buffer[: 7 + length]

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buffer)

    def clear(self) -> None:
        self._buffer.clear()
