"""The printer simulator's reading of an ESC/POS byte stream: commands and text, one at a time.

Written from the command reference, not from our encoder, so that it checks the encoder's bytes:
text in Chinese mode is GB18030 (2-byte codes print; a 4-byte code is flagged, as a real printer's
2-byte font would print garbage for it), outside it bytes above 0x7F are code page 437. Anything it
does not know is reported as `Unknown` and skipped by one byte, never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass

ESC, GS, FS, DLE, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x0A


@dataclass(frozen=True)
class Op:
    """One decoded command. `name` says which; `args` holds its parameters."""

    name: str
    args: tuple = ()


class EscposDecoder:
    """Feed bytes as they arrive; `next_op()` returns the next complete command or None."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.chinese_mode = False

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def take_realtime_queries(self) -> list[int]:
        """Pull `DLE EOT n` out of the not yet processed bytes: a printer answers those at once even
        while it is stopped (paper out, cover open) and everything else waits."""
        found = []
        index = self._buffer.find(b"\x10\x04")
        while index >= 0 and index + 2 < len(self._buffer):
            found.append(self._buffer[index + 2])
            del self._buffer[index:index + 3]
            index = self._buffer.find(b"\x10\x04", index)
        return found

    def next_op(self) -> Op | None:
        buf = self._buffer
        if not buf:
            return None
        first = buf[0]
        if first == LF:
            return self._take(1, Op("line_feed"))
        if first == ESC:
            return self._esc()
        if first == GS:
            return self._gs()
        if first == FS:
            return self._fs()
        if first == DLE:
            if len(buf) < 3:
                return None
            if buf[1] == 0x04:
                return self._take(3, Op("status_query", (buf[2],)))
            return self._take(1, Op("unknown", (bytes(buf[:1]),)))
        if first < 0x20 or first == 0x7F:
            return self._take(1, Op("unknown", (bytes(buf[:1]),)))
        return self._text()

    # -- commands ---------------------------------------------------------------------------------------
    def _esc(self) -> Op | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        code = buf[1]
        if code == ord("@"):
            self.chinese_mode = False
            return self._take(2, Op("init"))
        one_arg = {ord("a"): "align", ord("E"): "bold", ord("d"): "feed", ord("!"): "print_mode",
                   ord("-"): "underline", ord("3"): "line_spacing", ord("M"): "font", ord("J"): "feed_dots",
                   ord("t"): "code_table"}
        if code in one_arg:
            if len(buf) < 3:
                return None
            return self._take(3, Op(one_arg[code], (buf[2],)))
        if code == ord("2"):
            return self._take(2, Op("line_spacing", (None,)))
        return self._take(1, Op("unknown", (bytes(buf[:2]),)))

    def _gs(self) -> Op | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        code = buf[1]
        if code == ord("!"):
            if len(buf) < 3:
                return None
            return self._take(3, Op("size", ((buf[2] >> 4) + 1, (buf[2] & 0x0F) + 1)))
        if code == ord("r"):
            if len(buf) < 3:
                return None
            return self._take(3, Op("end_of_job_query", (buf[2],)))
        if code == ord("V"):
            if len(buf) < 3:
                return None
            if buf[2] in (65, 66):  # cut after feeding n
                return None if len(buf) < 4 else self._take(4, Op("cut", (buf[3],)))
            return self._take(3, Op("cut", (0,)))
        if code == ord("v"):
            return self._raster()
        if code == ord("(") and len(buf) >= 3 and buf[2] == ord("k"):
            return self._two_d_code()
        return self._take(1, Op("unknown", (bytes(buf[:2]),)))

    def _fs(self) -> Op | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        if buf[1] == ord("&"):
            self.chinese_mode = True
            return self._take(2, Op("chinese_mode", (True,)))
        if buf[1] == ord("."):
            self.chinese_mode = False
            return self._take(2, Op("chinese_mode", (False,)))
        return self._take(1, Op("unknown", (bytes(buf[:2]),)))

    def _raster(self) -> Op | None:
        """GS v 0 m xL xH yL yH data: a raster bit image, x bytes wide and y dots high."""
        buf = self._buffer
        if len(buf) < 8:
            return None
        if buf[2] != ord("0"):
            return self._take(1, Op("unknown", (bytes(buf[:3]),)))
        width_bytes = buf[4] | buf[5] << 8
        height = buf[6] | buf[7] << 8
        size = width_bytes * height
        if len(buf) < 8 + size:
            return None
        return self._take(8 + size, Op("raster", (width_bytes, height, bytes(buf[8:8 + size]))))

    def _two_d_code(self) -> Op | None:
        """GS ( k pL pH cn fn [m] data: QR settings, storing the data, and printing it."""
        buf = self._buffer
        if len(buf) < 5:
            return None
        length = buf[3] | buf[4] << 8
        if len(buf) < 5 + length:
            return None
        body = bytes(buf[5:5 + length])
        self._take(5 + length, None)
        if len(body) < 2 or body[0] != ord("1"):
            return Op("unknown", (b"\x1d(k" + body[:4],))
        fn, rest = body[1], body[2:]
        names = {ord("A"): "qr_model", ord("C"): "qr_module", ord("E"): "qr_error_level"}
        if fn in names and rest:
            return Op(names[fn], (rest[0],))
        if fn == ord("P") and rest[:1] == b"0":
            return Op("qr_store", (rest[1:],))
        if fn == ord("Q"):
            return Op("qr_print")
        return Op("unknown", (b"\x1d(k" + body[:4],))

    # -- text -------------------------------------------------------------------------------------------
    def _text(self) -> Op | None:
        """A run of printable characters up to the next control byte; an incomplete multi-byte code
        at the end waits for more bytes."""
        buf = self._buffer
        chars: list[str] = []
        unprintable = 0
        index = 0
        while index < len(buf) and buf[index] >= 0x20 and buf[index] != 0x7F:
            byte = buf[index]
            if byte < 0x80 or not self.chinese_mode:
                chars.append(bytes((byte,)).decode("cp437"))
                index += 1
                continue
            code = _gb18030_code(buf, index)
            if code is None:
                break  # incomplete: wait
            char, length = code
            if length == 4:
                unprintable += 1
            chars.append(char)
            index += length
        if index == 0:
            return None if len(buf) < 4 else self._take(1, Op("unknown", (bytes(buf[:1]),)))
        return self._take(index, Op("text", ("".join(chars), unprintable)))

    def _take(self, count: int, op: Op | None) -> Op | None:
        del self._buffer[:count]
        return op


def _gb18030_code(buf: bytearray, index: int) -> tuple[str, int] | None:
    """The character at `index` and its length in bytes; None if the code is still incomplete.
    A byte that starts no valid code decodes as U+FFFD, one byte long."""
    lead = buf[index]
    if not 0x81 <= lead <= 0xFE or index + 1 >= len(buf):
        return (("\ufffd", 1) if not 0x81 <= lead <= 0xFE else None)
    second = buf[index + 1]
    length = 4 if 0x30 <= second <= 0x39 else 2
    if index + length > len(buf):
        return None
    try:
        return bytes(buf[index:index + length]).decode("gb18030"), length
    except UnicodeDecodeError:
        return "\ufffd", 1
