"""The product's paho client reads a plain PUBACK its own cheaper way: what its callback is told must be
exactly what paho's own decoding tells it, for every PUBACK a broker may send."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from appliance.delivery.mqtt_client import Client

MID = 5
PUBACKS = [
    b"\x00\x05",  # accepted, reason code left out
    b"\x00\x05\x00",  # accepted
    b"\x00\x05\x10",  # accepted, no subscriber
    b"\x00\x05\x87",  # not authorized
    b"\x00\x05\x97",  # quota exceeded
    b"\x00\x05\x00\x00",  # accepted, empty properties
    b"\x00\x05\x80\x05\x1f\x00\x02no",  # refused with a reason string
    b"\x00\x06\x10",  # a message id the client does not hold
]


def told(client_class: type[mqtt.Client], packet: bytes) -> tuple:
    """What on_publish hears, and what the client keeps, when `packet` arrives as a PUBACK."""
    client = client_class(CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv5)
    heard = []
    client.on_publish = lambda _c, _u, mid, reason, properties: heard.append(
        (mid, reason.value, str(reason), properties.json()))
    message = mqtt.MQTTMessage(MID, b"kiosk/v1/t/events/rating")
    message.qos, message.info = 1, mqtt.MQTTMessageInfo(MID)
    client._out_messages[MID] = message
    client._inflight_messages = 1
    client._in_packet = {"command": 0x40, "packet": bytearray(packet), "remaining_length": len(packet)}
    rc = client._handle_pubackcomp("PUBACK")
    return rc, heard, MID in client._out_messages, client._inflight_messages, message.info.is_published()


@pytest.mark.parametrize("packet", PUBACKS)
def test_a_puback_is_heard_as_paho_hears_it(packet: bytes) -> None:
    assert told(Client, packet) == told(mqtt.Client, packet)
