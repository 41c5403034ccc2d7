"""Central's side of fleet software updates (issue 17, point 3), against real parts: a real Mosquitto, central's
real intake and dashboard (tests.central_web) on SQLite and PostgreSQL, and booths simulated by plain MQTT
clients that publish what the contract says a booth publishes (births, heartbeats with an `update` block, chunk
requests) and keep what central sends them (retained offers, chunks). Bundles are small synthetic ones made
with the product's own write_bundle and sign_bundle (wheel-named files of random bytes).

Each refusal stands beside its matching success: a bundle with a flipped byte or a foreign key and the good
one; a wave held back and the wave offered once the one before committed; a rollback within the threshold and
one beyond it; chunk requests outside the offer, the manifest or the bounds and the good request; an admin
action without the role, outside the region or without the CSRF token and the admin's own, audited.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft202012Validator, ValidationError
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select, update

from appliance.contract import (
    MAX_RELEASE_CHUNK,
    encode,
    release_request_topic,
    stamped,
)
from appliance.release.build import sequence_of
from appliance.release.bundle import MANIFEST
from central.database import Database
from central.releases.chunks import ChunkServer
from central.releases.store import add_release
from central.settings import build_settings
from central.tables import audit_log, dead_letters, device_updates, devices, releases, rollout_booths, rollouts, users
from tests.central_web import RunningCentral, add_user, logged_in, start_central
from tests.release_sim import DEPENDENCY, PRODUCT, Bundle, SimBooth, make_bundle, public_text
from tests.support import Mosquitto, make_test_ca, new_postgres_database, wait_until

ROOT = Path(__file__).resolve().parent.parent
ASYNCAPI = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text())
KIOSK = [sys.executable, "-m", "appliance.cli", "central"]
XC = [f"xc-000{n}" for n in range(1, 7)]  # six booths of 西城区 (110102)
DC = ["dc-0001", "dc-0002"]  # two of 东城区 (110101)


def schema(name: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": ASYNCAPI["components"]})


def flipped(bundle: Path, name: str) -> Path:
    """A copy of `bundle` with one byte of the file `name` flipped (the signed manifest untouched)."""
    import tarfile

    with tarfile.open(bundle) as tar:
        at = tar.getmember(name).offset_data + 1000
    data = bytearray(bundle.read_bytes())
    data[at] ^= 0x01
    copy = bundle.with_name("flipped-" + bundle.name)
    copy.write_bytes(bytes(data))
    return copy


# -- the database, on SQLite and PostgreSQL ------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_cluster():
    from tests.support import Postgres

    cluster = Postgres().start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def central_db(request, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.sqlite3'}"
    return new_postgres_database(request.getfixturevalue("pg_cluster").url)


@dataclass
class Fleet:
    central: RunningCentral
    broker: Mosquitto
    booths: dict[str, SimBooth]
    release_dir: Path
    key: Ed25519PrivateKey
    work: Path
    clients: dict[str, httpx.Client]

    def client(self, user: str) -> httpx.Client:
        if user not in self.clients:
            self.clients[user] = logged_in(self.central.url, user)
        return self.clients[user]

    def add(self, version: str) -> tuple[int, Bundle]:
        """A release added as `kiosk central release add` adds it; its id and bundle."""
        bundle = make_bundle(self.work, version, self.key)
        settings = build_settings(release_dir=self.release_dir, release_key=public_text(self.key))
        return add_release(self.central.db, settings, bundle.path, "shell:publisher").id, bundle

    def start(self, release: int, user: str = "admin", waves: tuple[int, ...] = (100,), halt: float = 0,
              **target: Any) -> int:
        answer = self.client(user).post("/api/rollouts", json={"release": release, "target": target,
                                                                "waves": list(waves), "halt_above_pct": halt})
        assert answer.status_code == 200, answer.text
        return answer.json()["id"]

    def rollout(self, rollout_id: int) -> dict:
        with self.central.db.read() as conn:
            return dict(conn.execute(select(rollouts).where(rollouts.c.id == rollout_id)).mappings().one())

    def booth_rows(self, rollout_id: int) -> dict[str, dict]:
        with self.central.db.read() as conn:
            return {r["device"]: dict(r) for r in conn.execute(
                select(rollout_booths).where(rollout_booths.c.rollout == rollout_id)).mappings()}

    def wave(self, rollout_id: int, number: int) -> list[str]:
        return sorted(d for d, r in self.booth_rows(rollout_id).items() if r["wave"] == number)

    def audit(self, action: str) -> list[dict]:
        with self.central.db.read() as conn:
            return [dict(r) for r in conn.execute(select(audit_log).where(audit_log.c.action == action)
                                                  .order_by(audit_log.c.id)).mappings()]


@pytest.fixture
def fleet(tmp_path: Path, central_db: str):
    broker = Mosquitto(tmp_path / "broker").start()
    release_dir = tmp_path / "releases"
    central = start_central(broker.port, central_db, release_dir=release_dir)
    central.intake.sweep_s = 0.3  # rollouts judged every 0.3 s (5 s in production)
    booths = {device: SimBooth(broker, device, "110102") for device in XC}
    booths |= {device: SimBooth(broker, device, "110101") for device in DC}
    for booth in booths.values():
        booth.birth()
        booth.heartbeat(state="idle")
    wait_until(lambda: central.intake.counts["status"] >= len(booths) and central.intake.counts["heartbeat"]
               >= len(booths), timeout=20)
    add_user(central.db, "admin", "admin")
    add_user(central.db, "oper", "operator")
    add_user(central.db, "viewer", "viewer")
    add_user(central.db, "xc-oper", "operator", ("110102",))
    made = Fleet(central, broker, booths, release_dir, Ed25519PrivateKey.generate(), tmp_path, {})
    yield made
    for client in made.clients.values():
        client.close()
    for booth in booths.values():
        booth.close()
    central.stop()
    broker.stop()


# -- the release store ---------------------------------------------------------------------------------------
def kiosk(*args: Any) -> subprocess.CompletedProcess:
    return subprocess.run([*KIOSK, *map(str, args)], capture_output=True, text=True, timeout=120)


def test_add_refuses_a_flipped_byte_or_a_foreign_key_and_keeps_the_good_bundle(tmp_path: Path,
                                                                                central_db: str) -> None:
    key, foreign = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    (tmp_path / "release.pub").write_text("public key for the booths:\n" + public_text(key) + "\n")
    good = make_bundle(tmp_path, "1.5.0", key)
    strange = make_bundle(tmp_path, "1.5.0", foreign)
    store = tmp_path / "kept"
    add = ("release", "add", "--database", central_db, "--release-dir", store, "--release-key",
           tmp_path / "release.pub")

    broken = kiosk(*add, flipped(good.path, PRODUCT.format(version="1.5.0")))
    assert broken.returncode == 2 and "hash_mismatch" in broken.stderr, broken.stderr
    assert "kiosk_appliance-1.5.0-py3-none-any.whl is not the file the manifest signed" in broken.stderr
    signed_by_another = kiosk(*add, strange.path)
    assert signed_by_another.returncode == 2 and "bad_signature" in signed_by_another.stderr
    assert list(store.iterdir()) == [], "nothing refused is kept, not even half"
    listed = kiosk("release", "list", "--database", central_db)
    assert listed.returncode == 0 and "0 releases" in listed.stdout

    added = kiosk(*add, good.path)
    assert added.returncode == 0 and "added release 1.5.0" in added.stdout, added.stderr
    kept = store / "kiosk-1.5.0-aarch64.bundle"
    assert kept.read_bytes() == good.path.read_bytes()
    import tarfile

    with tarfile.open(good.path) as tar:
        manifest = tar.extractfile(MANIFEST).read()
        signature = tar.extractfile("manifest.sig").read().decode().strip()
        at = {name: tar.getmember(name).offset_data for name in good.files}
    db = Database(central_db)
    with db.read() as conn:
        row = conn.execute(select(releases)).mappings().one()
        line = conn.execute(select(audit_log).where(audit_log.c.action == "release_added")).mappings().one()
    assert (row["version"], row["sequence"], row["platform"]) == ("1.5.0", sequence_of("1.5.0"), "aarch64")
    assert bytes(row["manifest"]) == manifest and row["signature"] == signature
    assert {name: entry["at"] for name, entry in row["files"].items()} == at
    assert line["actor"].startswith("shell:") and line["target"] == "1.5.0" and line["details"]["files"] == 2

    again = kiosk(*add, good.path)
    assert again.returncode == 0 and "was there already" in again.stdout
    other = make_bundle(tmp_path, "1.5.0", key)  # the same version with other wheels
    clash = kiosk(*add, other.path)
    assert clash.returncode == 2 and "other content" in clash.stderr
    assert kept.read_bytes() == good.path.read_bytes()
    no_key = kiosk("release", "add", "--database", central_db, "--release-dir", store, "--release-key", "not a key",
                   good.path)
    assert no_key.returncode == 2 and "--release-key" in no_key.stderr
    listed = kiosk("release", "list", "--database", central_db)
    assert listed.returncode == 0 and "1.5.0" in listed.stdout and "1 releases" in listed.stdout
    db.engine.dispose()


# -- rollouts ------------------------------------------------------------------------------------------------
def test_wave_two_is_offered_only_once_every_booth_of_wave_one_committed(fleet: Fleet) -> None:
    release, bundle = fleet.add("1.5.0")
    rollout = fleet.start(release, waves=(50, 50), halt=40, region="110102")
    first, second = fleet.wave(rollout, 1), fleet.wave(rollout, 2)
    assert len(first) == len(second) == 3 and sorted(first + second) == XC

    wait_until(lambda: all(fleet.booths[d].offer for d in first))
    offer = fleet.booths[first[0]].offer
    schema("ReleaseOffer").validate(offer)
    import tarfile

    with tarfile.open(bundle.path) as tar:
        manifest = tar.extractfile(MANIFEST).read()
        signature = tar.extractfile("manifest.sig").read().decode().strip()
    assert base64.b64decode(offer["manifest"]) == manifest and offer["signature"] == signature
    fleet.key.public_key().verify(base64.b64decode(offer["signature"]), base64.b64decode(offer["manifest"]))
    assert (offer["version"], offer["sequence"], offer["rollout"]) == ("1.5.0", sequence_of("1.5.0"), rollout)

    fleet.booths[first[0]].heartbeat(state="committed", version="1.5.0")
    fleet.booths[first[1]].birth(software="1.5.0")  # came back running it: done as well
    fleet.booths[first[2]].heartbeat(state="trial", version="1.5.0", fetched=209_000, needed=209_000)
    wait_until(lambda: fleet.booth_rows(rollout)[first[2]]["acted_at"] is not None
               and fleet.booth_rows(rollout)[first[1]]["outcome"] == "committed")
    time.sleep(1)  # several more rounds of the rollouts' judge
    assert fleet.rollout(rollout)["wave"] == 1, "one booth of wave 1 is still on trial"
    assert all(fleet.booth_rows(rollout)[d]["offered_at"] is None for d in second)
    assert not any(fleet.booths[d].offers for d in second + DC), "nothing offered beyond wave 1"

    page = fleet.client("viewer").get(f"/api/rollouts/{rollout}").json()
    assert page["waves"][0] | {"committed": 2, "acting": 1, "booths": 3} == page["waves"][0]
    assert page["waves"][1]["waiting"] == 3 and page["state"] == "running"
    on_trial = next(b for b in page["booths"] if b["device"] == first[2])
    assert on_trial["stage"] == "acting" and on_trial["update"]["state"] == "trial"

    fleet.booths[first[2]].heartbeat(state="committed", version="1.5.0")
    wait_until(lambda: all(fleet.booths[d].offer for d in second), timeout=10)
    assert fleet.rollout(rollout)["wave"] == 2 and fleet.booths[second[0]].offer["rollout"] == rollout
    assert not any(fleet.booths[d].offers for d in DC), "the other region is not in this rollout"

    for device in second:
        fleet.booths[device].heartbeat(state="committed", version="1.5.0")
    wait_until(lambda: fleet.rollout(rollout)["state"] == "completed")
    summary = next(r for r in fleet.client("admin").get("/api/releases").json()["rollouts"] if r["id"] == rollout)
    assert [w["committed"] for w in summary["waves"]] == [3, 3]


def test_a_wave_rolling_back_beyond_the_threshold_halts_and_withdraws_what_no_booth_began(fleet: Fleet) -> None:
    release, _ = fleet.add("1.5.0")
    rollout = fleet.start(release, waves=(50, 50), halt=40, region="110102")
    first = fleet.wave(rollout, 1)
    wait_until(lambda: all(fleet.booths[d].offer for d in first))
    began, failing, idle = (fleet.booths[d] for d in first)

    began.fetch("1.5.0", DEPENDENCY)  # it began: fetched a file
    failing.heartbeat(state="rolled_back", version="1.5.0", reason="watchdog: the screen never drew")
    wait_until(lambda: fleet.booth_rows(rollout)[failing.device]["outcome"] == "rolled_back")
    time.sleep(1)
    assert fleet.rollout(rollout)["state"] == "running", "1 of 3 rolled back: within the 40 % threshold"

    began.heartbeat(state="rolled_back", version="1.5.0", reason="crashed at start: ImportError")
    wait_until(lambda: fleet.rollout(rollout)["state"] == "halted")
    halted = fleet.rollout(rollout)
    assert "2 of 3 booths rolled back" in halted["reason"] and halted["changed_by"] == "central"
    wait_until(lambda: idle.offers[-1] is None)  # the offer no booth acted on is withdrawn
    rows = fleet.booth_rows(rollout)
    assert rows[idle.device]["outcome"] == "withdrawn"
    assert rows[failing.device]["reason"] == "watchdog: the screen never drew"
    assert failing.offer is not None and began.offer is not None, "offers acted on stay"
    assert not any(fleet.booths[d].offers for d in fleet.wave(rollout, 2)), "wave 2 never offered"
    line = fleet.audit("rollout_halted")[-1]
    assert line["actor"] == "central" and line["target"] == str(rollout)
    assert line["details"]["failed"] == 2 and line["details"]["withdrawn"] == 1
    refused = idle.ask(version="1.5.0", file=DEPENDENCY, offset=0, length=1024)
    assert refused["error"].startswith("not_offered:"), "a withdrawn offer is served no more"
    answer = fleet.client("admin").post(f"/api/rollouts/{rollout}/resume", json={})
    assert answer.status_code == 409, "a halted rollout stays halted"


# -- chunks --------------------------------------------------------------------------------------------------
def test_a_booth_fetches_a_file_by_chunks_and_gets_the_bundles_bytes(fleet: Fleet) -> None:
    release, bundle = fleet.add("1.5.0")
    booth = fleet.booths["xc-0001"]
    fleet.start(release, devices=[booth.device])
    wait_until(lambda: booth.offer)
    product = PRODUCT.format(version="1.5.0")
    assert booth.fetch("1.5.0", product) == bundle.files[product]
    assert booth.fetch("1.5.0", DEPENDENCY, size=4096) == bundle.files[DEPENDENCY]
    chunks = [json.loads(raw) for raw in booth.raw_chunks]
    assert len(chunks) == 4 + 3  # 200,000 bytes in 64 KiB chunks, 9,000 in 4 KiB ones
    for chunk in chunks:
        schema("ReleaseChunk").validate(chunk)
    assert all(len(raw) < 90_000 for raw in booth.raw_chunks), "a chunk on the wire stays under 90 KB"

    resumed = booth.ask(version="1.5.0", file=product, offset=131_072, length=MAX_RELEASE_CHUNK)
    assert base64.b64decode(resumed["data"]) == bundle.files[product][131_072:196_608], "resumed mid-file"
    tail = booth.ask(version="1.5.0", file=product, offset=199_990, length=MAX_RELEASE_CHUNK)
    assert base64.b64decode(tail["data"]) == bundle.files[product][199_990:] and tail["total"] == 200_000


def test_requests_outside_the_offer_the_manifest_or_the_bounds_are_refused_with_a_reason(fleet: Fleet) -> None:
    release, bundle = fleet.add("1.5.0")
    fleet.add("1.6.0")  # held by central, offered to no one
    booth, neighbour = fleet.booths["xc-0001"], fleet.booths["xc-0002"]
    fleet.start(release, devices=[booth.device])
    wait_until(lambda: booth.offer)
    good = {"version": "1.5.0", "file": DEPENDENCY, "offset": 0, "length": 1024}

    def refused(asker: SimBooth = booth, **changed: Any) -> str:
        answer = asker.ask(**(good | changed))
        schema("ReleaseChunk").validate(answer)
        assert "data" not in answer, answer
        return answer["error"]

    served = booth.ask(**good)
    assert base64.b64decode(served["data"]) == bundle.files[DEPENDENCY][:1024]
    assert refused(neighbour).startswith("not_offered:"), "not offered to this booth"
    assert refused(version="1.6.0").startswith("not_offered:"), "a release central holds, offered to no one here"
    assert refused(file="wheels/evil-6.6.6-py3-none-any.whl").startswith("unlisted_file:")
    assert refused(file="../../../etc/passwd").startswith("bad_request:")
    assert refused(version="1.5").startswith("bad_request:")
    assert refused(length=MAX_RELEASE_CHUNK + 1).startswith("bad_length:")
    assert refused(length=0).startswith("bad_length:")
    assert refused(length=2**40).startswith("bad_length:"), "no gigabytes"
    assert refused(offset=-1).startswith("bad_offset:")
    assert refused(offset=9_000).startswith("bad_offset:"), "past the end of a 9,000-byte file"
    assert refused(offset="0").startswith("bad_offset:")
    last = booth.ask(**(good | {"offset": 8_999}))
    assert base64.b64decode(last["data"]) == bundle.files[DEPENDENCY][8_999:], "the last byte, beside the refusal"
    kept = fleet.release_dir / "kiosk-1.5.0-aarch64.bundle"
    kept.rename(kept.with_suffix(".away"))  # an instance whose --release-dir lacks the bundle
    assert refused().startswith("unavailable:")
    kept.with_suffix(".away").rename(kept)
    assert base64.b64decode(booth.ask(**good)["data"]) == bundle.files[DEPENDENCY][:1024]

    oversized = stamped(booth.device, True, {"request": "big", **good, "pad": "x" * 4096})
    booth.client.publish(release_request_topic(booth.device), encode(oversized), qos=1).wait_for_publish(10)
    def dead_letter() -> str | None:
        with fleet.central.db.read() as conn:
            return conn.execute(select(dead_letters.c.reason).where(dead_letters.c.device == booth.device)).scalar()

    reason = wait_until(dead_letter, timeout=10)
    assert "over the 2048 byte limit" in reason and "big" not in booth.chunks, "bounded before it is parsed"

    # One booth cannot make central read without end: at most --release-bytes-per-s, here 64 KiB a second.
    fleet.central.intake.recorder.chunks = ChunkServer(fleet.release_dir, MAX_RELEASE_CHUNK)
    product = PRODUCT.format(version="1.5.0")
    started = time.monotonic()
    asked = [booth.ask(wait=False, request=f"flood-{n}", version="1.5.0", file=product, offset=0,
                       length=MAX_RELEASE_CHUNK) for n in range(12)]
    assert asked == [None] * 12
    answers = wait_until(lambda: len([r for r in booth.chunks if r.startswith("flood-")]) == 12 and
                         [booth.chunks[f"flood-{n}"] for n in range(12)], timeout=15)
    served = [a for a in answers if "data" in a]
    busy = [a for a in answers if a.get("error", "").startswith("busy:")]
    assert len(served) + len(busy) == 12 and busy and served
    assert len(served) <= 2 + (time.monotonic() - started) + 1, "the burst (2 chunks) and 1 chunk a second"


# -- what booths report ---------------------------------------------------------------------------------------
def test_a_bad_update_block_is_refused_alone_and_the_fleet_view_goes_on(fleet: Fleet) -> None:
    booth = fleet.booths["xc-0003"]

    def row() -> dict:
        with fleet.central.db.read() as conn:
            return dict(conn.execute(select(device_updates).where(device_updates.c.device == booth.device))
                        .mappings().one())

    def heard() -> float:
        with fleet.central.db.read() as conn:
            return conn.execute(select(devices.c.last_heartbeat_at).where(devices.c.id == booth.device)).scalar()

    good = {"state": "downloading", "version": "1.5.0", "reason": None, "fetched": 65_536, "needed": 209_000}
    schema("UpdateReport").validate(good)
    booth.heartbeat(good)
    wait_until(lambda: row()["state"] == "downloading")
    assert row()["fetched"] == 65_536 and row()["problem"] is None
    since = row()["since"]
    booth.heartbeat(good | {"fetched": 131_072})
    wait_until(lambda: row()["fetched"] == 131_072)
    assert row()["since"] == since, "the same state: still downloading since then"

    bad_blocks = [good | {"state": "exploded"}, good | {"fetched": -1}, good | {"version": "1.5"},
                  good | {"reason": "x" * 201}, good | {"needed": True}, "downloading", {"state": "idle"}]
    for bad in bad_blocks:
        before, kept = heard(), row()
        booth.heartbeat(bad)
        wait_until(lambda before=before: heard() > before, timeout=10)  # the heartbeat itself is recorded
        problem = wait_until(lambda: row()["problem"], timeout=10)
        assert "heartbeat update" in problem, problem
        assert {k: row()[k] for k in ("state", "version", "fetched", "since")} == \
            {k: kept[k] for k in ("state", "version", "fetched", "since")}, "what it said last stays"
        with pytest.raises(ValidationError):  # the contract refuses it too
            schema("UpdateReport").validate(bad)
        assert fleet.client("viewer").get("/api/fleet").status_code == 200
        shown = next(b for b in fleet.client("viewer").get("/api/releases").json()["booths"]
                     if b["device"] == booth.device)
        assert shown["update"]["problem"] == problem and shown["update"]["state"] == "downloading"
        booth.heartbeat(good)
        wait_until(lambda: row()["problem"] is None)


# -- admin actions ---------------------------------------------------------------------------------------------
def test_each_admin_action_needs_the_role_the_region_and_the_csrf_token_and_is_audited(fleet: Fleet) -> None:
    release, _ = fleet.add("1.5.0")
    # Accounts refuse an admin limited to regions (admins see every region); this one is written into the table
    # to prove that the rollout actions check the regions themselves, not only the role.
    add_user(fleet.central.db, "xc-admin", "operator", ("110102",))
    with fleet.central.db.transaction() as conn:
        conn.execute(update(users).where(users.c.name == "xc-admin").values(role="admin"))
    body = {"release": release, "target": {"region": "110101"}, "waves": [100], "halt_above_pct": 0}
    no_csrf = httpx.Client(base_url=fleet.central.url)
    assert no_csrf.post("/api/login", json={"username": "admin", "password": "correct horse battery"}).is_success

    def count(action: str) -> int:
        return len(fleet.audit(action))

    assert fleet.client("viewer").post("/api/rollouts", json=body).status_code == 403
    assert fleet.client("oper").post("/api/rollouts", json=body).status_code == 403
    assert no_csrf.post("/api/rollouts", json=body).status_code == 403
    assert fleet.client("xc-admin").post("/api/rollouts", json=body).status_code == 404, "outside its region"
    assert fleet.client("xc-admin").post("/api/rollouts", json=body | {"target": {"devices": DC}}).status_code == 404
    assert count("rollout_started") == 0
    with fleet.central.db.read() as conn:
        assert conn.execute(select(rollouts.c.id)).all() == []
    started = fleet.client("admin").post("/api/rollouts", json=body)
    assert started.status_code == 200 and started.json()["state"] == "running"
    rollout = started.json()["id"]
    line = fleet.audit("rollout_started")[-1]
    assert (line["actor"], line["target"], line["address"]) == ("admin", str(rollout), "127.0.0.1")
    assert line["details"] | {"booths": 2, "version": "1.5.0"} == line["details"]
    assert fleet.client("admin").post("/api/rollouts", json=body).status_code == 409, "its booths are taken"
    local = fleet.client("xc-admin").post("/api/rollouts", json=body | {"target": {"region": "110102",
                                                                                     "percent": 50}})
    assert local.status_code == 200 and local.json()["booth_count"] == 3, "half of its own region"

    for verb, state, action in (("pause", "paused", "rollout_paused"), ("resume", "running", "rollout_resumed"),
                                ("halt", "halted", "rollout_halted")):
        path = f"/api/rollouts/{rollout}/{verb}"
        assert fleet.client("viewer").post(path, json={}).status_code == 403, verb
        assert fleet.client("oper").post(path, json={}).status_code == 403, verb
        assert no_csrf.post(path, json={}).status_code == 403, verb
        assert fleet.client("xc-admin").post(path, json={}).status_code == 404, verb
        assert fleet.rollout(rollout)["state"] != state and count(action) == 0
        done = fleet.client("admin").post(path, json={"reason": "版本有误 wrong build"} if verb == "halt" else {})
        assert done.status_code == 200 and done.json()["state"] == state, done.text
        lines = fleet.audit(action)
        assert len(lines) == 1 and lines[0]["actor"] == "admin" and lines[0]["target"] == str(rollout)
    assert fleet.rollout(rollout)["reason"] == "版本有误 wrong build"
    assert fleet.client("admin").post(f"/api/rollouts/{rollout}/pause", json={}).status_code == 409
    wait_until(lambda: all(fleet.booths[d].offers and fleet.booths[d].offer is None for d in DC))  # withdrawn

    # What a regional user reads is their region's: the 东城 rollout does not exist for them.
    assert fleet.client("xc-oper").get(f"/api/rollouts/{rollout}").status_code == 404
    assert fleet.client("oper").get(f"/api/rollouts/{rollout}").status_code == 200
    mine = fleet.client("xc-oper").get("/api/releases").json()
    assert [r["id"] for r in mine["rollouts"]] == [local.json()["id"]]
    assert {b["region"] for b in mine["booths"]} == {"110102"}


def test_the_production_acl_lets_a_booth_ask_and_hear_only_its_own(tmp_path: Path) -> None:
    """central/mosquitto/kiosk.acl: a booth writes its own chunk requests and reads its own offer and chunks;
    central reads the requests and writes offers and chunks; no booth writes an offer or reads another's."""
    tls = make_test_ca(tmp_path / "tls", "kiosk-a")
    broker = Mosquitto(tmp_path / "broker", tls=tls, production=True).start()
    heard: dict[str, list[tuple[str, bytes]]] = {}
    acks: dict[str, dict[int, int]] = {}
    clients = {}
    try:
        for name in ("central-1", "kiosk-a", "kiosk-b"):
            cert, key = tls.issue(name)
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
            client.tls_set(ca_certs=str(tls.ca), certfile=str(cert), keyfile=str(key))
            heard[name], acks[name] = [], {}
            client.on_message = lambda _c, _u, m, name=name: heard[name].append((m.topic, m.payload))
            client.on_publish = lambda _c, _u, mid, reason, _p, name=name: acks[name].__setitem__(mid, reason.value)
            client.connect("localhost", broker.port)
            client.loop_start()
            clients[name] = client

        def publish(name: str, topic: str, retain: bool = False) -> int:
            """The PUBACK's reason code: 0 accepted, 135 not authorised."""
            mid = clients[name].publish(topic, b"{}", qos=1, retain=retain).mid
            wait_until(lambda: mid in acks[name], timeout=5)
            return acks[name][mid]

        clients["central-1"].subscribe("$share/central/kiosk/v1/+/release/request", qos=1)
        for booth in ("kiosk-a", "kiosk-b"):
            clients[booth].subscribe([("kiosk/v1/+/release/offer", 1), ("kiosk/v1/+/release/chunk", 1)])
        time.sleep(0.5)
        assert publish("kiosk-a", "kiosk/v1/kiosk-a/release/request") == 0
        assert publish("kiosk-a", "kiosk/v1/kiosk-b/release/request") == 135, "not as another booth"
        assert publish("kiosk-a", "kiosk/v1/kiosk-a/release/offer", retain=True) == 135, "no booth offers releases"
        assert publish("kiosk-a", "kiosk/v1/kiosk-b/release/chunk") == 135
        wait_until(lambda: [t for t, _ in heard["central-1"]] == ["kiosk/v1/kiosk-a/release/request"])
        assert publish("central-1", "kiosk/v1/kiosk-b/release/offer", retain=True) == 0
        assert publish("central-1", "kiosk/v1/kiosk-b/release/chunk") == 0
        wait_until(lambda: sorted(t for t, _ in heard["kiosk-b"]) == ["kiosk/v1/kiosk-b/release/chunk",
                                                                     "kiosk/v1/kiosk-b/release/offer"])
        time.sleep(0.5)
        assert heard["kiosk-a"] == [], "booth A hears nothing of booth B's release"
    finally:
        for client in clients.values():
            client.loop_stop()
            client.disconnect()
        broker.stop()
