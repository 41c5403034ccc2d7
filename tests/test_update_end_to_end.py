"""A release from central to a booth, end to end, with every real part but systemd: central (intake and
dashboard, SQLite) keeps a signed release and an admin rolls it out; a real Mosquitto; an in-process booth
(`Kiosk`) hears the offer, fetches the wheels it lacks in chunks, stages them and asks the root side to
install; the root action is carried out by appliance.root_actions exactly as kiosk-actions.service does,
starting the guard as kiosk-update@.service would (here a plain subprocess: the booted-systemd version of the
install and trial is tests/test_install.py); the booth's heartbeat then tells central the trial and the
commit, and central completes the rollout. Counted in central's database, not on the wire."""

from __future__ import annotations

import platform
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from appliance.release.bundle import verify_bundle
from appliance.release.layout import ReleaseLayout
from appliance.root_actions import handle_requests, request_action
from central.tables import device_updates, rollout_booths, rollouts
from provisioning.toml_file import toml_text
from tests.central_web import roll_out, start_central
from tests.release_kit import release_bundle
from tests.support import Mosquitto, kiosk_config_data, wait_until

DEVICE = "test-kiosk-0001"


def test_central_rolls_a_release_out_and_the_booth_fetches_installs_and_commits_it(tmp_path, make_kiosk,
                                                                                     monkeypatch) -> None:
    key = Ed25519PrivateKey.generate()
    public = __import__("base64").b64encode(key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
    (tmp_path / "release.pub").write_text(public + "\n")
    bundle = release_bundle(tmp_path / "dist", "1.0.0", key, platform.machine())
    manifest = verify_bundle(bundle, key.public_key())

    broker = Mosquitto(tmp_path / "broker").start()
    central = start_central(broker.port, f"sqlite:///{tmp_path / 'central.sqlite3'}",
                            release_dir=tmp_path / "central-releases")
    central.intake.sweep_s = 0.3
    storage, opt = tmp_path / "state", tmp_path / "opt"
    updates = {"release_root": str(opt), "public_key_file": str(tmp_path / "release.pub"),
               "max_bytes_per_s": 1024 * 1024}
    config = tmp_path / "kiosk.toml"  # what the root side reads (KIOSK_CONFIG in kiosk-update@.service)
    config.write_text(toml_text(kiosk_config_data(storage, broker.port, updates=updates)))
    monkeypatch.setenv("KIOSK_CONFIG", str(config))
    try:
        booth = make_kiosk(broker.port, storage=storage, updates=updates)
        wait_until(lambda: central.intake.counts["status"] >= 1, timeout=20)
        rollout = roll_out(central, bundle, public, tmp_path / "central-releases", DEVICE)

        # The booth fetches what it lacks (everything: its store is empty) and asks the root side.
        actions = storage / "actions"
        wait_until(lambda: list(actions.glob("install-release-*.request")), timeout=60, interval=0.2)
        assert booth.fetcher.state()["fetched"] == booth.fetcher.state()["needed"] == manifest.total_bytes
        guard = (sys.executable, "-m", "appliance.release.guard")
        done = handle_requests(actions, {"install-release": (*guard, "install-staged")})
        assert done == [{"id": done[0]["id"], "action": "install-release", "ok": True}], done
        layout = ReleaseLayout(opt)
        assert layout.read_record().trial.version == "1.0.0"
        assert layout.target(layout.current) == layout.release_dir("1.0.0").resolve()

        def central_sees(state: str) -> bool:
            booth.trial.tick()
            booth.publish_heartbeat()
            with central.db.read() as conn:
                row = conn.execute(select(device_updates).where(device_updates.c.device == DEVICE)).mappings().first()
            return row is not None and (row["state"], row["version"]) == (state, "1.0.0")

        wait_until(lambda: central_sees("trial"), timeout=30, interval=1)
        # The release on trial proved healthy (here: said by the test, as the booth running it would).
        request_action(actions, "commit-1", "commit-release")
        assert handle_requests(actions, {"commit-release": (*guard, "commit")})[0]["ok"] is True
        assert layout.read_record().last.state == "committed"
        wait_until(lambda: central_sees("committed"), timeout=30, interval=1)
        with central.db.read() as conn:
            wait_until(lambda: conn.execute(select(rollouts.c.state).where(rollouts.c.id == rollout)).scalar()
                       == "completed", timeout=20)
            outcome = conn.execute(select(rollout_booths.c.outcome).where(rollout_booths.c.device == DEVICE)).scalar()
        assert outcome == "committed"
    finally:
        central.stop()
        broker.stop()
