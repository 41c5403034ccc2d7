"""Catalogue updates over MQTT: only a catalogue signed with the configured key replaces the one in
use; everything else is refused, alerted, and changes nothing. The search index built with a catalogue
travels signed beside it and is installed with it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from appliance.catalog import search_data
from appliance.catalog.holder import CatalogHolder, read_catalog
from appliance.catalog.model import bundled_text, parse_catalog
from appliance.catalog.search import SearchIndex
from appliance.catalog.signing import generate_key, load_private_key, load_public_key, sign
from appliance.catalog.updates import CatalogUpdates
from appliance.contract import catalog_topic
from appliance.state.store import Store
from tests.support import wait_until


def _catalog(version: str, drop: int = 0, sequence: int = 2) -> bytes:
    """The bundled catalogue (sequence 1) as a publisher's later one: `drop` items fewer."""
    data = json.loads(bundled_text())
    data["version"], data["sequence"] = version, sequence
    data["items"] = data["items"][drop:]
    dropped = {item["code"] for item in json.loads(bundled_text())["items"][:drop]}
    data["faq"] = [entry for entry in data["faq"] if entry["item"] not in dropped]
    data["bundles"] = [b for b in data["bundles"] if not dropped & set(b["items"])]
    return json.dumps(data, ensure_ascii=False).encode()


def _alerts(collector) -> list[dict]:
    return [e["payload"] for e in collector.events("alert")]


def test_only_a_catalogue_signed_with_the_configured_key_is_used(broker, collector, make_kiosk) -> None:
    pem, public = generate_key()
    key = load_private_key(pem)
    kiosk = make_kiosk(broker.port, catalog={"public_key": public})
    wait_until(lambda: kiosk.link.connected)
    topic = catalog_topic(kiosk.config.device.region)
    original = kiosk.catalog.version

    def publish(payload: bytes) -> None:
        collector.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)

    forged = json.loads(sign(_catalog("forged-1", drop=5), "forged-1", key))
    forged["signature"] = ""
    publish(json.dumps(forged).encode())
    collector.wait_for(lambda c: any(a["details"].get("reason") == "unsigned" for a in _alerts(c)))

    other_pem, _ = generate_key()
    publish(sign(_catalog("forged-2", drop=5), "forged-2", load_private_key(other_pem)))
    collector.wait_for(lambda c: any(a["details"].get("reason") == "bad_signature" for a in _alerts(c)))

    tampered = json.loads(sign(_catalog("2026.12-1"), "2026.12-1", key))
    tampered["catalog"] = json.loads(sign(_catalog("2026.12-1", drop=1), "x", key))["catalog"]
    publish(json.dumps(tampered).encode())
    collector.wait_for(lambda c: sum(a["code"] == "catalog_rejected" for a in _alerts(c)) == 3)

    publish(sign(b'{"version": "broken", "items": []}', "broken", key))
    collector.wait_for(lambda c: any(a["code"] == "catalog_invalid" for a in _alerts(c)))
    assert kiosk.catalog.version == original, "nothing refused may change the catalogue in use"
    assert not kiosk.config.catalog_file.exists()

    publish(sign(_catalog("2026.12-1", drop=1), "2026.12-1", key))
    wait_until(lambda: kiosk.catalog.version == "2026.12-1", timeout=10)
    assert len(kiosk.catalog.current.items) == 120
    assert json.loads(kiosk.config.catalog_file.read_text(encoding="utf-8"))["version"] == "2026.12-1"
    kiosk.stop()

    again = make_kiosk(broker.port, catalog={"public_key": public})
    assert again.catalog.version == "2026.12-1", "the installed catalogue survives a restart"
    collector.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)  # clear the retained message


