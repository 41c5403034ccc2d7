"""Strict JSON whatever an old row holds: intake refuses NaN, Infinity and lone surrogates now, but a
database recorded before that may still have them, and one such value must not blank a page for every
operator (NaN is not JSON; a lone surrogate cannot be encoded at all)."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.responses import JSONResponse


class ShowableJSON(JSONResponse):
    """The API's answers: strict JSON in UTF-8; an unshowable value becomes null or U+FFFD."""

    def render(self, content: Any) -> bytes:
        try:
            return json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
        except (ValueError, UnicodeEncodeError):
            return json.dumps(_showable(content), ensure_ascii=False, allow_nan=False,
                              separators=(",", ":")).encode()


def _showable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_showable(str(k)): _showable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_showable(v) for v in value]
    return value
