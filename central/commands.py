"""Remote commands to one booth or a group: recorded before they are sent, answered by `cmd-result`.

Each device gets its own request id (`{batch}-{device}`), so a group send is one batch whose results
arrive one by one. A command expires: the broker drops it when its message expiry passes (a booth
offline all that time never sees it) and the booth refuses it after `expires`.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from appliance.contract import COMMAND_NAMES, QOS_COMMANDS, command_topic, encode, iso
from central import audit
from central.database import Database


class CommandError(ValueError):
    """A command central will not send; the message says what is allowed."""


def send_commands(client: mqtt.Client, db: Database, targets: list[str], name: str,
                  args: dict[str, Any] | None = None, expires_in_s: float = 600,
                  sent_by: str | None = None, address: str = "") -> dict[str, str]:
    """Send `name` to each device in `targets` on behalf of `sent_by` (an operator, `shell:LOGIN`, or
    central itself when None), asking from `address`; each command is recorded and audited in one
    transaction before it is published. Returns device → request id."""
    if name not in COMMAND_NAMES:
        raise CommandError(f"unknown command {name!r}; commands are: {', '.join(COMMAND_NAMES)}")
    if not targets:
        raise CommandError("no device to send to")
    if not 1 <= expires_in_s <= 7 * 86_400:
        raise CommandError("a command must expire between 1 second and 7 days from now")
    batch, now = secrets.token_hex(6), time.time()
    sent = {device: f"{batch}-{device}"[:64] for device in targets}
    with db.transaction() as conn:
        for device, request_id in sent.items():
            db.add_command(conn, request_id, batch, device, name, args or {}, now, now + expires_in_s, sent_by)
            audit.record(conn, sent_by or audit.SYSTEM, "command", device, address=address, at=now,
                         details={"name": name, "args": args or {}, "id": request_id})
    properties = Properties(PacketTypes.PUBLISH)
    properties.MessageExpiryInterval = int(expires_in_s)
    for device, request_id in sent.items():
        body: dict[str, Any] = {"id": request_id, "expires": iso(now + expires_in_s)}
        if args:
            body["args"] = args
        client.publish(command_topic(device, name), encode(body), qos=QOS_COMMANDS, properties=properties)
    return sent