def test_an_older_or_conflicting_catalogue_is_refused_and_stays_refused_after_a_restart(
        broker, collector, make_kiosk, tmp_path) -> None:
    """A replayed message from last year, or another catalogue under a sequence already installed, is
    refused with an alert naming it; the highest sequence installed survives a restart; the same message
    again (the retained one at a reconnect) changes nothing and raises nothing; a newer one installs."""
    pem, public = generate_key()
    key = load_private_key(pem)
    state = tmp_path / "booth"
    kiosk = make_kiosk(broker.port, storage=state, catalog={"public_key": public})
    wait_until(lambda: kiosk.link.connected)
    topic = catalog_topic(kiosk.config.device.region)

    def publish(payload: bytes) -> None:
        collector.client.publish(topic, payload, qos=1, retain=True).wait_for_publish(5)

    def refusals(reason: str) -> list[dict]:
        return [a for a in _alerts(collector) if a["code"] == "catalog_rejected" and a["details"]["reason"] == reason]

    publish(sign(_catalog("2026.12-1", drop=1, sequence=3), "2026.12-1", key))
    wait_until(lambda: kiosk.catalog.version == "2026.12-1", timeout=10)
    kiosk.stop()

    again = make_kiosk(broker.port, storage=state, catalog={"public_key": public})  # the retained one again
    wait_until(lambda: again.link.connected)
    publish(sign(_catalog("2026.10-1", drop=2, sequence=2), "2026.10-1", key))  # last month's, replayed
    collector.wait_for(lambda c: refusals("replayed"), timeout=10)
    assert "2026.10-1 (sequence 2)" in refusals("replayed")[0]["message"]
    publish(sign(_catalog("2026.12-x", drop=3, sequence=3), "2026.12-x", key))  # same sequence, other content
    collector.wait_for(lambda c: refusals("conflict"), timeout=10)
    publish(sign(b"{" + b" " * (3 * 1024 * 1024) + b"}", "huge", key))
    collector.wait_for(lambda c: refusals("oversized"), timeout=10)
    assert again.catalog.version == "2026.12-1" and len(again.catalog.current.items) == 120, "nothing refused is used"
    assert json.loads(again.config.catalog_file.read_text(encoding="utf-8"))["version"] == "2026.12-1"
    assert len(refusals("replayed")) == len(refusals("conflict")) == 1, "the retained repeat raised nothing"

    publish(sign(_catalog("2027.01-1", drop=0, sequence=4), "2027.01-1", key))  # a deliberate return: newer
    wait_until(lambda: again.catalog.version == "2027.01-1", timeout=10)
    assert len(again.catalog.current.items) == 121
    collector.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)  # clear the retained message


def _index_of(text: bytes) -> bytes:
    return search_data.data_json(search_data.build(parse_catalog(json.loads(text)), text))


def test_the_search_index_travels_signed_beside_the_catalogue(tmp_path: Path) -> None:
    """A message with the index installs both files and search uses the shipped index; a booth whose
    software predates the index still finds the catalogue's signature over the catalogue's bytes alone; an
    index whose signature does not check refuses the whole message, and its signature does not pass for a
    catalogue's; a signed index of other bytes is left out (the booth builds its own)."""
    pem, public = generate_key()
    key = load_private_key(pem)
    holder = CatalogHolder(tmp_path / "catalog.json")
    holder.load()
    alerts: list[tuple] = []
    updates = CatalogUpdates(holder, load_public_key(public), lambda *a, **kw: alerts.append((a, kw)),
                             lambda event: None, Store(tmp_path / "state.sqlite3"))
    index = tmp_path / "catalog.search.json"

    text = _catalog("2026.12-1", drop=1)
    message = sign(text, "2026.12-1", key, _index_of(text))
    opened = json.loads(message)
    load_public_key(public).verify(base64.b64decode(opened["signature"]), base64.b64decode(opened["catalog"]))
    forged = dict(opened, search=base64.b64encode(_index_of(_catalog("x", drop=2))).decode())
    updates.receive("t", json.dumps(forged).encode())
    assert alerts[-1][1] == {"reason": "bad_signature"} and holder.version == "2026.11-1" and not index.exists()
    posing = dict(opened, catalog=opened["search"], signature=opened["search_signature"])
    updates.receive("t", json.dumps(posing).encode())
    assert alerts[-1][1] == {"reason": "bad_signature"} and len(alerts) == 2

    updates.receive("t", message)
    assert holder.version == "2026.12-1" and index.read_bytes() == _index_of(text)
    assert search_data.attached(holder.current) is not None
    assert search_data.attached(read_catalog(tmp_path / "catalog.json")) is not None, "and again after a restart"

    other = _catalog("2027.01-1", sequence=3)
    updates.receive("t", sign(other, "2027.01-1", key, _index_of(text)))  # signed, but built from other bytes
    assert holder.version == "2027.01-1" and not index.exists() and len(alerts) == 2
    assert search_data.attached(holder.current) is None
    assert SearchIndex(holder.current).search("社保卡丢了")[0].code == "RS-002", "search built its own"
