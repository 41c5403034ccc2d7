"""The base of the core's errors that carry a short machine-readable code beside their message."""

from __future__ import annotations


class CodedError(Exception):
    """An error with a `code` (for screens, command results, counters) and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
