"""The booth's release fetcher (appliance/release/fetch.py) against a real Mosquitto broker, with small
synthetic signed bundles (wheel-named files of random bytes; a real bundle is 45 MB).

The test plays central's part on the broker: it publishes the retained offer and answers chunk requests
from the bundle's tar members (`Central` below). Central's own chunk server is tested in central's
tests, and the two together end to end later. Time is an injected clock the test advances: pacing and
timeouts are asserted on it, never on the wall clock."""

from __future__ import annotations

import base64
import json
import logging
import random
import tarfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft202012Validator
from paho.mqtt.enums import CallbackAPIVersion

from appliance.catalog.signing import public_key_text
from appliance.config import UpdatesSection
from appliance.contract import MAX_RELEASE_CHUNK, QOS_RELEASE, encode, now_iso, release_chunk_topic, release_offer_topic
from appliance.release.bundle import MANIFEST, SIGNATURE, Manifest, file_entry, sign_bundle, write_bundle
from appliance.release.fetch import ReleaseFetcher
from tests.support import Mosquitto, wait_until

DEVICE = "test-kiosk-0001"
PRODUCT = "wheels/kiosk_appliance-{}-py3-none-any.whl"
DEPENDENCIES = {"wheels/kivy-2.3.1-cp311-cp311-manylinux_2_17_aarch64.whl": 50_000,
                "wheels/paho_mqtt-2.1.0-py3-none-any.whl": 30_000,
                "wheels/pydantic_core-2.27.2-cp311-cp311-manylinux_2_17_aarch64.whl": 40_000,
                "wheels/six-1.17.0-py2.py3-none-any.whl": 100}
RATE = 16 * 1024  # bytes a second in most tests: one 16 KiB chunk per second
ASYNCAPI = yaml.safe_load((Path(__file__).resolve().parent.parent / "docs" / "asyncapi.yaml").read_text())


