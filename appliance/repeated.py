"""A problem a broken or hostile sender can repeat without end (a malformed message on a topic anyone in
the fleet's ACL may write): counted every time, logged only the first, so it cannot fill the journal."""

from __future__ import annotations

import logging


class RepeatedProblem:
    def __init__(self, log: logging.Logger, what: str) -> None:
        self._log = log
        self._what = what
        self.count = 0

    def note(self, detail: object) -> None:
        self.count += 1
        if self.count == 1:
            self._log.warning("%s ignored: %s (further ones are only counted)", self._what, detail)
