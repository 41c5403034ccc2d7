"""Issue 17's proof "the booth killed during the download resumes", with real processes: a real Mosquitto, the real
central (intake and dashboard, SQLite) holding a signed release that an admin rolls out to the booth, and the booth
as `kiosk run --headless` in a process of its own, fetching slowly (`[updates] max_bytes_per_s`). The booth is
SIGKILLed with part of the product's wheel in its .part file, started again on the same state directory, and must
go on from there: only the rest travels (counted on the broker, where every chunk request passes), every staged
file hashes as the signed manifest says, and it asks the root side to install. Killed again right after asking, it
fetches nothing more and does not ask twice (the first request still waits: no root side runs here). Central's database
(`device_updates`, fed by the booth's heartbeats) follows it throughout.

The in-process twin, with a stand-in for central, is tests/test_release_fetch.py (a second fetcher after a stop)."""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from appliance.contract import device_topic
from appliance.release.bundle import Manifest, verify_bundle, verify_manifest
from appliance.release.guard import staged_release
from central.tables import device_updates
from tests.central_web import RunningCentral, roll_out, start_central
from tests.release_kit import release_bundle
from tests.release_sim import public_text
from tests.support import Collector, Mosquitto, Received, kiosk_config_data, wait_until, write_toml

DEVICE = "test-kiosk-0001"
VERSION = "1.0.0"
RATE = 64 * 1024  # the booth's max_bytes_per_s: one 64 KiB chunk a second
PADDING = 384 * 1024  # random bytes, written as hex into the product's (stored, uncompressed) wheel: ~768 KiB
KILL_AT = 3 * 64 * 1024  # the .part holds at least this much when the booth is killed (about 3 s in)


def start_booth(config: Path, log: Path) -> subprocess.Popen:
    """`kiosk run --headless`, as kiosk.service runs it; its log appended to `log` for a failure's diagnosis."""
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "appliance.cli", "run", "--headless", "--config", str(config)],
                                stdout=out, stderr=subprocess.STDOUT)


def kill(booth: subprocess.Popen) -> None:
    """A power cut as far as the process can tell: SIGKILL, nothing flushed or closed by it."""
    booth.send_signal(signal.SIGKILL)
    booth.wait(30)


def asked(wire: Collector) -> list[dict[str, Any]]:
    """Every chunk request the booth published, in the broker's order."""
    return [message.json() for message in wire.on("/release/request")]


def served(wire: Collector, requests: list[dict[str, Any]]) -> int:
    """The bytes central sent in answer to `requests`, each range once (a request asked again, or a late one of the
    killed booth's caught in `requests`, moves nothing new)."""
    ids = {request["request"] for request in requests}
    chunks = {(body["file"], body["offset"]): len(base64.b64decode(body["data"]))
              for body in map(Received.json, wire.on("/release/chunk")) if body["request"] in ids and "data" in body}
    return sum(chunks.values())


class CentralRecord:
    """What central's database says of the booth's update (`device_updates`), sampled every 0.1 s in a thread of
    its own: each distinct (state, version, fetched, needed) in the order central held them."""

    def __init__(self, central: RunningCentral) -> None:
        self.seen: list[tuple[Any, ...]] = []
        self._central, self._stop = central, threading.Event()
        self._thread = threading.Thread(target=self._sample, name="central-record", daemon=True)
        self._thread.start()

    def now(self) -> tuple[Any, ...] | None:
        with self._central.db.read() as conn:
            row = conn.execute(select(device_updates).where(device_updates.c.device == DEVICE)).mappings().first()
        return None if row is None else (row["state"], row["version"], row["fetched"], row["needed"])

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            row = self.now()
            if row is not None and (not self.seen or self.seen[-1] != row):
                self.seen.append(row)

    def downloading(self) -> list[int]:
        """`fetched` of every report of release VERSION under way (its size known: the fetcher has prepared)."""
        return [fetched for state, version, fetched, needed in self.seen
                if (state, version) == ("downloading", VERSION) and needed]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def staged_files(staging: Path, manifest: Manifest) -> dict[str, tuple[str, int, int]]:
    """Each manifest file as staged: (sha256, inode, mtime_ns), to see that it is right and, later, untouched."""
    found = {}
    for name in manifest.files:
        path = staging / name
        found[name] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_ino, path.stat().st_mtime_ns)
    return found


