"""Writing the device config as TOML (tables of scalars, nested tables), atomically and with its mode
(`appliance.files.write_atomically`): a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from appliance.files import write_atomically


def toml_text(data: dict[str, dict[str, Any]]) -> str:
    lines: list[str] = []

    def scalar(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string is a JSON string

    def table(name: str, values: dict[str, Any]) -> None:
        lines.append(f"[{name}]")
        nested = {}
        for key, value in values.items():
            if isinstance(value, dict):
                nested[key] = value
            elif value is not None:
                lines.append(f"{key} = {scalar(value)}")
        lines.append("")
        for key, value in nested.items():
            table(f"{name}.{key}", value)

    for name, values in data.items():
        table(name, values)
    return "\n".join(lines)


def write_toml(path: Path, data: dict, mode: int = 0o644) -> Path:
    return write_atomically(path, toml_text(data).encode("utf-8"), mode)
