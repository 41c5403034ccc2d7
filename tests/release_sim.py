"""Releases and booths for central's release tests: small synthetic bundles made with the product's own
write_bundle and sign_bundle (wheel-named files of random bytes: a real bundle downloads 45 MB), and a booth's MQTT
side for releases on a plain client (births, heartbeats with an `update` block, chunk requests; the retained offer
and the chunks central sends it)."""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from appliance.contract import (
    MAX_RELEASE_CHUNK,
    encode,
    heartbeat_topic,
    release_chunk_topic,
    release_offer_topic,
    release_request_topic,
    stamped,
    status_topic,
)
from appliance.release.build import sequence_of
from appliance.release.bundle import Manifest, file_entry, sign_bundle, write_bundle
from tests.fleet_sim import FakeBooth
from tests.support import Mosquitto, wait_until

PRODUCT = "wheels/kiosk_appliance-{version}-py3-none-any.whl"
DEPENDENCY = "wheels/paho_mqtt-2.1.0-py3-none-any.whl"


# -- bundles ------------------------------------------------------------------------------------------------
@dataclass
class Bundle:
    path: Path
    version: str
    files: dict[str, bytes]  # name in the bundle → its bytes


def make_bundle(work: Path, version: str, key: Ed25519PrivateKey, sizes: tuple[int, int] = (200_000, 9_000)
                ) -> Bundle:
    """A signed bundle of `version`: the product's wheel and one dependency's, random bytes of `sizes`."""
    folder = work / f"src-{version}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    files = {PRODUCT.format(version=version): os.urandom(sizes[0]), DEPENDENCY: os.urandom(sizes[1])}
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name.split("/")[1]
        paths[name].write_bytes(data)
    manifest = Manifest(version, sequence_of(version), "1.0.0", "aarch64", "cp311", PRODUCT.format(version=version),
                        {name: file_entry(path) for name, path in paths.items()})
    path = folder / f"kiosk-{version}-aarch64.bundle"
    write_bundle(path, manifest, paths)
    sign_bundle(path, key)
    return Bundle(path, version, files)


def public_text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


# -- booths on the wire -------------------------------------------------------------------------------------
class SimBooth:
    """A booth's MQTT side for releases: births and heartbeats as the contract has them, chunk requests, and
    what central sends it (the retained offer, chunks by request id)."""

    def __init__(self, broker: Mosquitto, device: str, region: str, software: str = "1.4.0",
                 site: str | None = None) -> None:
        self.fake = FakeBooth(device, site or f"网点 {device}", region)
        self.device, self.software = device, software
        self.offers: list[dict | None] = []  # None: withdrawn (an empty retained message)
        self.chunks: dict[str, dict] = {}
        self.raw_chunks: list[bytes] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device, protocol=mqtt.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        assert self._ready.wait(10)

    def _on_connect(self, client, _userdata, _flags, _reason, _properties) -> None:
        client.subscribe([(release_offer_topic(self.device), 1), (release_chunk_topic(self.device), 1)])
        self._ready.set()

    def _on_message(self, _client, _userdata, message) -> None:
        if message.topic == release_offer_topic(self.device):
            self.offers.append(json.loads(message.payload) if message.payload else None)
        else:
            self.raw_chunks.append(message.payload)
            body = json.loads(message.payload)
            self.chunks[body["request"]] = body

    @property
    def offer(self) -> dict | None:
        return self.offers[-1] if self.offers else None

    def birth(self, software: str | None = None) -> None:
        """A birth with every fact (the last update block among them), as a booth sends at each connect."""
        self.software = software or self.software
        body = {**json.loads(self.fake.birth()[1]), "software": self.software}
        self.client.publish(status_topic(self.device), encode(body), qos=1, retain=True).wait_for_publish(10)

    def heartbeat(self, update: Any = None, **block: Any) -> None:
        """A heartbeat as FakeBooth makes it, with `update` as given, or made from `block` (state, version …). An
        update block is a rare fact: the heartbeat that carries it carries the others and a new `facts_rev`, as a
        booth's does after they changed."""
        if block:
            update = {"version": None, "reason": None, "fetched": 0, "needed": 0, **block}
        if update is not None:
            self.fake.update = update
            self.fake.facts_rev += 1
        body = json.loads(self.fake.heartbeat()[1])
        if update is not None:
            facts = self.fake.facts()
            body.update(catalog_version=facts["catalog_version"], update=update)
            body["system"]["pi"] = {key: facts["system"]["pi"][key] for key in ("throttling", "filesystem_errors")}
        self.client.publish(heartbeat_topic(self.device), encode(body), qos=0).wait_for_publish(10)

    def ask(self, wait: bool = True, **fields: Any) -> dict | None:
        """A chunk request with `fields` (version, file, offset, length); central's answer."""
        request = fields.pop("request", uuid.uuid4().hex)
        body = stamped(self.device, True, {"request": request, **fields})
        self.client.publish(release_request_topic(self.device), encode(body), qos=1).wait_for_publish(10)
        return wait_until(lambda: self.chunks.get(request), timeout=10) if wait else None

    def fetch(self, version: str, name: str, size: int = MAX_RELEASE_CHUNK) -> bytes:
        """A whole file, chunk after chunk, as a booth resuming from what it has."""
        data = b""
        while True:
            answer = self.ask(version=version, file=name, offset=len(data), length=size)
            assert "error" not in answer, answer
            data += base64.b64decode(answer["data"])
            if len(data) >= answer["total"]:
                return data

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
