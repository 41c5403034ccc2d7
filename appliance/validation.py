"""pydantic's validation errors in words for the person who wrote the values, written once for the
booth's config, the catalogue, central's settings and `kiosk provision init`: each names the place its
own way (a config key, an item by its code, a flag, a question), the rest of the line is the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

UNKNOWN_SETTING = "is not a known setting"
MISSING = "is missing (required)"


@dataclass(frozen=True)
class Problem:
    """One thing pydantic refused: where (`loc`), pydantic's kind of error, the value found, and what is
    allowed in pydantic's words without its "Value error, " prefix (a validator's own sentence reads
    as written)."""

    loc: tuple[str | int, ...]
    kind: str
    value: Any
    message: str

    @property
    def key(self) -> str:
        return ".".join(str(part) for part in self.loc)

    def describe(self, key: str | None = None, unknown: str = UNKNOWN_SETTING, missing: str = MISSING) -> str:
        """`key = value: what is allowed`; a missing or unknown key, or a whole section, without a value."""
        key = key if key is not None else self.key or "(top level)"
        if self.kind == "missing":
            return f"{key} {missing}"
        if self.kind == "extra_forbidden":
            return f"{key} {unknown}"
        if isinstance(self.value, dict):  # a section's own check (e.g. two LEDs on one pin): its values are many
            return f"{key}: {self.message}"
        return f"{key} = {self.value!r}: {self.message}"


def problems(exc: ValidationError) -> list[Problem]:
    """Every error pydantic found, in the order it found them."""
    return [Problem(tuple(error["loc"]), error["type"], error.get("input"), error["msg"].removeprefix("Value error, "))
            for error in exc.errors()]


def listed(exc: ValidationError, unknown: str = UNKNOWN_SETTING) -> str:
    """Every problem on a line of its own, as the config and central's settings show them."""
    return "\n".join(f"  - {problem.describe(unknown=unknown)}" for problem in problems(exc))
