"""Laying text out on a receipt's fixed column grid, the way a Chinese ESC/POS printer prints it.

In Chinese mode a printer prints every single-byte (ASCII) character half-width (one column, 12
dots in font A) and every multi-byte character full-width (two columns), whatever Unicode calls it:
"·" in 阿依古丽·买买提 takes two columns there. So a character's width here is 1 below U+0080 and
2 otherwise, which is exact for the printer and keeps raster lines on the same grid.

Lines are wrapped without ever splitting a character, runs of ASCII letters and digits (codes,
numbers) are kept whole when they fit on a line, and a line never starts with closing punctuation.
"""

from __future__ import annotations

import re

NO_LINE_START = set("，。、；：？！）】》」』”’%,.;:?!)]")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_./:@]*|.", re.S)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def char_columns(char: str) -> int:
    return 1 if ord(char) < 0x80 else 2


def columns(text: str) -> int:
    return sum(char_columns(c) for c in text)


def clean(text: str) -> str:
    """Text as it may be printed: tabs and newlines become spaces, other control characters go.

    Catalogue text and citizen input reach the printer; an ESC or GS inside them would be a command.
    """
    return _CONTROL.sub("", text.replace("\t", " ").replace("\r\n", " ").replace("\n", " "))


def wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` columns (at least one line, maybe empty)."""
    if width < 2:
        raise ValueError("a line needs at least two columns")
    lines: list[str] = []
    line = ""
    for token in _WORD.findall(clean(text)):
        if columns(line) + columns(token) <= width:
            line += token
            continue
        if len(token) > 1 and columns(token) <= width:  # a whole word moves to the next line
            lines.append(line.rstrip())
            line = token
            continue
        for char in token:  # a single character, or a word longer than a line
            if columns(line) + char_columns(char) > width:
                line = _break(lines, line, char)
            line += char
    lines.append(line.rstrip())
    return lines


def _break(lines: list[str], line: str, next_char: str) -> str:
    """End `line`; returns the start of the next one (which may take the previous character along,
    so that closing punctuation does not open a line)."""
    if next_char in NO_LINE_START and len(line) > 1:
        lines.append(line[:-1])
        return line[-1]
    lines.append(line.rstrip())
    return ""


def pad_to(text: str, width: int, align: str = "left") -> str:
    """`text` (at most `width` columns) padded with spaces to exactly `width` columns."""
    room = width - columns(text)
    if align == "right":
        return " " * room + text
    if align == "center":
        return " " * (room // 2) + text + " " * (room - room // 2)
    return text + " " * room


def key_value(key: str, value: str, width: int) -> list[str]:
    """A key on the left and its value flush right on the last line, wrapped to `width` columns.

    A short value stays beside the (wrapped) key; a value too long for that gets lines of its own,
    right-aligned.
    """
    key, value = clean(key).strip(), clean(value).strip()
    value_width = columns(value)
    if value_width + 2 <= width // 2 or value_width + columns(key) + 1 <= width:
        key_lines = wrap(key, max(2, width - value_width - 1))
        *head, last = key_lines
        return [*head, last + " " * (width - columns(last) - value_width) + value]
    return [*wrap(key, width), *(pad_to(line, width, "right") for line in wrap(value, width))]
