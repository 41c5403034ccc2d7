"""What the web layer works with, made once by the composition root (central/cli.py `serve`) and
handed to every route as a FastAPI dependency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from central.assist_desk import AssistDesk
from central.catalogue_names import CatalogueNames
from central.database import Database
from central.fleet import FleetSnapshot
from central.settings import CentralSettings

SendCommand = Callable[[list[str], str, dict[str, Any] | None, float, str, str], dict[str, str]]  # … by, from
Publish = Callable[[str, dict[str, Any]], None]  # (topic, body): a reply to a booth, after the commit


@dataclass(frozen=True)
class WebContext:
    db: Database
    settings: CentralSettings
    names: CatalogueNames
    send_command: SendCommand
    health: Callable[[], dict[str, Any]]  # the intake's health (read from memory, never the database)
    metrics: Callable[[], tuple[bytes, str]]  # Prometheus text and its content type
    fleet: FleetSnapshot  # the overview's rows, read once for every operator asking in the same second
    desk: AssistDesk  # the assist desk's rules (帮办代办)
    publish: Publish  # tells a booth what became of its assist request (the intake's MQTT client)


def context(request: Request) -> WebContext:
    return request.app.state.context