def test_a_booth_killed_mid_download_resumes_stages_and_asks_once_more_without_fetching(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    public = public_text(key)
    (tmp_path / "release.pub").write_text(public + "\n")
    padding = f'PAD = "{os.urandom(PADDING).hex()}"\n\n\ndef main():\n    print("trialapp", PAD[:8])\n'
    bundle = release_bundle(tmp_path / "dist", VERSION, key, platform.machine(), code=padding)
    manifest = verify_bundle(bundle, key.public_key())
    product = manifest.files[manifest.product]
    total, product_size = manifest.total_bytes, int(product["bytes"])

    storage = tmp_path / "state"
    staging = storage / "updates" / VERSION
    part = staging / (manifest.product + ".part")
    actions = storage / "actions"
    broker = Mosquitto(tmp_path / "broker").start()
    central = start_central(broker.port, f"sqlite:///{tmp_path / 'central.sqlite3'}",
                            release_dir=tmp_path / "central-releases")
    central.intake.sweep_s = 0.3
    wire = Collector(broker, topic=device_topic(DEVICE, "release/+"), client_id="release-wire")  # requests, chunks
    record = CentralRecord(central)
    updates = {"release_root": str(tmp_path / "opt"), "public_key_file": str(tmp_path / "release.pub"),
               "max_bytes_per_s": RATE}
    config = write_toml(tmp_path / "kiosk.toml", kiosk_config_data(storage, broker.port, updates=updates,
                                                                   heartbeat={"interval_s": 1}))
    log = tmp_path / "booth.log"
    booth = start_booth(config, log)
    try:
        wait_until(lambda: central.intake.counts["status"] >= 1, timeout=60, interval=0.2)
        roll_out(central, bundle, public, tmp_path / "central-releases", DEVICE)

        # First life: killed once a few chunks are on disk and central has heard of the download under way.
        wait_until(lambda: part.exists() and part.stat().st_size >= KILL_AT and record.downloading()
                   and max(record.downloading()) > 0, timeout=60, interval=0.05)
        kill(booth)
        started = time.monotonic()
        kept = part.stat().st_size
        asked_before = asked(wire)
        assert 0 < kept < product_size, f"killed with {kept} of {product_size} bytes: not mid-download"
        assert not (staging / "staged.json").exists() and not list(actions.glob("*.request"))

        # Second life, on the same state directory: it goes on from the .part and asks for the install.
        booth = start_booth(config, log)
        wait_until(lambda: list(actions.glob("install-release-*.request")), timeout=120, interval=0.05)
        kill(booth)  # right after asking, before anything else
        resumed_s = time.monotonic() - started
        asked_after = asked(wire)[len(asked_before):]

        # (b) It resumed: the first request of the second life starts where the .part ended, and the ranges
        # asked for (distinct: a request asked again after a timeout moves nothing new) are exactly the rest.
        assert (asked_after[0]["file"], asked_after[0]["offset"]) == (manifest.product, kept), asked_after[0]
        ranges = {(r["file"], r["offset"], r["length"]) for r in asked_after}
        assert sum(length for _, _, length in ranges) == total - kept, (ranges, total, kept)
        assert min(offset for name, offset, _ in ranges if name == manifest.product) == kept
        wait_until(lambda: served(wire, asked_after) == total - kept, timeout=30)  # what central sent: the rest

        # (a) Staged whole and right: every file as the signed manifest says, nothing half-fetched left, the
        # signature beside it, and the directory is the one the root side's installer would take.
        assert staged_release(storage / "updates") == staging
        assert verify_manifest((staging / "manifest.json").read_bytes(), (staging / "manifest.sig").read_bytes(),
                               key.public_key(), "staged") == manifest
        staged = staged_files(staging, manifest)
        assert {name: digest for name, (digest, _, _) in staged.items()} == \
            {name: entry["sha256"] for name, entry in manifest.files.items()}
        assert not list(staging.rglob("*.part"))

        # (c) Central followed it: `fetched` of the download under way, as its database held it, grew through both
        # lives and never went back (a fresh start would show a drop below what the .part kept).
        reported = record.downloading()
        assert reported == sorted(reported), reported
        assert any(0 < fetched <= kept for fetched in reported) and any(kept < fetched for fetched in reported)

        # Third life after a kill right after asking: nothing is fetched again, the staged files are not
        # touched, and the request still waiting is not made twice (no root side runs here to take it).
        before_third = len(asked(wire))
        asking = "asking the root side to install it"
        asked_so_far = log.read_text(errors="replace").count(asking)
        booth = start_booth(config, log)
        wait_until(lambda: log.read_text(errors="replace").count(asking) > asked_so_far, timeout=90, interval=0.1)
        assert len(list(actions.glob("install-release-*.request"))) == 1
        assert asked(wire)[before_third:] == []
        wait_until(lambda: (record.now() or ())[:2] == ("installing", VERSION), timeout=60, interval=0.2)
        assert staged_files(staging, manifest) == staged
        print(f"\nkilled with {kept} of {product_size} bytes of the product's wheel ({total} in all); "
              f"{len(asked_before)} chunk requests before the kill ({served(wire, asked_before)} bytes served), "
              f"{len(asked_after)} after ({served(wire, asked_after)} bytes served); resumed and staged "
              f"{resumed_s:.1f} s after the kill; central saw {record.seen}")
    finally:
        if booth.poll() is None:
            booth.send_signal(signal.SIGTERM)
            try:
                booth.wait(30)
            except subprocess.TimeoutExpired:
                kill(booth)
        record.stop()
        wire.close()
        central.stop()
        broker.stop()