def schema(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": ASYNCAPI["components"]})


# -- bundles -------------------------------------------------------------------------------------------------
@dataclass
class Release:
    version: str
    sequence: int
    manifest_bytes: bytes
    signature: str
    files: dict[str, bytes]  # what the bundle's tar members hold

    @property
    def product(self) -> str:
        return PRODUCT.format(self.version)

    def offer(self, **changes: object) -> bytes:
        body = {"ts": now_iso(), "rollout": 1, "version": self.version, "sequence": self.sequence,
                "manifest": base64.b64encode(self.manifest_bytes).decode(), "signature": self.signature, **changes}
        return json.dumps(body).encode()


def make_release(directory: Path, key: Ed25519PrivateKey, version: str, sequence: int, product_size: int = 70_000,
                 platform: str = "aarch64", seed: int = 0) -> Release:
    """A signed bundle of wheel-named random files: the product's (its bytes depend on `seed` and the
    version) and the same dependencies in every release."""
    work = directory / f"build-{version}-{platform}-{seed}"
    (work / "wheels").mkdir(parents=True)
    sizes = {**DEPENDENCIES, PRODUCT.format(version): product_size}
    paths = {}
    for name, size in sizes.items():
        rng = random.Random(f"{name}-{seed if name.startswith('wheels/kiosk_') else 0}")
        paths[name] = work / name
        paths[name].write_bytes(rng.randbytes(size))
    manifest = Manifest(version, sequence, "0.0.0", platform, "cp311", PRODUCT.format(version),
                        {name: file_entry(path) for name, path in paths.items()})
    bundle = work / f"kiosk-{version}.bundle"
    write_bundle(bundle, manifest, paths)
    sign_bundle(bundle, key)
    with tarfile.open(bundle) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    return Release(version, sequence, members.pop(MANIFEST), members.pop(SIGNATURE).decode().strip(), members)


# -- central's part, played by the test ------------------------------------------------------------------
Replies = Callable[[dict, dict], list[dict]]  # (request, the right chunk) -> what central sends instead


class Central:
    """A TEST STAND-IN for central's release server: publishes offers (retained) and answers every chunk
    request from the bundles it was given; `replies` may change or withhold an answer."""

    def __init__(self, broker: Mosquitto) -> None:
        self.releases: dict[str, Release] = {}
        self.requests: list[dict] = []
        self.replies: Replies = lambda request, right: [right]
        self._lock = threading.Lock()
        self._client = _client(broker, "kiosk/v1/+/release/request", self._on_request)

    def publish_offer(self, payload: bytes) -> None:
        self._client.publish(release_offer_topic(DEVICE), payload, qos=1, retain=True).wait_for_publish(5)

    def offer(self, release: Release) -> None:
        self.releases[release.version] = release
        self.publish_offer(release.offer())

    def send_chunk(self, payload: bytes) -> None:
        self._client.publish(release_chunk_topic(DEVICE), payload, qos=QOS_RELEASE).wait_for_publish(5)

    def asked(self, name: str) -> list[dict]:
        with self._lock:
            return [request for request in self.requests if request["file"] == name]

    def _on_request(self, message: mqtt.MQTTMessage) -> None:
        request = json.loads(message.payload)
        with self._lock:
            self.requests.append(request)
        data = self.releases[request["version"]].files[request["file"]]
        right = {"ts": now_iso(), "request": request["request"], "version": request["version"],
                 "file": request["file"], "offset": request["offset"], "total": len(data),
                 "data": base64.b64encode(data[request["offset"]:request["offset"] + request["length"]]).decode()}
        schema("ReleaseChunk").validate(right)
        for reply in self.replies(request, right):
            self._client.publish(release_chunk_topic(request["device"]), encode(reply), qos=QOS_RELEASE)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def _client(broker: Mosquitto, topic: str, on_message: Callable[[mqtt.MQTTMessage], None]) -> mqtt.Client:
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, userdata, flags, reason, props: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *args: subscribed.set()
    client.on_message = lambda c, userdata, message: on_message(message)
    client.connect("127.0.0.1", broker.port, 30)
    client.loop_start()
    if not subscribed.wait(10):
        raise AssertionError(f"could not subscribe to {topic} on the test broker")
    return client


# -- the booth's part ------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Booth:
    """A fetcher behind its own MQTT client, routed as the kiosk's link and inbox will route it: the
    offer and chunk topics to `offer()` and `chunk()`; `tick()` is the core ticker's."""

    def __init__(self, broker: Mosquitto, where: Path, clock: Clock, rate: int = RATE, installed: int = 0,
                 key: Ed25519PrivateKey | None = None, **options) -> None:
        self.clock, self.busy, self.installs = clock, False, 0
        self.sent: list[tuple[float, dict]] = []  # (injected time, request) for every request published
        self.staging = where / "state" / "updates"
        key_file = where / "release.pub"
        if key is not None:
            key_file.write_text(f"public key for the booths:\n{public_key_text(key.public_key())}\n")
        updates = UpdatesSection(release_root=where / "opt", public_key_file=key_file, max_bytes_per_s=rate)
        self.fetcher = ReleaseFetcher(DEVICE, updates, self.staging, self._publish, lambda: installed,
                                      lambda: self.busy, self._install, clock=clock, machine="aarch64", **options)
        self._client = _client(broker, "kiosk/v1/+/release/#", self._route)

    def _route(self, message: mqtt.MQTTMessage) -> None:
        if message.topic == release_offer_topic(DEVICE):
            self.fetcher.offer(message.payload)
        elif message.topic == release_chunk_topic(DEVICE):
            self.fetcher.chunk(message.payload)

    def _publish(self, topic: str, payload: bytes, qos: int) -> None:
        self.sent.append((self.clock(), json.loads(payload)))
        self._client.publish(topic, payload, qos=qos)

    def _install(self) -> None:
        self.installs += 1

    def state(self) -> dict:
        """The heartbeat's `update` block, checked against the contract every time it is read."""
        block = self.fetcher.state()
        schema("UpdateReport").validate(block)
        return block

    def wait_for(self, state: str, reason: str = "", version: str | None = None) -> dict:
        """Wait for the offer just published to be judged (it arrives on paho's thread)."""

        def judged() -> dict | None:
            now = self.state()
            return now if (now["state"] == state and (now["reason"] or "").startswith(reason)
                           and version in (None, now["version"])) else None

        return wait_until(judged, 5)

    def step(self, seconds: float = 1.0, settle: bool = True) -> None:
        """One pass of the ticker, `seconds` later, and (`settle`) the chunks it asked for answered."""
        self.clock.now += seconds
        self.fetcher.tick()
        if settle:
            wait_until(lambda: not self.fetcher.waiting, timeout=5, interval=0.002)

    def fetched_all(self) -> bool:
        return self.state()["state"] in ("staged", "installing")

    def run(self, until: Callable[[], object], seconds: float = 1.0, most: int = 200) -> None:
        for _ in range(most):
            if until():
                return
            self.step(seconds)
        raise AssertionError(f"not done after {most} passes: {self.state()}")

    def staged(self, version: str) -> dict[str, bytes]:
        wheels = self.staging / version / "wheels"
        return {f"wheels/{path.name}": path.read_bytes() for path in sorted(wheels.iterdir())}

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def central(broker: Mosquitto):
    stand_in = Central(broker)
    yield stand_in
    stand_in.close()


@pytest.fixture
def booth(broker: Mosquitto, tmp_path: Path, key: Ed25519PrivateKey):
    made: list[Booth] = []

    def make(**options) -> Booth:
        made.append(Booth(broker, tmp_path, Clock(), key=options.pop("key", key), **options))
        return made[-1]

    yield make
    for each in made:
        each.close()


def _index(booth: Booth, release: Release) -> None:
    """What the root-side installer leaves after installing `release`: its wheels in the booth's store."""
    store = booth.staging.parents[1] / "opt" / "wheels"
    store.mkdir(parents=True, exist_ok=True)
    for name, data in release.files.items():
        (store / name.removeprefix("wheels/")).write_bytes(data)
    index = {name.removeprefix("wheels/"): json.loads(release.manifest_bytes)["files"][name]["sha256"]
             for name in release.files}
    (store / "index.json").write_text(json.dumps(index))


# -- what travels -------------------------------------------------------------------------------------
def test_only_missing_wheels_travel_and_the_staged_files_are_the_bundles(booth, central, key, tmp_path) -> None:
    """A first release fetches every wheel; the next one, differing only in the product's wheel, moves that
    wheel alone (here 70 kB of 190 kB; a real release: the product's wheel of a 45 MB bundle)."""
    first = make_release(tmp_path, key, "1.0.0", 1_000_000)
    kiosk = booth()
    central.offer(first)
    assert kiosk.wait_for("downloading")["version"] == "1.0.0"
    kiosk.run(kiosk.fetched_all)
    assert kiosk.staged("1.0.0") == first.files
    for request in central.requests:
        schema("ReleaseChunkRequest").validate(request)
    schema("ReleaseOffer").validate(json.loads(first.offer()))  # the stand-in speaks central's contract
    assert kiosk.state()["needed"] == kiosk.state()["fetched"] == sum(map(len, first.files.values()))
    staging = kiosk.staging / "1.0.0"
    assert (staging / "manifest.json").read_bytes() == first.manifest_bytes
    assert (staging / "manifest.sig").read_text() == first.signature + "\n"
    assert json.loads((staging / "staged.json").read_text()) == {"version": "1.0.0", "sequence": 1_000_000}

    assert kiosk.installs == 1
    kiosk.close()

    _index(kiosk, first)  # the root side installed 1.0.0, keeps its wheels by hash and restarted the kiosk
    second = make_release(tmp_path, key, "1.0.1", 1_000_001, seed=1)
    central.requests.clear()
    central.offer(second)
    updated = booth(installed=1_000_000)
    updated.wait_for("downloading")
    updated.run(updated.fetched_all)
    assert updated.staged("1.0.1") == {second.product: second.files[second.product]}
    assert updated.state()["needed"] == len(second.files[second.product]) == 70_000
    assert {request["file"] for request in central.requests} == {second.product}
    assert [path.name for path in updated.staging.iterdir()] == ["1.0.1"], "one version staged at a time"
    assert updated.installs == 1


def test_a_second_fetcher_resumes_from_the_part_file_after_a_stop(booth, central, key, tmp_path) -> None:
    """The kiosk stopped (or the power cut) in the middle of a file: the next fetcher over the same
    staging directory asks from the .part file's size, refetches nothing complete, and ends right."""
    release = make_release(tmp_path, key, "1.1.0", 1_001_000)
    first = booth()
    central.offer(release)
    first.wait_for("downloading")

    def part_file() -> Path | None:
        parts = [p for p in (first.staging / "1.1.0" / "wheels").glob("*.part") if p.stat().st_size >= 2 * RATE]
        return parts[0] if parts else None

    first.run(part_file)
    part = part_file()
    name, size = f"wheels/{part.name.removesuffix('.part')}", part.stat().st_size
    done_before = {f"wheels/{p.name}" for p in part.parent.glob("*.whl")}
    first.close()  # nothing of the first instance runs on
    central.requests.clear()

    second = booth()
    second.wait_for("downloading")  # the retained offer
    second.run(second.fetched_all)
    assert central.asked(name)[0]["offset"] == size > 0
    assert not done_before & {request["file"] for request in central.requests}
    assert second.staged("1.1.0") == release.files


def test_pacing_holds_the_rate_bound(booth, central, key, tmp_path) -> None:
    """At 200 KiB/s, three 64 KiB chunks go per second (the next asked for as the last arrives), and over
    any span of injected time no more than the rate times the span plus one second's burst was asked for."""
    rate = 200 * 1024
    release = make_release(tmp_path, key, "1.2.0", 1_002_000, product_size=900_000)
    kiosk = booth(rate=rate)
    central.offer(release)
    kiosk.wait_for("downloading")
    kiosk.run(kiosk.fetched_all, seconds=0.25)
    assert kiosk.staged("1.2.0") == release.files
    sent = [(at, request["length"]) for at, request in kiosk.sent]
    assert max(length for _, length in sent) == MAX_RELEASE_CHUNK
    for i, (start, _) in enumerate(sent):
        for j in range(i, len(sent)):
            asked = sum(length for _, length in sent[i:j + 1])
            assert asked <= rate * (sent[j][0] - start) + rate, f"requests {i}..{j} asked {asked} bytes"
    total = sum(length for _, length in sent)
    assert total == sum(map(len, release.files.values())) == kiosk.state()["needed"]
    span = sent[-1][0] - sent[0][0]
    assert (total - rate) / rate <= span <= total / rate + 2, "paced to the bound, not far below it"


def test_nothing_is_fetched_while_a_citizen_is_busy(booth, central, key, tmp_path) -> None:
    release = make_release(tmp_path, key, "1.3.0", 1_003_000)
    kiosk = booth()
    central.offer(release)
    kiosk.wait_for("downloading")
    kiosk.run(lambda: kiosk.state()["fetched"] >= 2 * RATE)
    kiosk.busy = True
    kiosk.step()  # the ticker learns it
    asked, fetched = len(central.requests), kiosk.state()["fetched"]
    for _ in range(20):
        kiosk.step()
    assert (len(central.requests), kiosk.state()["fetched"]) == (asked, fetched)
    assert kiosk.state()["state"] == "downloading"
    kiosk.busy = False
    kiosk.run(kiosk.fetched_all)
    assert kiosk.staged("1.3.0") == release.files


# -- what goes wrong on the way ---------------------------------------------------------------------------
def test_a_corrupted_chunk_means_the_file_is_fetched_again(booth, central, key, tmp_path) -> None:
    release = make_release(tmp_path, key, "1.4.0", 1_004_000)
    flipped: list[dict] = []

    def corrupt_once(request: dict, right: dict) -> list[dict]:
        if request["file"] == release.product and not flipped:
            data = bytearray(base64.b64decode(right["data"]))
            data[7] ^= 0xFF
            flipped.append(request)
            return [{**right, "data": base64.b64encode(bytes(data)).decode()}]
        return [right]

    central.replies = corrupt_once
    kiosk = booth()
    central.offer(release)
    kiosk.wait_for("downloading")
    kiosk.run(kiosk.fetched_all)
    assert flipped
    assert kiosk.fetcher.counters()["hash_failures"] == 1
    assert [r["offset"] for r in central.asked(release.product)].count(0) == 2, "fetched again from the start"
    assert kiosk.staged("1.4.0") == release.files


def test_a_file_that_never_arrives_right_is_given_up_after_three_tries(booth, central, key, tmp_path) -> None:
    release = make_release(tmp_path, key, "1.4.1", 1_004_001)
    bad = "wheels/six-1.17.0-py2.py3-none-any.whl"
    central.replies = lambda request, right: [{**right, "data": base64.b64encode(b"x" * 100).decode()}
                                              if request["file"] == bad else right]
    kiosk = booth()
    central.offer(release)
    kiosk.wait_for("downloading")
    kiosk.run(lambda: kiosk.state()["state"] == "refused")
    assert kiosk.state()["reason"].startswith(f"hash_mismatch: {bad}")
    assert kiosk.fetcher.counters()["hash_failures"] == 3
    for _ in range(5):
        kiosk.step()
    assert len(central.asked(bad)) == 3 and kiosk.installs == 0


def test_unanswered_mismatched_and_refused_requests(booth, central, key, tmp_path) -> None:
    """An unanswered request is asked again after the timeout (a new request id, the same offset); chunks
    that answer something else are ignored and counted; central's error waits a timeout, then retries."""
    release = make_release(tmp_path, key, "1.5.0", 1_005_000)
    script: dict[int, Callable[[dict, dict], list[dict]]] = {
        1: lambda request, right: [],  # lost
        2: lambda request, right: [{**right, "offset": right["offset"] + 1}, {**right, "file": release.product},
                                   {**right, "request": "0" * 16}, {**right, "version": "9.9.9"}, right],
        3: lambda request, right: [{key_: right[key_] for key_ in ("ts", "request", "version", "file")}
                                   | {"error": "unavailable: central cannot read its copy"}],
    }
    central.replies = lambda request, right: script.get(len(central.requests), lambda r, ok: [ok])(request, right)
    kiosk = booth(chunk_timeout_s=10.0)
    central.offer(release)
    kiosk.wait_for("downloading")
    kiosk.clock.now += 1
    kiosk.fetcher.tick()
    wait_until(lambda: len(central.requests) == 1)
    for _ in range(9):
        kiosk.step(settle=False)
        assert len(central.requests) == 1, "no second request before the timeout"
    kiosk.step()  # 10 s: asked again
    first, again = central.requests[0], central.requests[1]
    assert (again["file"], again["offset"]) == (first["file"], first["offset"]) and again["request"] != first["request"]
    wait_until(lambda: kiosk.fetcher.counters()["chunks_mismatched"] == 4)
    central.send_chunk(b"{not json")
    central.send_chunk(json.dumps({"request": 1}).encode())
    wait_until(lambda: kiosk.fetcher.counters()["chunks_malformed"] == 2)
    assert kiosk.fetcher.counters()["timeouts"] == 1
    kiosk.step()  # the third request: central cannot serve it
    wait_until(lambda: kiosk.fetcher.counters()["chunk_errors"] == 1)
    assert kiosk.state()["reason"] == "central: unavailable: central cannot read its copy"
    for _ in range(9):
        kiosk.step()
    assert len(central.requests) == 3, "after central's error, the next request waits a timeout"
    kiosk.run(kiosk.fetched_all)
    assert kiosk.state()["reason"] is None
    assert kiosk.staged("1.5.0") == release.files


# -- offers refused, each beside the one accepted -------------------------------------------------------------
def test_an_offer_signed_with_a_foreign_key_is_refused(booth, central, key, tmp_path) -> None:
    forged = make_release(tmp_path, Ed25519PrivateKey.generate(), "2.0.0", 2_000_000, seed=9)
    kiosk = booth()
    central.offer(forged)
    state = kiosk.wait_for("refused", "bad_signature")
    assert state["version"] == "2.0.0"
    kiosk.step()
    assert central.requests == []
    assert not kiosk.staging.exists() or not any(kiosk.staging.iterdir())
    central.offer(make_release(tmp_path, key, "2.0.0", 2_000_000))
    assert kiosk.wait_for("downloading")["reason"] is None


def test_an_offer_without_a_configured_key_is_refused(booth, central, key, tmp_path) -> None:
    release = make_release(tmp_path, key, "2.0.1", 2_000_001)
    central.offer(release)
    keyless = booth(key=None)
    assert "no release key" in keyless.wait_for("refused", "no_key")["reason"]
    keyless.close()
    assert booth().wait_for("downloading")["version"] == "2.0.1"


def test_an_older_sequence_is_refused_and_the_installed_one_is_nothing_to_do(booth, central, key, tmp_path) -> None:
    """Nothing signed is replayed backwards: the installed release is 2.1.0 (sequence 2_001_000). Its own
    offer, still retained after the install (or after it rolled back), is nothing to fetch, not a refusal."""
    kiosk = booth(installed=2_001_000)
    central.offer(make_release(tmp_path, key, "2.0.9", 2_000_009))
    assert "not newer" in kiosk.wait_for("refused", "not_newer", "2.0.9")["reason"]
    central.offer(make_release(tmp_path, key, "2.1.0", 2_001_000))
    assert kiosk.wait_for("idle")["reason"] is None
    central.offer(make_release(tmp_path, key, "2.1.1", 2_001_001))
    assert kiosk.wait_for("downloading")["version"] == "2.1.1"


def test_an_offer_for_another_platform_is_refused(booth, central, key, tmp_path) -> None:
    kiosk = booth()
    central.offer(make_release(tmp_path, key, "2.2.0", 2_002_000, platform="x86_64"))
    assert "x86_64" in kiosk.wait_for("refused", "platform")["reason"]
    central.offer(make_release(tmp_path, key, "2.2.0", 2_002_000))
    kiosk.wait_for("downloading")


def test_malformed_offers_are_refused_and_logged_once(booth, central, key, tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="kiosk.release")
    release = make_release(tmp_path, key, "2.3.0", 2_003_000)
    kiosk = booth()
    signed = json.loads(release.offer())
    malformed = [b"not json", b"[1, 2]", json.dumps({**signed, "sequence": "2003000"}).encode(),
                 json.dumps({k: v for k, v in signed.items() if k != "manifest"}).encode(),
                 json.dumps({**signed, "version": "2.3"}).encode(),
                 json.dumps({**signed, "manifest": "not base64!"}).encode(),
                 json.dumps({**signed, "padding": "x" * (1024 * 1024)}).encode()]
    for count, payload in enumerate(malformed, start=1):
        central.publish_offer(payload)
        wait_until(lambda n=count: kiosk.fetcher.counters()["offers_refused"] == n)
        assert kiosk.state()["state"] == "refused" and kiosk.state()["reason"].startswith("malformed")
    central.publish_offer(release.offer(manifest=base64.b64encode(b"{}").decode()))
    kiosk.wait_for("refused", "bad_signature")
    central.publish_offer(release.offer(sequence=2_003_001))
    kiosk.wait_for("refused", "mismatch")
    central.offer(release)
    kiosk.wait_for("downloading")
    logged = [r.getMessage() for r in caplog.records if "release offer" in r.getMessage()]
    assert len([m for m in logged if "(malformed)" in m]) == 1, "one kind, one log line"
    assert not any(release.signature in r.getMessage() or "x" * 100 in r.getMessage() for r in caplog.records)


def test_a_release_that_does_not_fit_on_disk_is_refused(booth, central, key, tmp_path) -> None:
    release = make_release(tmp_path, key, "2.4.0", 2_004_000)
    central.offer(release)
    tight = booth(space_margin_bytes=1 << 60)
    tight.wait_for("downloading")
    tight.step()
    assert tight.state()["state"] == "refused" and tight.state()["reason"].startswith("no_space")
    assert central.requests == []
    tight.close()
    roomy = booth()
    roomy.wait_for("downloading")
    roomy.run(roomy.fetched_all)


# -- the end of a fetch -------------------------------------------------------------------------------------
def test_a_withdrawn_offer_stops_the_fetch_and_removes_the_staging(booth, central, key, tmp_path) -> None:
    release = make_release(tmp_path, key, "3.0.0", 3_000_000)
    kiosk = booth()
    central.offer(release)
    kiosk.wait_for("downloading")
    kiosk.run(lambda: kiosk.state()["fetched"] >= 2 * RATE)
    assert (kiosk.staging / "3.0.0" / "manifest.json").exists()
    asked = len(central.requests)
    central.publish_offer(b"")
    kiosk.wait_for("idle")
    kiosk.step()
    assert list(kiosk.staging.iterdir()) == []
    for _ in range(3):
        kiosk.step()
    assert len(central.requests) == asked
    assert kiosk.state() == {"state": "idle", "version": None, "reason": None, "fetched": 0, "needed": 0}


def test_the_install_is_asked_for_once_when_staged_and_no_citizen_is_busy(booth, central, key, tmp_path) -> None:
    release = make_release(tmp_path, key, "3.1.0", 3_001_000)
    kiosk = booth()
    central.offer(release)
    kiosk.wait_for("downloading")
    kiosk.run(lambda: kiosk.state()["fetched"] == kiosk.state()["needed"] > 0)  # the last file is finished next pass
    kiosk.busy = True
    for _ in range(3):
        kiosk.step()
    assert kiosk.installs == 0 and kiosk.state()["state"] == "staged"
    kiosk.busy = False
    kiosk.step()
    assert kiosk.installs == 1 and kiosk.state()["state"] == "installing"
    central.offer(release)  # the retained offer again (a reconnect)
    for _ in range(3):
        kiosk.step()
    assert kiosk.installs == 1
