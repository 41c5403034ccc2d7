"""The core's error conventions: errors that carry a short machine-readable code, and how a command-line
tool ends on a mistake its operator can fix (one line, exit status 2, never a traceback)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

OPERATOR_ERROR = 2  # the exit status of every `kiosk` subcommand refused for something its operator can fix

Command = Callable[[argparse.Namespace], int]
ErrorKinds = tuple[type[BaseException], ...]


class CodedError(Exception):
    """An error with a `code` (for screens, command results, counters) and a message for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def operator_error(prefix: str, problem: object, stream: TextIO | None = None) -> int:
    """Say what the operator must fix in one line (`prefix: problem`) and give the exit status for it, so
    every subcommand refuses the same way. stderr unless told otherwise."""
    print(f"{prefix}: {problem}", file=stream if stream is not None else sys.stderr)
    return OPERATOR_ERROR


def friendly(prefix: str, kinds: ErrorKinds | Callable[[], ErrorKinds]) -> Callable[[Command], Command]:
    """Wrap a subcommand so that the errors in `kinds` end in `operator_error` instead of a traceback.
    `kinds` may be a function returning them, for errors whose modules need an optional extra and are
    imported only when the subcommand runs."""

    def wrap(command: Command) -> Command:
        def run(args: argparse.Namespace) -> int:
            caught = kinds() if callable(kinds) else kinds
            try:
                return command(args)
            except caught as exc:
                return operator_error(prefix, exc)

        run.__name__ = getattr(command, "__name__", "run")
        run.__doc__ = command.__doc__
        return run

    return wrap
